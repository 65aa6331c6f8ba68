#include "services/open311/http_server.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/observability/log.h"
#include "libs/observability/thread_name.h"

namespace meldpunt::open311 {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::chrono::steady_clock::duration Chrono(absl::Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(d));
}

const char* Reason(int status) {
  return http::obsolete_reason(static_cast<http::status>(status)).data();
}

// A short answer written by the server itself (not the handler): a request it could not read.
HttpResponse Refusal(int status, const std::string& why) {
  return ErrorResponse(status, why, Format::kJson);
}

std::string PeerCertificatePem(SSL* ssl) {
  X509* cert = SSL_get_peer_certificate(ssl);
  if (cert == nullptr) return "";
  std::string pem;
  if (SSL_get_verify_result(ssl) == X509_V_OK) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (bio != nullptr && PEM_write_bio_X509(bio, cert) == 1) {
      char* data = nullptr;
      const long size = BIO_get_mem_data(bio, &data);
      if (size > 0) pem.assign(data, static_cast<size_t>(size));
    }
    BIO_free(bio);
  }
  X509_free(cert);
  return pem;
}

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  Handler handler;
  std::function<void(int)> on_connections;
  asio::io_context io;
  std::optional<asio::ssl::context> tls;
  tcp::acceptor acceptor{io};
  std::unique_ptr<asio::thread_pool> workers;
  std::vector<std::thread> threads;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::atomic<int> connections{0};
  std::atomic<bool> stopping{false};

  Impl(HttpServerOptions o, Handler h, std::function<void(int)> c)
      : options(std::move(o)),
        handler(std::move(h)),
        on_connections(std::move(c)),
        io(std::max(1, options.threads)) {}

  void Accept();
  void Counted(int delta) {
    const int now = connections.fetch_add(delta) + delta;
    if (on_connections) on_connections(now);
  }
};

namespace {

// One connection's requests, one after the other (HTTP/1.1 keep-alive, no pipelining of
// answers). `Derived` gives the stream: plain TCP or TLS over it.
template <class Derived>
class Session {
 public:
  Session(HttpServer::Impl* server, std::string peer) : server_(server), peer_(std::move(peer)) {
    server_->Counted(+1);
  }
  ~Session() { server_->Counted(-1); }

 protected:
  Derived& derived() { return static_cast<Derived&>(*this); }

  void Read() {
    parser_.emplace();
    parser_->body_limit(server_->options.body_limit);
    parser_->header_limit(static_cast<std::uint32_t>(server_->options.header_limit));
    beast::get_lowest_layer(derived().stream())
        .expires_after(
            Chrono(first_ ? server_->options.header_timeout : server_->options.idle_timeout));
    http::async_read(derived().stream(), buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, derived().shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      return derived().Close();
    }
    if (ec == http::error::body_limit) {
      return Write(
          Refusal(413, absl::StrCat("body: larger than ", server_->options.body_limit, " bytes")),
          /*keep_alive=*/false, /*head=*/false);
    }
    if (ec == http::error::header_limit) {
      return Write(Refusal(431, absl::StrCat("headers: larger than ", server_->options.header_limit,
                                             " bytes")),
                   false, false);
    }
    if (ec) {
      if (ec.category() == beast::error_code(http::error::bad_target).category()) {
        return Write(Refusal(400, "request: not HTTP/1.1 this server can read"), false, false);
      }
      return derived().Close();
    }
    http::request<http::string_body> req = parser_->release();
    HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    const auto header = [&](beast::string_view name) -> std::string {
      auto it = req.find(name);
      return it == req.end() ? std::string() : std::string(it->value());
    };
    request.content_type = header("Content-Type");
    request.authorization = header("Authorization");
    request.accept_language = header("Accept-Language");
    if (auto it = req.find(server_->options.idempotency_header); it != req.end()) {
      request.idempotency_key = std::string(it->value());
    }
    request.client_certificate_pem = certificate_;
    request.peer = peer_;
    request.body = std::move(req.body());
    const bool keep_alive = req.keep_alive();
    const bool head = req.method() == http::verb::head;
    // The handler may wait on the intake: it runs on a worker, and its answer is written from
    // this connection's strand. No timer runs meanwhile (the intake call has its own deadline).
    beast::get_lowest_layer(derived().stream()).expires_never();
    auto self = derived().shared_from_this();
    asio::post(*server_->workers, [self, request = std::move(request), keep_alive, head]() mutable {
      HttpResponse response;
      try {
        response = self->server_->handler(request);
      } catch (const std::exception& e) {
        log::Error("open311 handler failed", {{"error", e.what()}});
        response = Refusal(500, "internal error");
      }
      asio::dispatch(self->derived().stream().get_executor(),
                     [self, response = std::move(response), keep_alive, head]() mutable {
                       self->Write(std::move(response), keep_alive, head);
                     });
    });
  }

