// meldctl: the command line for people (Meldpunt team, operations, integrators trying things out).
//
//   meldctl submit --kind REPORT --category street-lighting --description "Lamp out" --email a@b.be
//   --name "A B" meldctl get MP-7K3QX9M2TD4AB meldctl clocks MP-7K3QX9M2TD4AB meldctl deliveries
//   MP-7K3QX9M2TD4AB meldctl explain --category noise
//
// Output is one key=value per line (easy to grep in scripts), or JSON with --json.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "libs/events/codec.h"
#include "libs/events/ids.h"
#include "meldpunt/deadline/v1/deadline.grpc.pb.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "meldpunt/notification/v1/notification.grpc.pb.h"
#include "meldpunt/routing/v1/routing.grpc.pb.h"

namespace {

namespace t = ::meldpunt::types::v1;

constexpr char kUsage[] = R"(usage: meldctl [global options] COMMAND [options]

global options:
  --intake HOST:PORT        intake gRPC address (default 127.0.0.1:50051)
  --routing HOST:PORT       routing gRPC address (default 127.0.0.1:50052)
  --deadline HOST:PORT      deadline-watch gRPC address (default 127.0.0.1:50053)
  --notification HOST:PORT  notification gRPC address (default 127.0.0.1:50054)
  --timeout SECONDS         call deadline (default 10)
  --json                    print the response as JSON

commands:
  submit --kind KIND --category CAT --description TEXT [--channel WEB] [--name N] [--email E]
         [--phone P] [--address A] [--postcode NNNN] [--language nl|fr|en] [--anonymous]
         [--priority NORMAL] [--system meldctl] [--request-key KEY]
  get CASE_ID
  clocks CASE_ID
  deliveries CASE_ID
  explain --category CAT [--kind KIND] [--description TEXT]
)";

struct Options {
  std::map<std::string, std::string> values;
  std::vector<std::string> positional;
  bool json = false;
  bool anonymous = false;
  std::string Get(const std::string& key, const std::string& fallback = "") const {
    auto it = values.find(key);
    return it == values.end() ? fallback : it->second;
  }
};

bool Parse(int argc, char** argv, Options* out, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--json") {
      out->json = true;
    } else if (arg == "--anonymous") {
      out->anonymous = true;
    } else if (arg == "-h" || arg == "--help") {
      out->positional = {"help"};
      return true;
    } else if (arg.rfind("--", 0) == 0) {
      std::string key = arg.substr(2);
      std::string value;
      size_t eq = key.find('=');
      if (eq != std::string::npos) {
        value = key.substr(eq + 1);
        key = key.substr(0, eq);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        *error = absl::StrCat("option --", key, " needs a value");
        return false;
      }
      out->values[key] = value;
    } else {
      out->positional.push_back(arg);
    }
  }
  return true;
}

int Fail(const grpc::Status& status) {
  std::fprintf(stderr, "error: %d %s\n", status.error_code(), status.error_message().c_str());
  google::rpc::Status rich;
  if (!status.error_details().empty() && rich.ParseFromString(status.error_details())) {
    for (const auto& detail : rich.details()) {
      google::rpc::BadRequest bad;
      if (bad.ParseFromString(detail.value())) {
        for (const auto& v : bad.field_violations()) {
          std::fprintf(stderr, "field %s: %s\n", v.field().c_str(), v.description().c_str());
        }
      }
    }
  }
  return status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? 2 : 1;
}

template <typename Enum>
bool ParseEnum(const std::string& text, bool (*parse)(const std::string&, Enum*), Enum* out) {
  return parse(text, out);
}

std::string Time(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "";
  return absl::FormatTime(absl::RFC3339_sec, meldpunt::events::GetTime(ts), absl::UTCTimeZone());
}

