// The Open311 GeoReport v2 endpoint: one HTTP request in, one answer out. It knows its callers
// (API key, bearer token or client certificate, each naming a submitting system), limits their
// rate, and speaks to the intake for them; it holds no state of its own. The HTTP transport is
// http_server.h's; this class sees no socket.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/auth/auth.h"
#include "libs/catalog/catalog_file.h"
#include "services/open311/api_keys.h"
#include "services/open311/intake_client.h"
#include "services/open311/mapping.h"
#include "services/open311/rate_limit.h"
#include "services/open311/wire.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
class Histogram;
}  // namespace prometheus

namespace meldpunt::open311 {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string content_type;
  std::string authorization;
  std::string accept_language;
  std::optional<std::string> idempotency_key;  // the configured header, when sent
  std::string client_certificate_pem;          // a verified client certificate, when one was shown
  std::string peer;  // the client's address (rate limits of anonymous calls)
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct GatewayOptions {
  std::string base_url;
  std::string jurisdiction_id;
  std::string contact;
  std::string key_service;
  std::string changeset;  // when this configuration started (discovery)
  double rate_limit = 20;
  double rate_burst = 40;
};

class Gateway {
 public:
  // `intake` null: every call that needs it answers 503 (for tests of the rest).
  Gateway(GatewayOptions options, catalog::CatalogFile* catalog, ApiKeyFile* keys,
          const auth::Guard* guard, IntakeClient* intake, prometheus::Registry* registry);

  HttpResponse Handle(const HttpRequest& request);

  // The endpoint a path names, for metrics ("requests_get", ...).
  static std::string EndpointOf(const std::string& method, const std::string& target);

 private:
  struct Call;
  HttpResponse Route(Call& call);
  HttpResponse Discovery(Call& call);
  HttpResponse Services(Call& call);
  HttpResponse ServiceDefinition(Call& call, const std::string& code);
  HttpResponse PostRequest(Call& call);
  HttpResponse GetRequests(Call& call);
  HttpResponse GetRequest(Call& call, const std::string& id);
  HttpResponse GetToken(Call& call, const std::string& token);
  HttpResponse GetUpdates(Call& call);
  HttpResponse PostUpdate(Call& call);

  // The caller of a call that needs one (api_key, bearer token or client certificate), or the
  // 403 to answer.
  absl::StatusOr<auth::Principal> Caller(const Call& call);
  // Takes one request of `who` from the rate limit: the 429 to answer, or nothing.
  std::optional<HttpResponse> Limit(const Call& call, const std::string& who);
  // The metrics of one request.
  void Count(const std::string& endpoint, int status, absl::Duration took);
  HttpResponse FromIntake(const Call& call, const absl::Status& status);

  GatewayOptions options_;
  catalog::CatalogFile* catalog_;
  ApiKeyFile* keys_;
  const auth::Guard* guard_;
  IntakeClient* intake_;
  RateLimiter limiter_;
  prometheus::Family<prometheus::Counter>* requests_ = nullptr;
  // By endpoint (EndpointOf), made at construction: no buckets are built per request.
  absl::flat_hash_map<std::string, prometheus::Histogram*> seconds_;
  prometheus::Counter* rate_limited_ = nullptr;
  prometheus::Family<prometheus::Counter>* upstream_errors_ = nullptr;
};

// An error answer as GeoReport v2 says: [{"code": 400, "description": "..."}], or in XML
// <errors><error><code/><description/></error></errors>.
HttpResponse ErrorResponse(int status, const std::string& description, Format format);

}  // namespace meldpunt::open311
