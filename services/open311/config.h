// The Open311 gateway's configuration: its HTTP port (TLS, limits, timeouts), the callers it
// admits (API keys, bearer tokens, client certificates), the intake it speaks to, and the
// catalogue its services come from.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "libs/auth/auth.h"
#include "libs/catalog/catalog.h"
#include "libs/config/config.h"
#include "services/open311/api_keys.h"

namespace meldpunt::open311 {

struct GatewayConfig {
  std::string http_listen = "127.0.0.1:8311";
  bool http_plaintext_loopback = false;
  std::string http_tls_cert_file;
  std::string http_tls_key_file;
  std::string http_tls_client_ca_file;
  int64_t http_threads = 2;
  int64_t http_workers = 16;
  int64_t http_body_limit = 64 * 1024;
  int64_t http_header_limit = 8 * 1024;
  absl::Duration http_header_timeout = absl::Seconds(10);
  absl::Duration http_idle_timeout = absl::Seconds(60);
  int64_t http_max_connections = 1024;

  std::string admin_listen = "127.0.0.1:9105";

  std::string jwt_key_set_file;
  std::string jwt_issuer;
  std::string jwt_audience;
  absl::Duration jwt_max_lifetime = absl::Hours(24);
  absl::Duration auth_clock_skew = absl::Seconds(30);

  std::string api_keys_file;
  double rate_limit = 20;
  int64_t rate_burst = 40;
  std::string jurisdiction_id;
  std::string base_url = "http://127.0.0.1:8311/open311/v2";
  std::string contact;
  std::string key_service;
  std::string idempotency_header = "Idempotency-Key";

  std::string intake_address = "127.0.0.1:50051";
  bool intake_plaintext = false;
  std::string intake_tls_ca_file;
  std::string intake_tls_cert_file;
  std::string intake_tls_key_file;
  std::string intake_tls_server_name;
  std::string intake_token_file;
  absl::Duration intake_timeout = absl::Seconds(5);

  std::string catalog_file = "deploy/config/categories.yaml";
  std::string log_level = "info";
  absl::Duration shutdown_grace = absl::Seconds(10);