  void Write(HttpResponse response, bool keep_alive, bool head) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(response.status));
    res->set(http::field::server, "meldpunt-open311");
    if (!response.content_type.empty()) res->set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) res->set(name, value);
    res->keep_alive(keep_alive && !server_->stopping.load());
    if (head) {
      res->content_length(response.body.size());
    } else {
      res->body() = std::move(response.body);
      res->prepare_payload();
    }
    const bool close = !res->keep_alive();
    beast::get_lowest_layer(derived().stream())
        .expires_after(Chrono(server_->options.header_timeout));
    http::async_write(
        derived().stream(), *res,
        [self = derived().shared_from_this(), res, close](beast::error_code ec, std::size_t) {
          if (ec || close) return self->derived().Close();
          self->first_ = false;
          self->Read();
        });
  }

  HttpServer::Impl* server_;
  std::string peer_;
  std::string certificate_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool first_ = true;
};

class PlainSession : public Session<PlainSession>,
                     public std::enable_shared_from_this<PlainSession> {
 public:
  PlainSession(HttpServer::Impl* server, tcp::socket&& socket, std::string peer)
      : Session(server, std::move(peer)), stream_(std::move(socket)) {}
  void Run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&PlainSession::Read, shared_from_this()));
  }
  beast::tcp_stream& stream() { return stream_; }
  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

 private:
  friend class Session<PlainSession>;
  beast::tcp_stream stream_;
};

class TlsSession : public Session<TlsSession>, public std::enable_shared_from_this<TlsSession> {
 public:
  TlsSession(HttpServer::Impl* server, tcp::socket&& socket, asio::ssl::context& tls,
             std::string peer)
      : Session(server, std::move(peer)), stream_(std::move(socket), tls) {}
  void Run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      beast::get_lowest_layer(self->stream_)
          .expires_after(Chrono(self->server_->options.header_timeout));
      self->stream_.async_handshake(asio::ssl::stream_base::server, [self](beast::error_code ec) {
        if (ec) return;  // not TLS, or a certificate refused
        self->certificate_ = PeerCertificatePem(self->stream_.native_handle());
        self->Read();
      });
    });
  }
  beast::ssl_stream<beast::tcp_stream>& stream() { return stream_; }
  void Close() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
  }

 private:
  friend class Session<TlsSession>;
  beast::ssl_stream<beast::tcp_stream> stream_;
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (stopping.load() || ec == asio::error::operation_aborted) return;
      log::Warning("open311 accept failed", {{"error", ec.message()}});
    } else if (connections.load() >= options.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);  // over the limit: closed at once
    } else {
      beast::error_code peer_ec;
      const tcp::endpoint peer = socket.remote_endpoint(peer_ec);
      std::string address = peer_ec ? "" : peer.address().to_string();
      if (tls) {
        std::make_shared<TlsSession>(this, std::move(socket), *tls, std::move(address))->Run();
      } else {
        std::make_shared<PlainSession>(this, std::move(socket), std::move(address))->Run();
      }
    }
    if (!stopping.load()) Accept();
  });
}

HttpServer::HttpServer(HttpServerOptions options, Handler handler,
                       std::function<void(int)> on_connections)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler),
                                   std::move(on_connections))) {}

HttpServer::~HttpServer() { Stop(absl::ZeroDuration()); }

absl::Status HttpServer::Start() {
  Impl& s = *impl_;
  if (!s.options.tls_cert_file.empty()) {
    try {
      s.tls.emplace(asio::ssl::context::tls_server);
      s.tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                         asio::ssl::context::no_tlsv1_1);
      s.tls->use_certificate_chain_file(s.options.tls_cert_file);
      s.tls->use_private_key_file(s.options.tls_key_file, asio::ssl::context::pem);
      if (!s.options.tls_client_ca_file.empty()) {
        s.tls->load_verify_file(s.options.tls_client_ca_file);
        // Asked for, not required: a caller may use an API key or a token instead. A
        // certificate that is shown must verify.
        s.tls->set_verify_mode(asio::ssl::verify_peer);
      }
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("http.tls: cannot load the certificate, key or client CA: ", e.what()));
    }
  }
  const std::string& listen = s.options.listen;
  const size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(absl::StrCat("http.listen: not host:port: ", listen));
  }
  beast::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("http.listen: the host must be an IP address: ", host));
  }
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("http.listen: cannot listen on ", listen, ": ", ec.message()));
  }
  port_ = s.acceptor.local_endpoint().port();
  s.workers = std::make_unique<asio::thread_pool>(std::max(1, s.options.workers));
  s.work.emplace(s.io.get_executor());
  s.Accept();
  for (int i = 0; i < std::max(1, s.options.threads); ++i) {
    s.threads.emplace_back([&s] {
      observability::NameThread("mp-http");
      s.io.run();
    });
  }
  return absl::OkStatus();
}

void HttpServer::Stop(absl::Duration grace) {
  Impl& s = *impl_;
  if (s.threads.empty()) return;
  s.stopping.store(true);
  asio::post(s.io, [&s] {
    beast::error_code ec;
    s.acceptor.close(ec);
  });
  // Requests under way finish and their connections close (no keep-alive while stopping).
  const absl::Time until = absl::Now() + grace;
  while (s.connections.load() > 0 && absl::Now() < until) absl::SleepFor(absl::Milliseconds(20));
  s.work.reset();
  s.io.stop();
  for (std::thread& t : s.threads) t.join();
  s.threads.clear();
  s.workers->join();
}

}  // namespace meldpunt::open311
