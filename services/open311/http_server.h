// The HTTP(S) server of the Open311 port, on Boost.Beast: a few I/O threads read and write every
// connection asynchronously, and a pool of workers runs the handler (which waits on gRPC), so
// that a slow call holds a worker and not a connection's thread. Bounded everywhere: request head
// and body sizes, the time to send a request, idle keep-alive time, open connections.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/open311/gateway.h"

namespace meldpunt::open311 {

struct HttpServerOptions {
  std::string listen = "127.0.0.1:0";
  int threads = 2;
  int workers = 16;
  size_t body_limit = 64 * 1024;
  size_t header_limit = 8 * 1024;
  absl::Duration header_timeout = absl::Seconds(10);
  absl::Duration idle_timeout = absl::Seconds(60);
  int max_connections = 1024;
  // HTTPS when set (PEM files); with a client CA, a client may present a certificate it signed.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  // The header that carries a client's idempotency key (HttpRequest::idempotency_key).
  std::string idempotency_header = "Idempotency-Key";
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  // `on_connections` (may be empty) hears the number of open connections when it changes.
  HttpServer(HttpServerOptions options, Handler handler,
             std::function<void(int)> on_connections = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds (port 0 picks a free one) and serves in the background.
  absl::Status Start();
  // Stops accepting, lets the requests under way finish for up to `grace`, then closes all.
  void Stop(absl::Duration grace);
  int port() const { return port_; }

  struct Impl;  // the io_context, acceptor and workers (http_server.cc)

 private:
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace meldpunt::open311
