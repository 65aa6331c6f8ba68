// The raw HTTP ceilings for `tools/dev bench open311`: a POST answered at once with an Open311
// answer of the same size, by the same Boost.Beast server the gateway runs (services/open311's
// HttpServer, with the same threads and workers), or by cpp-httplib (the admin ports' library),
// to see how its thread per connection holds under load. Prints "port=N", serves until killed.
//
//   bare_http_server --library beast|httplib [--threads 2] [--workers 16]
#include <httplib.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/time/clock.h"
#include "services/open311/http_server.h"

namespace {

constexpr char kAnswer[] =
    R"([{"service_request_id":"MP-2026-BARE00000","token":"o311-0000000000000000000000000000000000000000"}])";

}  // namespace

int main(int argc, char** argv) {
  std::string library = "beast";
  int threads = 2, workers = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--library")) library = argv[i + 1];
    if (!std::strcmp(argv[i], "--threads")) threads = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--workers")) workers = std::stoi(argv[i + 1]);
  }
  if (library == "httplib") {
    httplib::Server server;
    server.Post("/open311/v2/requests.json", [](const httplib::Request&, httplib::Response& res) {
      res.status = 201;
      res.set_content(kAnswer, "application/json; charset=utf-8");
    });
    const int port = server.bind_to_any_port("127.0.0.1");
    std::printf("port=%d\n", port);
    std::fflush(stdout);
    server.listen_after_bind();
    return 0;
  }
  meldpunt::open311::HttpServerOptions options;
  options.threads = threads;
  options.workers = workers;
  meldpunt::open311::HttpServer server(options, [](const meldpunt::open311::HttpRequest&) {
    meldpunt::open311::HttpResponse response;
    response.status = 201;
    response.content_type = "application/json; charset=utf-8";
    response.body = kAnswer;
    return response;
  });
  if (!server.Start().ok()) return 1;
  std::printf("port=%d\n", server.port());
  std::fflush(stdout);
  while (true) absl::SleepFor(absl::Hours(1));
}