std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
  return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  std::string error;
  if (!Parse(argc, argv, &options, &error)) {
    std::fprintf(stderr, "%s\n%s", error.c_str(), kUsage);
    return 2;
  }
  if (options.positional.empty() || options.positional[0] == "help") {
    std::printf("%s", kUsage);
    return options.positional.empty() ? 2 : 0;
  }
  const std::string command = options.positional[0];
  const int timeout = std::atoi(options.Get("timeout", "10").c_str());
  auto context = [&] {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(timeout > 0 ? timeout : 10));
    return c;
  };
  auto need_case = [&]() -> std::string {
    if (options.positional.size() < 2) {
      std::fprintf(stderr, "%s needs a case id\n", command.c_str());
      std::exit(2);
    }
    return options.positional[1];
  };

  if (command == "submit") {
    meldpunt::intake::v1::SubmitCaseRequest request;
    request.set_submitting_system(options.Get("system", "meldctl"));
    request.set_request_key(options.Get("request-key", meldpunt::events::RandomId("meldctl")));
    auto* draft = request.mutable_draft();
    t::CaseKind kind = t::CASE_KIND_UNSPECIFIED;
    if (!t::CaseKind_Parse(options.Get("kind", "REPORT"), &kind)) {
      std::fprintf(stderr, "--kind: one of REPORT, COMPLAINT, SUGGESTION, COMPLIMENT, QUESTION\n");
      return 2;
    }
    draft->set_kind(kind);
    t::Channel channel = t::CHANNEL_UNSPECIFIED;
    if (!t::Channel_Parse(options.Get("channel", "WEB"), &channel)) {
      std::fprintf(stderr,
                   "--channel: one of WEB, PHONE, EMAIL, COUNTER, LETTER, APP, PARTNER_SYSTEM\n");
      return 2;
    }
    draft->set_channel(channel);
    t::Priority priority = t::PRIORITY_UNSPECIFIED;
    if (!t::Priority_Parse(options.Get("priority", "PRIORITY_UNSPECIFIED"), &priority)) {
      std::fprintf(stderr, "--priority: one of LOW, NORMAL, HIGH, URGENT\n");
      return 2;
    }
    draft->set_priority(priority);
    draft->set_category(options.Get("category"));
    draft->set_description(options.Get("description"));
    draft->mutable_location()->set_postcode(options.Get("postcode"));
    auto* reporter = draft->mutable_reporter();
    reporter->set_anonymous(options.anonymous);
    reporter->set_name(options.Get("name"));
    reporter->set_email(options.Get("email"));
    reporter->set_phone(options.Get("phone"));
    reporter->set_address(options.Get("address"));
    const std::string language = options.Get("language", "nl");
    reporter->set_language(language == "fr" ? t::FR : language == "en" ? t::EN : t::NL);
    auto stub =
        meldpunt::intake::v1::Intake::NewStub(Channel(options.Get("intake", "127.0.0.1:50051")));
    meldpunt::intake::v1::SubmitCaseResponse response;
    grpc::Status status = stub->SubmitCase(context().get(), request, &response);
    if (!status.ok()) return Fail(status);
    if (options.json) {
      std::printf("%s\n", meldpunt::events::ToJson(response).c_str());
    } else {
      std::printf("case_id=%s\ncreated=%s\nstate=%s\n", response.case_id().c_str(),
                  response.created() ? "true" : "false",
                  t::CaseState_Name(response.case_().state()).c_str());
    }
    return 0;
  }
  if (command == "get") {
    auto stub =
        meldpunt::intake::v1::Intake::NewStub(Channel(options.Get("intake", "127.0.0.1:50051")));
    meldpunt::intake::v1::GetCaseRequest request;
    request.set_case_id(need_case());
    meldpunt::intake::v1::GetCaseResponse response;
    grpc::Status status = stub->GetCase(context().get(), request, &response);
    if (!status.ok()) return Fail(status);
    const auto& c = response.case_();
    if (options.json) {
      std::printf("%s\n", meldpunt::events::ToJson(c).c_str());
    } else {
      std::printf(
          "case_id=%s\nkind=%s\nstate=%s\ncategory=%s\ndepartment=%s\npriority=%s\nacknowledged=%"
          "s\n"
          "submitted_at=%s\nupdated_at=%s\nbreached_clocks=%s\nversion=%lld\n",
          c.case_id().c_str(), t::CaseKind_Name(c.draft().kind()).c_str(),
          t::CaseState_Name(c.state()).c_str(), c.draft().category().c_str(),
          c.department().c_str(), t::Priority_Name(c.priority()).c_str(),
          c.acknowledged() ? "true" : "false", Time(c.submitted_at()).c_str(),
          Time(c.updated_at()).c_str(), absl::StrJoin(c.breached_clocks(), ",").c_str(),
          static_cast<long long>(c.version()));
    }
    return 0;
  }
  if (command == "clocks") {
    auto stub = meldpunt::deadline::v1::DeadlineWatch::NewStub(
        Channel(options.Get("deadline", "127.0.0.1:50053")));
    meldpunt::deadline::v1::ListClocksRequest request;
    request.set_case_id(need_case());
    meldpunt::deadline::v1::ListClocksResponse response;
    grpc::Status status = stub->ListClocks(context().get(), request, &response);
    if (!status.ok()) return Fail(status);
    if (options.json) {
      std::printf("%s\n", meldpunt::events::ToJson(response).c_str());
      return 0;
    }
    for (const auto& clock : response.clocks()) {
      std::printf("clock=%s status=%s due_at=%s started_at=%s\n", clock.name().c_str(),
                  meldpunt::deadline::v1::ClockStatus_Name(clock.status()).c_str(),
                  Time(clock.due_at()).c_str(), Time(clock.started_at()).c_str());
    }
    return 0;
  }
  if (command == "deliveries") {
    auto stub = meldpunt::notification::v1::Notifications::NewStub(
        Channel(options.Get("notification", "127.0.0.1:50054")));
    meldpunt::notification::v1::ListDeliveriesRequest request;
    request.set_case_id(need_case());
    meldpunt::notification::v1::ListDeliveriesResponse response;
    grpc::Status status = stub->ListDeliveries(context().get(), request, &response);
    if (!status.ok()) return Fail(status);
    if (options.json) {
      std::printf("%s\n", meldpunt::events::ToJson(response).c_str());
      return 0;
    }
    for (const auto& d : response.deliveries()) {
      std::printf("template=%s channel=%s recipient=%s status=%s attempts=%d at=%s\n",
                  d.template_name().c_str(), d.channel().c_str(), d.recipient().c_str(),
                  d.status().c_str(), d.attempts(), Time(d.at()).c_str());
    }
    return 0;
  }
  if (command == "explain") {
    auto stub =
        meldpunt::routing::v1::Routing::NewStub(Channel(options.Get("routing", "127.0.0.1:50052")));
    meldpunt::routing::v1::ExplainRouteRequest request;
    request.mutable_draft()->set_category(options.Get("category"));
    request.mutable_draft()->set_description(options.Get("description"));
    t::CaseKind kind = t::REPORT;
    t::CaseKind_Parse(options.Get("kind", "REPORT"), &kind);
    request.mutable_draft()->set_kind(kind);
    meldpunt::routing::v1::RouteDecision response;
    grpc::Status status = stub->ExplainRoute(context().get(), request, &response);
    if (!status.ok()) return Fail(status);
    if (options.json) {
      std::printf("%s\n", meldpunt::events::ToJson(response).c_str());
    } else {
      std::printf("department=%s\nrule=%s\ndispatch_topic=%s\nexplanation=%s\n",
                  response.department().c_str(), response.rule_id().c_str(),
                  response.dispatch_topic().c_str(), response.explanation().c_str());
    }
    return 0;
  }
  std::fprintf(stderr, "unknown command '%s'\n%s", command.c_str(), kUsage);
  return 2;
}
