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

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/auth/auth.h"
#include "libs/catalog/catalog.h"
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

// The catalogue file, read again when it changes (looked at once a second at most).
class CatalogFile {
 public:
  static absl::StatusOr<std::unique_ptr<CatalogFile>> Open(const std::string& path);
  std::shared_ptr<const catalog::Catalog> Get();

 private:
  explicit CatalogFile(std::string path) : path_(std::move(path)) {}
  const std::string path_;
  absl::Mutex mu_;
  std::shared_ptr<const catalog::Catalog> catalog_ ABSL_GUARDED_BY(mu_);
  int64_t mtime_ ABSL_GUARDED_BY(mu_) = -1;
  absl::Time checked_ ABSL_GUARDED_BY(mu_);
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
  Gateway(GatewayOptions options, CatalogFile* catalog, ApiKeyFile* keys, const auth::Guard* guard,
          IntakeClient* intake, prometheus::Registry* registry);

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
  std::optional<HttpResponse> Limit(const Call& call, const std::string& who);
  HttpResponse FromIntake(const Call& call, const absl::Status& status);

  GatewayOptions options_;
  CatalogFile* catalog_;
  ApiKeyFile* keys_;
  const auth::Guard* guard_;
  IntakeClient* intake_;
  RateLimiter limiter_;
  prometheus::Family<prometheus::Counter>* requests_ = nullptr;
  prometheus::Family<prometheus::Histogram>* seconds_ = nullptr;
  prometheus::Counter* rate_limited_ = nullptr;
  prometheus::Family<prometheus::Counter>* upstream_errors_ = nullptr;
};

// An error answer as GeoReport v2 says: [{"code": 400, "description": "..."}], or in XML
// <errors><error><code/><description/></error></errors>.
HttpResponse ErrorResponse(int status, const std::string& description, Format format);

}  // namespace meldpunt::open311
