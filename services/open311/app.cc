#include "services/open311/app.h"

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/observability/admin_server.h"
#include "libs/observability/log.h"

namespace meldpunt::open311 {

GatewayApp::GatewayApp(GatewayConfig config)
    : config_(std::move(config)), registry_(std::make_shared<prometheus::Registry>()) {}

GatewayApp::~GatewayApp() { Stop(); }

int GatewayApp::admin_port() const { return admin_ ? admin_->port() : 0; }

bool GatewayApp::Ready() { return http_ != nullptr && intake_ != nullptr && intake_->Healthy(); }

absl::Status GatewayApp::Start() {
  absl::StatusOr<std::unique_ptr<catalog::CatalogFile>> catalog =
      catalog::CatalogFile::Open(config_.catalog_file);
  if (!catalog.ok()) return catalog.status();
  catalog_ = *std::move(catalog);
  absl::StatusOr<std::unique_ptr<ApiKeyFile>> keys = ApiKeyFile::Open(config_.api_keys_file);
  if (!keys.ok()) return keys.status();
  keys_ = *std::move(keys);
  absl::StatusOr<std::unique_ptr<auth::Guard>> guard =
      auth::Guard::Create(config_.Security(), registry_.get());
  if (!guard.ok()) return guard.status();
  guard_ = *std::move(guard);
  absl::StatusOr<std::unique_ptr<IntakeClient>> intake = IntakeClient::Create(config_);
  if (!intake.ok()) return intake.status();
  intake_ = *std::move(intake);

  GatewayOptions options;
  options.base_url = config_.base_url;
  options.jurisdiction_id = config_.jurisdiction_id;
  options.contact = config_.contact;
  options.key_service = config_.key_service;
  options.changeset = W3cTime(absl::Now());
  options.rate_limit = config_.rate_limit;
  options.rate_burst = static_cast<double>(config_.rate_burst);
  gateway_ = std::make_unique<Gateway>(options, catalog_.get(), keys_.get(), guard_.get(),
                                       intake_.get(), registry_.get());

  HttpServerOptions http;
  http.listen = config_.http_listen;
  http.threads = static_cast<int>(config_.http_threads);
  http.workers = static_cast<int>(config_.http_workers);
  http.body_limit = static_cast<size_t>(config_.http_body_limit);
  http.header_limit = static_cast<size_t>(config_.http_header_limit);
  http.header_timeout = config_.http_header_timeout;
  http.idle_timeout = config_.http_idle_timeout;
  http.max_connections = static_cast<int>(config_.http_max_connections);
  http.tls_cert_file = config_.http_tls_cert_file;
  http.tls_key_file = config_.http_tls_key_file;
  http.tls_client_ca_file = config_.http_tls_client_ca_file;
  http.idempotency_header = config_.idempotency_header;
  prometheus::Gauge* connections = &prometheus::BuildGauge()
                                        .Name("meldpunt_open311_connections")
                                        .Help("open HTTP connections of the Open311 port")
                                        .Register(*registry_)
                                        .Add({});
  http_ = std::make_unique<HttpServer>(
      http, [this](const HttpRequest& request) { return gateway_->Handle(request); },
      [connections](int open) { connections->Set(open); });
  if (absl::Status started = http_->Start(); !started.ok()) return started;

  admin_ = std::make_unique<observability::AdminServer>(registry_, [this] { return Ready(); });
  if (absl::Status started = admin_->Start(config_.admin_listen); !started.ok()) return started;

  if (config_.http_plaintext_loopback) {
    log::Warning("the Open311 port is plain HTTP on loopback (development only)");
  }
  if (guard_->open()) {
    log::Warning(
        "the Open311 port checks no bearer tokens or client certificates (development only); "
        "callers are known by their api_key");
  }
  log::Info("open311 gateway serving",
            {{"http", absl::StrCat(config_.http_listen.substr(0, config_.http_listen.rfind(':')),
                                   ":", http_->port())},
             {"admin_port", admin_->port()},
             {"intake", config_.intake_address}});
  return absl::OkStatus();
}

void GatewayApp::Stop() {
  if (http_ != nullptr) {
    http_->Stop(config_.shutdown_grace);
    http_.reset();
  }
  if (admin_ != nullptr) {
    admin_->Stop();
    admin_.reset();
  }
}

}  // namespace meldpunt::open311