  // The HTTP port's security in the terms of libs/auth (files, key set, plaintext on loopback).
  auth::SecurityOptions Security() const {
    auth::SecurityOptions s;
    s.tls_cert_file = http_tls_cert_file;
    s.tls_key_file = http_tls_key_file;
    s.tls_client_ca_file = http_tls_client_ca_file;
    s.plaintext_loopback = http_plaintext_loopback;
    s.jwt_key_set_file = jwt_key_set_file;
    s.jwt_issuer = jwt_issuer;
    s.jwt_audience = jwt_audience;
    s.jwt_max_lifetime = jwt_max_lifetime;
    s.clock_skew = auth_clock_skew;
    return s;
  }
};

inline config::Schema<GatewayConfig> GatewaySchema() {
  using C = GatewayConfig;
  config::Schema<C> schema("meldpunt-open311");
  schema
      .String("http.listen", &C::http_listen, "host:port of the Open311 HTTP server",
              config::HostPort(true))
      .Bool("http.plaintext_loopback", &C::http_plaintext_loopback,
            "development only: plain HTTP, allowed only when http.listen is a loopback IP literal")
      .String("http.tls.cert_file", &C::http_tls_cert_file,
              "PEM certificate chain of the HTTPS port")
      .String("http.tls.key_file", &C::http_tls_key_file, "PEM private key of http.tls.cert_file")
      .String("http.tls.client_ca_file", &C::http_tls_client_ca_file,
              "PEM CA bundle of client certificates: when set a client may present one it signed "
              "(CN the system, OU the role) instead of an API key or token")
      .Int("http.threads", &C::http_threads, "threads reading and writing connections",
           config::Range(1, 64))
      .Int("http.workers", &C::http_workers,
           "threads answering requests (each waits on its gRPC call to the intake)",
           config::Range(1, 512))
      .Int("http.body_limit", &C::http_body_limit, "largest request body in bytes; larger gets 413",
           config::Range(1024, 16 << 20))
      .Int("http.header_limit", &C::http_header_limit,
           "largest request head (request line and headers) in bytes; larger gets 431",
           config::Range(1024, 1 << 20))
      .Duration("http.header_timeout", &C::http_header_timeout,
                "time a client has to send a whole request once it started; then the connection "
                "is closed")
      .Duration("http.idle_timeout", &C::http_idle_timeout,
                "time a kept-alive connection may stay silent between requests")
      .Int("http.max_connections", &C::http_max_connections,
           "open connections at most; more are closed at once", config::Range(1, 1 << 20))
      .String("admin.listen", &C::admin_listen, "host:port of the admin HTTP server",
              config::HostPort(true))
      .String("auth.jwt.key_set_file", &C::jwt_key_set_file,
              "bearer-token verification keys (JWKS), as on every gRPC port: a token's role must "
              "be submitter, its sub the system")
      .String("auth.jwt.issuer", &C::jwt_issuer, "required `iss` of bearer tokens")
      .String("auth.jwt.audience", &C::jwt_audience, "required `aud` of bearer tokens")
      .Duration("auth.jwt.max_lifetime", &C::jwt_max_lifetime, "longest token lifetime accepted")
      .Duration("auth.clock_skew", &C::auth_clock_skew, "clock skew allowed on token times")
      .String("open311.api_keys_file", &C::api_keys_file,
              "the API keys (YAML: keys: [{sha256, system, role}]): the SHA-256 of each key, the "
              "submitting system it names and its role (submitter); read again when it changes")
      .Double("open311.rate_limit", &C::rate_limit,
              "requests per second per caller (API key, token subject or certificate)",
              [](const double& v) {
                return v > 0 && v <= 100000 ? "" : std::string("must be in (0, 100000]");
              })
      .Int("open311.rate_burst", &C::rate_burst, "requests a caller may send at once",
           config::Range(1, 100000))
      .String("open311.jurisdiction_id", &C::jurisdiction_id,
              "this endpoint's jurisdiction_id; a request naming another gets 404 (empty: any)")
      .String("open311.base_url", &C::base_url, "the public URL of the endpoint (discovery)",
              config::NonEmpty())
      .String("open311.contact", &C::contact, "who to contact about the endpoint (discovery)")
      .String("open311.key_service", &C::key_service, "where to ask for an API key (discovery)")
      .String("open311.idempotency_header", &C::idempotency_header,
              "the request header that carries a client's idempotency key", config::NonEmpty())
      .String("intake.address", &C::intake_address, "host:port of the intake's gRPC port",
              config::HostPort())
      .Bool("intake.plaintext", &C::intake_plaintext,
            "development only: plaintext gRPC to the intake, allowed only to a loopback IP")
      .String("intake.tls.ca_file", &C::intake_tls_ca_file,
              "PEM CA bundle that signed the intake's certificate (empty: the system's roots)")
      .String("intake.tls.cert_file", &C::intake_tls_cert_file,
              "PEM client certificate of the gateway (OU=gateway) for the intake's mTLS")
      .String("intake.tls.key_file", &C::intake_tls_key_file, "PEM key of intake.tls.cert_file")
      .String("intake.tls.server_name", &C::intake_tls_server_name,
              "the name to check on the intake's certificate (empty: the host of intake.address)")
      .String("intake.token_file", &C::intake_token_file,
              "a bearer token with role gateway for the intake, read again when it changes "
              "(instead of, or besides, a client certificate)")
      .Duration("intake.timeout", &C::intake_timeout, "deadline of each call to the intake")
      .String("catalog.file", &C::catalog_file,
              "the category catalogue (deploy/config/categories.yaml): the services and their "
              "names; read again when it changes",
              config::NonEmpty())
      .String("log.level", &C::log_level, "debug, info, warning or error",
              config::OneOf({"debug", "info", "warning", "error"}))
      .Duration("shutdown.grace", &C::shutdown_grace,
                "time to finish the requests under way after SIGTERM")
      .Check([](const C& c) -> absl::Status {
        const bool tls = !c.http_tls_cert_file.empty() || !c.http_tls_key_file.empty();
        if (tls && (c.http_tls_cert_file.empty() || c.http_tls_key_file.empty())) {
          return absl::InvalidArgumentError(
              "http.tls.cert_file and http.tls.key_file: set both or neither");
        }
        if (!c.http_tls_client_ca_file.empty() && !tls) {
          return absl::InvalidArgumentError(
              "http.tls.client_ca_file: client certificates need TLS: set http.tls.cert_file");
        }
        if (tls == c.http_plaintext_loopback) {
          return absl::InvalidArgumentError(
              tls ? "http.plaintext_loopback: cannot be true together with http.tls.cert_file"
                  : "http.tls.cert_file: required (HTTPS); for development on loopback only, "
                    "set http.plaintext_loopback: true instead");
        }
        if (c.http_plaintext_loopback && !auth::IsLoopbackListen(c.http_listen)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "http.plaintext_loopback: plain HTTP is allowed on a loopback IP address only, not "
              "on '",
              c.http_listen, "'"));
        }
        if (tls && c.api_keys_file.empty() && c.jwt_key_set_file.empty() &&
            c.http_tls_client_ca_file.empty()) {
          return absl::InvalidArgumentError(
              "open311.api_keys_file: the HTTPS port must know its callers: set "
              "open311.api_keys_file, auth.jwt.key_set_file or http.tls.client_ca_file");
        }
        if (!c.jwt_key_set_file.empty() && (c.jwt_issuer.empty() || c.jwt_audience.empty())) {
          return absl::InvalidArgumentError(
              "auth.jwt.issuer and auth.jwt.audience: required with auth.jwt.key_set_file");
        }
        if (c.intake_plaintext && !auth::IsLoopbackListen(c.intake_address)) {
          return absl::InvalidArgumentError(
              "intake.plaintext: allowed only when intake.address is a loopback IP literal");
        }
        if (c.intake_tls_cert_file.empty() != c.intake_tls_key_file.empty()) {
          return absl::InvalidArgumentError(
              "intake.tls.cert_file and intake.tls.key_file: set both or neither");
        }
        if (!c.api_keys_file.empty()) {
          if (absl::Status s = ApiKeys::LoadFile(c.api_keys_file).status(); !s.ok()) return s;
        }
        return catalog::Catalog::LoadFile(c.catalog_file).status();
      });
  return schema;
}

}  // namespace meldpunt::open311
