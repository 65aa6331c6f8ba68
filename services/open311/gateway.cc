#include "services/open311/gateway.h"

#include <algorithm>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "libs/events/codec.h"
#include "libs/events/ids.h"
#include "libs/observability/log.h"

namespace meldpunt::open311 {

// The OpenAPI description, compiled in from services/open311/openapi.yaml.
extern const std::string_view kOpenApiYaml;

namespace {

namespace iv1 = ::meldpunt::intake::v1;

constexpr absl::string_view kBase = "/open311/v2/";
constexpr int kMaxPage = 1000;
constexpr int kMaxIds = 50;
constexpr absl::Duration kMaxRange = absl::Hours(24 * 90);

std::string ContentType(Format format) {
  return format == Format::kJson ? "application/json; charset=utf-8" : "text/xml; charset=utf-8";
}

HttpResponse Answer(int status, const Json& document, Format format, absl::string_view root) {
  HttpResponse response;
  response.status = status;
  response.content_type = ContentType(format);
  response.body = Render(document, format, root);
  return response;
}

bool ValidKey(const std::string& key) {
  if (key.empty() || key.size() > 128) return false;
  return std::all_of(key.begin(), key.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace

struct Gateway::Call {
  const HttpRequest& request;
  std::string path;  // after /open311/v2/, without the format suffix
  Format format = Format::kJson;
  Params params;  // the query's, then the form's
  t::Language language = t::NL;
  auth::Principal who;  // for the endpoints that need a caller (Gateway::Admit)
};

HttpResponse ErrorResponse(int status, const std::string& description, Format format) {
  Json errors = Json::array();
  errors.push_back(Json{{"code", status}, {"description", description}});
  return Answer(status, errors, format, "errors");
}

Gateway::Gateway(GatewayOptions options, catalog::CatalogFile* catalog, ApiKeyFile* keys,
                 const auth::Guard* guard, IntakeClient* intake, prometheus::Registry* registry)
    : options_(std::move(options)),
      catalog_(catalog),
      keys_(keys),
      guard_(guard),
      intake_(intake),
      limiter_(options_.rate_limit, options_.rate_burst) {
  if (registry != nullptr) {
    requests_ = &prometheus::BuildCounter()
                     .Name("meldpunt_open311_requests_total")
                     .Help("Open311 requests answered, by endpoint and HTTP status")
                     .Register(*registry);
    auto& seconds = prometheus::BuildHistogram()
                        .Name("meldpunt_open311_request_seconds")
                        .Help("time to answer an Open311 request, by endpoint")
                        .Register(*registry);
    for (const char* endpoint :
         {"discovery", "services", "service", "requests_post", "requests_get", "request", "token",
          "updates_get", "updates_post", "openapi", "other"}) {
      seconds_[endpoint] =
          &seconds.Add({{"endpoint", endpoint}},
                       prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025,
                                                               0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
    }
    rate_limited_ = &prometheus::BuildCounter()
                         .Name("meldpunt_open311_rate_limited_total")
                         .Help("Open311 requests refused with 429 (rate limit per caller)")
                         .Register(*registry)
                         .Add({});
    upstream_errors_ = &prometheus::BuildCounter()
                            .Name("meldpunt_open311_upstream_errors_total")
                            .Help("calls to the intake that failed, by gRPC status code")
                            .Register(*registry);
  }
}

std::string Gateway::EndpointOf(const std::string& method, const std::string& target) {
  std::string path = target.substr(0, target.find('?'));
  if (!absl::StartsWith(path, kBase)) return "other";
  path = path.substr(kBase.size());
  if (path == "openapi.yaml") return "openapi";
  const size_t dot = path.rfind('.');
  if (dot != std::string::npos) path = path.substr(0, dot);
  if (path == "discovery") return "discovery";
  if (path == "services") return "services";
  if (absl::StartsWith(path, "services/")) return "service";
  if (path == "requests") return method == "POST" ? "requests_post" : "requests_get";
  if (absl::StartsWith(path, "requests/")) return "request";
  if (absl::StartsWith(path, "tokens/")) return "token";
  if (path == "servicerequestupdates") return method == "POST" ? "updates_post" : "updates_get";
  return "other";
}

HttpResponse Gateway::Handle(const HttpRequest& request) {
  const absl::Time started = absl::Now();
  const std::string endpoint = EndpointOf(request.method, request.target);
  HttpResponse response;
  Call call{.request = request, .path = {}, .params = {}, .who = {}};
  const std::string target = request.target;
  const size_t question = target.find('?');
  const std::string path = target.substr(0, question);
  if (path == absl::StrCat(kBase, "openapi.yaml")) {
    if (request.method != "GET" && request.method != "HEAD") {
      response = ErrorResponse(405, "method: GET only", Format::kJson);
      response.headers.emplace_back("Allow", "GET, HEAD");
    } else {
      response.status = 200;
      response.content_type = "application/yaml; charset=utf-8";
      response.body = std::string(kOpenApiYaml);
    }
  } else if (!absl::StartsWith(path, kBase)) {
    response = ErrorResponse(404, absl::StrCat("path: nothing here; the endpoint is ", kBase),
                             Format::kJson);
  } else {
    std::string rest = path.substr(kBase.size());
    if (absl::EndsWith(rest, ".json")) {
      call.format = Format::kJson;
      rest.resize(rest.size() - 5);
    } else if (absl::EndsWith(rest, ".xml")) {
      call.format = Format::kXml;
      rest.resize(rest.size() - 4);
    } else {
      rest.clear();  // no format: nothing here
    }
    call.path = rest;
    response = rest.empty()
                   ? ErrorResponse(404, "path: unknown; every endpoint ends in .json or .xml",
                                   Format::kJson)
                   : Route(call);
  }
  Count(endpoint, response.status, absl::Now() - started);
  return response;
}

void Gateway::Count(const std::string& endpoint, int status, absl::Duration took) {
  if (requests_ == nullptr) return;
  requests_->Add({{"endpoint", endpoint}, {"code", absl::StrCat(status)}}).Increment();
  if (auto it = seconds_.find(endpoint); it != seconds_.end()) {
    it->second->Observe(absl::ToDoubleSeconds(took));
  }
}

HttpResponse Gateway::Route(Call& call) {
  const HttpRequest& request = call.request;
  const size_t question = request.target.find('?');
  if (question != std::string::npos) {
    absl::StatusOr<Params> query =
        ParseForm(absl::string_view(request.target).substr(question + 1));
    if (!query.ok()) return ErrorResponse(400, std::string(query.status().message()), call.format);
    call.params = *std::move(query);
  }
  const bool post = request.method == "POST";
  if (post) {
    const std::string type = absl::AsciiStrToLower(
        absl::StripAsciiWhitespace(request.content_type.substr(0, request.content_type.find(';'))));
    if (type != "application/x-www-form-urlencoded") {
      return ErrorResponse(400,
                           "Content-Type: must be application/x-www-form-urlencoded, as GeoReport "
                           "v2 says",
                           call.format);
    }
    absl::StatusOr<Params> form = ParseForm(request.body);
    if (!form.ok()) return ErrorResponse(400, std::string(form.status().message()), call.format);
    for (auto& entry : *form) call.params.push_back(std::move(entry));
  }
  absl::StatusOr<t::Language> language =
      LanguageOf(Param(call.params, "locale"), request.accept_language);
  if (!language.ok())
    return ErrorResponse(400, std::string(language.status().message()), call.format);
  call.language = *language;
  if (const std::string jurisdiction = Param(call.params, "jurisdiction_id");
      !jurisdiction.empty() && !options_.jurisdiction_id.empty() &&
      jurisdiction != options_.jurisdiction_id) {
    return ErrorResponse(404, "jurisdiction_id: not served here", call.format);
  }

  const std::string& p = call.path;
  const auto method_is = [&](std::initializer_list<absl::string_view> allowed,
                             std::optional<HttpResponse>* refusal) {
    for (absl::string_view m : allowed) {
      if (request.method == m || (m == "GET" && request.method == "HEAD")) return true;
    }
    HttpResponse r = ErrorResponse(
        405, absl::StrCat("method: ", request.method, " is not allowed here"), call.format);
    std::string allow;
    for (absl::string_view m : allowed) allow += absl::StrCat(allow.empty() ? "" : ", ", m);
    r.headers.emplace_back("Allow", allow);
    *refusal = std::move(r);
    return false;
  };
  std::optional<HttpResponse> refusal;
  // Discovery and the services are public, limited per client address; everything else is a
  // known caller's, limited per caller.
  const auto anyone = [&] {
    refusal = Limit(call, "peer:" + request.peer);
    return !refusal.has_value();
  };
  const auto caller = [&] {
    absl::StatusOr<auth::Principal> who = Caller(call);
    if (!who.ok()) {
      refusal = ErrorResponse(403, std::string(who.status().message()), call.format);
      return false;
    }
    call.who = *std::move(who);
    refusal = Limit(call, auth::CallerKey(call.who));
    return !refusal.has_value();
  };
  if (p == "discovery") {
    return method_is({"GET"}, &refusal) && anyone() ? Discovery(call) : *refusal;
  }
  if (p == "services") return method_is({"GET"}, &refusal) && anyone() ? Services(call) : *refusal;
  if (absl::StartsWith(p, "services/") && p.find('/', 9) == std::string::npos) {
    if (!method_is({"GET"}, &refusal) || !anyone()) return *refusal;
    absl::StatusOr<std::string> code = PercentDecode("service_code", p.substr(9), false);
    if (!code.ok()) return ErrorResponse(400, std::string(code.status().message()), call.format);
    return ServiceDefinition(call, *code);
  }
  if (p == "requests") {
    if (!method_is({"GET", "POST"}, &refusal) || !caller()) return *refusal;
    return post ? PostRequest(call) : GetRequests(call);
  }
  if (absl::StartsWith(p, "requests/") && p.find('/', 9) == std::string::npos) {
    if (!method_is({"GET"}, &refusal) || !caller()) return *refusal;
    absl::StatusOr<std::string> id = PercentDecode("service_request_id", p.substr(9), false);
    if (!id.ok()) return ErrorResponse(400, std::string(id.status().message()), call.format);
    return GetRequest(call, *id);
  }
  if (absl::StartsWith(p, "tokens/") && p.find('/', 7) == std::string::npos) {
    if (!method_is({"GET"}, &refusal) || !caller()) return *refusal;
    absl::StatusOr<std::string> token = PercentDecode("token", p.substr(7), false);
    if (!token.ok()) return ErrorResponse(400, std::string(token.status().message()), call.format);
    return GetToken(call, *token);
  }
  if (p == "servicerequestupdates") {
    if (!method_is({"GET", "POST"}, &refusal) || !caller()) return *refusal;
    return post ? PostUpdate(call) : GetUpdates(call);
  }
  return ErrorResponse(404, absl::StrCat("path: no endpoint '", p.substr(0, 100), "'"),
                       call.format);
}

std::optional<HttpResponse> Gateway::Limit(const Call& call, const std::string& who) {
  const absl::Duration wait = limiter_.Take(who, absl::Now());
  if (wait == absl::ZeroDuration()) return std::nullopt;
  if (rate_limited_ != nullptr) rate_limited_->Increment();
  HttpResponse r = ErrorResponse(429, "rate limit: too many requests from this caller; retry later",
                                 call.format);
  r.headers.emplace_back(
      "Retry-After",
      absl::StrCat(std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(wait, absl::Seconds(1))))));
  return r;
}

absl::StatusOr<auth::Principal> Gateway::Caller(const Call& call) {
  const std::string key = Param(call.params, "api_key");
  if (!key.empty()) {
    std::optional<auth::Principal> who = keys_->Find(key);
    if (!who) return absl::PermissionDeniedError("api_key: not a key of this endpoint");
    return *who;
  }
  if (!call.request.authorization.empty() || !call.request.client_certificate_pem.empty()) {
    if (guard_->open()) {
      return absl::PermissionDeniedError(
          "authorization: this development endpoint checks no tokens or certificates; send an "
          "api_key");
    }
    absl::StatusOr<auth::Principal> who =
        guard_->Admit(call.request.authorization, call.request.client_certificate_pem,
                      auth::methods::kSubmitCase, absl::Now());
    if (!who.ok()) {
      return absl::PermissionDeniedError(absl::StrCat("authorization: ", who.status().message()));
    }
    if (who->role != auth::Role::kSubmitter) {
      return absl::PermissionDeniedError(
          "authorization: the Open311 endpoint serves submitting systems (role submitter)");
    }
    return who;
  }
  return absl::PermissionDeniedError(
      "api_key: required (or an Authorization bearer token, or a client certificate)");
}

HttpResponse Gateway::FromIntake(const Call& call, const absl::Status& status) {
  if (upstream_errors_ != nullptr) {
    upstream_errors_->Add({{"code", absl::StatusCodeToString(status.code())}}).Increment();
  }
  const std::string message = Open311Message(std::string(status.message()));
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return ErrorResponse(400, message, call.format);
    case absl::StatusCode::kNotFound:
      return ErrorResponse(404, "service_request_id: not found", call.format);
    case absl::StatusCode::kPermissionDenied:
      return ErrorResponse(403, message, call.format);
    case absl::StatusCode::kResourceExhausted: {
      HttpResponse r = ErrorResponse(429, message, call.format);
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    default: {
      log::Warning("intake call failed", {{"code", absl::StatusCodeToString(status.code())},
                                          {"error", std::string(status.message())}});
      HttpResponse r = ErrorResponse(
          503,
          "the case registry is unavailable; retry later (a retried POST makes no second case)",
          call.format);
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
  }
}

HttpResponse Gateway::Discovery(Call& call) {
  Json endpoint = Json::object();
  endpoint["specification"] = "http://wiki.open311.org/GeoReport_v2";
  endpoint["url"] = options_.base_url;
  endpoint["changeset"] = options_.changeset;
  endpoint["type"] = "production";
  endpoint["formats"] = Json::array({"application/json", "text/xml"});
  Json discovery = Json::object();
  discovery["changeset"] = options_.changeset;
  discovery["contact"] = options_.contact;
  discovery["key_service"] = options_.key_service;
  discovery["endpoints"] = Json::array({endpoint});
  return Answer(200, discovery, call.format, "discovery");
}

HttpResponse Gateway::Services(Call& call) {
  return Answer(200, ServiceList(*catalog_->Current(), call.language), call.format, "services");
}

HttpResponse Gateway::ServiceDefinition(Call& call, const std::string& code) {
  std::optional<Json> definition =
      open311::ServiceDefinition(*catalog_->Current(), code, call.language);
  if (!definition) {
    return ErrorResponse(
        404, absl::StrCat("service_code: unknown service code '", code.substr(0, 64), "'"),
        call.format);
  }
  return Answer(200, *definition, call.format, "service_definition");
}

HttpResponse Gateway::PostRequest(Call& call) {
  const auth::Principal* who = &call.who;
  std::string key;
  if (call.request.idempotency_key) {
    key = std::string(absl::StripAsciiWhitespace(*call.request.idempotency_key));
    if (!ValidKey(key)) {
      return ErrorResponse(400, "Idempotency-Key: must be 1-128 printable ASCII characters",
                           call.format);
    }
  } else {
    key = DerivedRequestKey(who->subject, call.params);
  }
  absl::StatusOr<iv1::SubmitCaseRequest> submission =
      ToSubmission(call.params, *catalog_->Current(), who->subject, key, call.language);
  if (!submission.ok()) {
    return ErrorResponse(400, std::string(submission.status().message()), call.format);
  }
  if (intake_ == nullptr) return FromIntake(call, absl::UnavailableError("no intake"));
  absl::StatusOr<iv1::SubmitCaseResponse> submitted = intake_->Submit(who->subject, *submission);
  if (!submitted.ok()) return FromIntake(call, submitted.status());
  Json item = Json::object();
  item["service_request_id"] = submitted->reference();
  item["token"] = key;
  if (const std::string account = Param(call.params, "account_id"); !account.empty()) {
    item["account_id"] = account;
  }
  return Answer(submitted->created() ? 201 : 200, Json::array({item}), call.format,
                "service_requests");
}

HttpResponse Gateway::GetRequest(Call& call, const std::string& id) {
  const auth::Principal* who = &call.who;
  if (id.empty() || id.size() > 64) {
    return ErrorResponse(404, "service_request_id: not found", call.format);
  }
  if (intake_ == nullptr) return FromIntake(call, absl::UnavailableError("no intake"));
  absl::StatusOr<iv1::GetCaseResponse> got = intake_->Get(who->subject, id);
  if (!got.ok()) {
    // Another system's case is as unknown as a case that does not exist.
    if (got.status().code() == absl::StatusCode::kPermissionDenied) {
      return ErrorResponse(404, "service_request_id: not found", call.format);
    }
    return FromIntake(call, got.status());
  }
  return Answer(200, Json::array({RequestOf(got->case_(), *catalog_->Current(), call.language)}),
                call.format, "service_requests");
}

HttpResponse Gateway::GetToken(Call& call, const std::string& token) {
  const auth::Principal* who = &call.who;
  if (!ValidKey(token)) return ErrorResponse(404, "token: not found", call.format);
  if (intake_ == nullptr) return FromIntake(call, absl::UnavailableError("no intake"));
  // The token is the request's idempotency key: with the system it names the case.
  absl::StatusOr<iv1::GetCaseResponse> got =
      intake_->Get(who->subject, events::CaseIdFor(who->subject, token));
  if (!got.ok()) {
    if (got.status().code() == absl::StatusCode::kNotFound ||
        got.status().code() == absl::StatusCode::kPermissionDenied) {
      return ErrorResponse(404, "token: not found", call.format);
    }
    return FromIntake(call, got.status());
  }
  Json item = Json::object();
  item["token"] = token;
  item["service_request_id"] = got->case_().reference();
  return Answer(200, Json::array({item}), call.format, "service_requests");
}

namespace {

// start_date/end_date: at most 90 days apart; by default the 90 days up to now.
absl::Status DateRange(const Params& params, absl::Time now, absl::Time* from, absl::Time* to) {
  const std::string start = Param(params, "start_date"), end = Param(params, "end_date");
  *to = now;
  if (!end.empty()) {
    absl::StatusOr<absl::Time> t = ParseTime("end_date", end);
    if (!t.ok()) return t.status();
    *to = *t;
  }
  *from = *to - kMaxRange;
  if (!start.empty()) {
    absl::StatusOr<absl::Time> t = ParseTime("start_date", start);
    if (!t.ok()) return t.status();
    *from = *t;
    if (end.empty()) *to = std::min(now, *from + kMaxRange);
  }
  if (*to <= *from) return absl::InvalidArgumentError("end_date: must be after start_date");
  if (*to - *from > kMaxRange) {
    return absl::InvalidArgumentError("end_date: at most 90 days after start_date");
  }
  return absl::OkStatus();
}

absl::Status PageParams(const Params& params, int* page, int* page_size) {
  *page = 1;
  *page_size = 50;
  if (const std::string p = Param(params, "page"); !p.empty()) {
    if (!absl::SimpleAtoi(p, page) || *page < 1 || *page > kMaxPage) {
      return absl::InvalidArgumentError(absl::StrCat("page: must be 1 to ", kMaxPage));
    }
  }
  if (const std::string s = Param(params, "page_size"); !s.empty()) {
    if (!absl::SimpleAtoi(s, page_size) || *page_size < 1 || *page_size > 200) {
      return absl::InvalidArgumentError("page_size: must be 1 to 200");
    }
  }
  return absl::OkStatus();
}

void SetTime(google::protobuf::Timestamp* out, absl::Time t) { events::SetTime(out, t); }

}  // namespace

HttpResponse Gateway::GetRequests(Call& call) {
  const auth::Principal* who = &call.who;
  std::shared_ptr<const catalog::Catalog> catalog = catalog_->Current();
  Json list = Json::array();
  // Ids given: those requests, whatever the other filters say (as GeoReport v2 says).
  if (const std::string ids = Param(call.params, "service_request_id"); !ids.empty()) {
    std::vector<std::string> wanted = absl::StrSplit(ids, ',', absl::SkipWhitespace());
    if (wanted.size() > kMaxIds) {
      return ErrorResponse(400, absl::StrCat("service_request_id: at most ", kMaxIds, " ids"),
                           call.format);
    }
    if (intake_ == nullptr) return FromIntake(call, absl::UnavailableError("no intake"));
    for (std::string id : wanted) {
      id = std::string(absl::StripAsciiWhitespace(id));
      if (id.empty() || id.size() > 64) continue;
      absl::StatusOr<iv1::GetCaseResponse> got = intake_->Get(who->subject, id);
      if (got.ok()) {
        list.push_back(RequestOf(got->case_(), *catalog, call.language));
      } else if (got.status().code() != absl::StatusCode::kNotFound &&
                 got.status().code() != absl::StatusCode::kPermissionDenied &&
                 got.status().code() != absl::StatusCode::kInvalidArgument) {
        return FromIntake(call, got.status());
      }
    }
    return Answer(200, list, call.format, "service_requests");
  }
  iv1::ListCasesRequest query;
  query.set_submitting_system(who->subject);
  absl::Time from, to;
  if (absl::Status s = DateRange(call.params, absl::Now(), &from, &to); !s.ok()) {
    return ErrorResponse(400, std::string(s.message()), call.format);
  }
  SetTime(query.mutable_submitted_from(), from);
  SetTime(query.mutable_submitted_to(), to);
  if (const std::string codes = Param(call.params, "service_code"); !codes.empty()) {
    for (absl::string_view code : absl::StrSplit(codes, ',', absl::SkipWhitespace())) {
      const std::string c(absl::StripAsciiWhitespace(code));
      const catalog::Category* category = CategoryOfCode(*catalog, c);
      if (category == nullptr) {
        return ErrorResponse(
            400, absl::StrCat("service_code: unknown service code '", c.substr(0, 64), "'"),
            call.format);
      }
      query.add_categories(category->id);
    }
    if (query.categories_size() > 50) {
      return ErrorResponse(400, "service_code: at most 50 codes", call.format);
    }
  }
  if (const std::string status = Param(call.params, "status"); !status.empty()) {
    bool open = false, closed = false;
    for (absl::string_view s : absl::StrSplit(status, ',', absl::SkipWhitespace())) {
      const std::string v = absl::AsciiStrToLower(absl::StripAsciiWhitespace(s));
      if (v == "open") {
        open = true;
      } else if (v == "closed") {
        closed = true;
      } else {
        return ErrorResponse(400, "status: must be open, closed or both", call.format);
      }
    }
    if (open != closed) query.set_open_filter(open ? iv1::OPEN_ONLY : iv1::CLOSED_ONLY);
  }
  int page = 1, page_size = 50;
  if (absl::Status s = PageParams(call.params, &page, &page_size); !s.ok()) {
    return ErrorResponse(400, std::string(s.message()), call.format);
  }
  if (intake_ == nullptr) return FromIntake(call, absl::UnavailableError("no intake"));
  // The intake pages by token: walk to the page asked for.
  query.set_page_size(page_size);
  std::vector<t::Case> cases;
  int64_t skip = static_cast<int64_t>(page - 1) * page_size;
  while (true) {
    absl::StatusOr<iv1::ListCasesResponse> got = intake_->List(who->subject, query);
    if (!got.ok()) return FromIntake(call, got.status());
    for (const t::Case& c : got->cases()) {
      if (skip > 0) {
        --skip;
        continue;
      }
      if (static_cast<int>(cases.size()) < page_size) cases.push_back(c);
    }
    if (static_cast<int>(cases.size()) >= page_size || got->next_page_token().empty()) break;
    query.set_page_token(got->next_page_token());
  }
  for (const t::Case& c : cases) list.push_back(RequestOf(c, *catalog, call.language));
  return Answer(200, list, call.format, "service_requests");
}

HttpResponse Gateway::GetUpdates(Call& call) {
  const auth::Principal* who = &call.who;
  absl::Time from, to;
  if (absl::Status s = DateRange(call.params, absl::Now(), &from, &to); !s.ok()) {
    return ErrorResponse(400, std::string(s.message()), call.format);
  }
  int page = 1, page_size = 50;
  if (absl::Status s = PageParams(call.params, &page, &page_size); !s.ok()) {
    return ErrorResponse(400, std::string(s.message()), call.format);
  }
  // FixMyStreet sends no page size: one answer of up to 200 updates, the oldest first.
  if (Param(call.params, "page_size").empty()) page_size = 200;
  if (intake_ == nullptr) return FromIntake(call, absl::UnavailableError("no intake"));
  iv1::ListCasesRequest query;
  query.set_submitting_system(who->subject);
  SetTime(query.mutable_updated_from(), from);
  SetTime(query.mutable_updated_to(), to);
  query.set_page_size(200);
  std::vector<t::Case> cases;
  for (int pages = 0; pages < 50; ++pages) {
    absl::StatusOr<iv1::ListCasesResponse> got = intake_->List(who->subject, query);
    if (!got.ok()) return FromIntake(call, got.status());
    for (const t::Case& c : got->cases()) cases.push_back(c);
    if (got->next_page_token().empty() || cases.size() >= 5000) break;
    query.set_page_token(got->next_page_token());
  }
  // Oldest change first, so that a client that pulls from its last time misses nothing.
  std::sort(cases.begin(), cases.end(), [](const t::Case& a, const t::Case& b) {
    const absl::Time ta = events::GetTime(a.updated_at()), tb = events::GetTime(b.updated_at());
    return ta != tb ? ta < tb : a.case_id() < b.case_id();
  });
  Json updates = Json::array();
  const size_t first = static_cast<size_t>(page - 1) * page_size;
  for (size_t i = first; i < cases.size() && i < first + page_size; ++i) {
    updates.push_back(UpdateOf(cases[i], call.language));
  }
  return Answer(200, updates, call.format, "service_request_updates");
}

HttpResponse Gateway::PostUpdate(Call& call) {
  const auth::Principal* who = &call.who;
  static constexpr absl::string_view kKnown[] = {
      "api_key",   "jurisdiction_id", "service_request_id", "description",
      "media_url", "update_id",       "updated_datetime",   "status",
      "email",     "first_name",      "last_name",          "account_id",
      "phone",     "locale"};
  for (const auto& entry : call.params) {
    if (std::find(std::begin(kKnown), std::end(kKnown), entry.first) == std::end(kKnown)) {
      return ErrorResponse(400, absl::StrCat(entry.first, ": not a parameter of an update"),
                           call.format);
    }
  }
  const std::string id = Param(call.params, "service_request_id");
  if (id.empty()) return ErrorResponse(400, "service_request_id: required", call.format);
  if (id.size() > 64) return ErrorResponse(404, "service_request_id: not found", call.format);
  iv1::ProvideInformationRequest info;
  info.set_case_id(id);
  info.set_text(Param(call.params, "description"));
  if (const std::string media = Param(call.params, "media_url"); !media.empty()) {
    *info.add_attachments() = MediaLink(media);
  }
  std::string key;
  if (call.request.idempotency_key) {
    key = std::string(absl::StripAsciiWhitespace(*call.request.idempotency_key));
  } else if (const std::string update = Param(call.params, "update_id"); !update.empty()) {
    key = absl::StrCat("o311-update-", update);
  } else {
    key = DerivedRequestKey(who->subject, call.params);
  }
  if (!ValidKey(key)) {
    return ErrorResponse(400, "Idempotency-Key: must be 1-128 printable ASCII characters",
                         call.format);
  }
  info.set_command_id(key);
  if (intake_ == nullptr) return FromIntake(call, absl::UnavailableError("no intake"));
  absl::StatusOr<iv1::CaseResponse> done = intake_->ProvideInformation(who->subject, info);
  if (!done.ok()) {
    if (done.status().code() == absl::StatusCode::kPermissionDenied) {
      return ErrorResponse(404, "service_request_id: not found", call.format);
    }
    return FromIntake(call, done.status());
  }
  Json item = Json::object();
  item["update_id"] = done->event_id();
  return Answer(200, Json::array({item}), call.format, "service_request_updates");
}

}  // namespace meldpunt::open311
