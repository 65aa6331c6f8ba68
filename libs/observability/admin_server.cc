#include "libs/observability/admin_server.h"

#include <httplib.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/observability/thread_name.h"
#include "prometheus/text_serializer.h"

namespace meldpunt::observability {

std::string RenderMetrics(prometheus::Registry& registry) {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry.Collect());
}

AdminServer::AdminServer(std::shared_ptr<prometheus::Registry> registry,
                         std::function<bool()> ready)
    : registry_(std::move(registry)),
      ready_(std::move(ready)),
      server_(std::make_unique<httplib::Server>()) {
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(RenderMetrics(*registry_), "text/plain; version=0.0.4");
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    if (ready_ && ready_()) {
      res.set_content("ready\n", "text/plain");
    } else {
      res.status = 503;
      res.set_content("not ready\n", "text/plain");
    }
  });
}

AdminServer::~AdminServer() { Stop(); }

absl::Status AdminServer::Start(const std::string& listen) {
  size_t colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(absl::StrCat("admin.listen '", listen, "' is not host:port"));
  }
  std::string host = listen.substr(0, colon);
  if (port == 0) {
    port_ = server_->bind_to_any_port(host);
  } else {
    port_ = server_->bind_to_port(host, port) ? port : -1;
  }
  if (port_ <= 0) {
    return absl::UnavailableError(absl::StrCat("admin HTTP server cannot listen on ", listen));
  }
  thread_ = std::thread([this] {
    NameThread("mp-admin-http");
    server_->listen_after_bind();
  });
  return absl::OkStatus();
}

void AdminServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace meldpunt::observability
