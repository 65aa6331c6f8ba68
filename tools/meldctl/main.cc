// meldctl: the command line for people (Meldpunt team, departments, operations, integrators trying
// things out). `meldctl help` lists every command.
//
//   meldctl submit --kind REPORT --category street-lighting --description "Lamp out" \
//       --name "An Peeters" --email an@example.org
//   meldctl get MP-2026-7K3QX9M2T
//   meldctl list --state ROUTED --department roads
//   meldctl accept MP-2026-7K3QX9M2T --actor department:roads --assignee an.peeters
//   meldctl history MP-2026-7K3QX9M2T
//
// Output is one key=value per line (easy to grep in scripts), or JSON with --json. Exit status:
// 0 done, 2 usage error or INVALID_ARGUMENT, 1 any other error. Parsing lives in cli.h, the
// requests in requests.h, the printing in output.h; this file only calls the services.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "libs/auth/tokens.h"
#include "libs/events/codec.h"
#include "libs/events/ids.h"
#include "meldpunt/deadline/v1/deadline.grpc.pb.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "meldpunt/notification/v1/notification.grpc.pb.h"
#include "meldpunt/ops/v1/dead_letters.grpc.pb.h"
#include "meldpunt/routing/v1/routing.grpc.pb.h"
#include "tools/meldctl/cli.h"
#include "tools/meldctl/output.h"
#include "tools/meldctl/requests.h"

namespace meldpunt::meldctl {
namespace {

namespace t = ::meldpunt::types::v1;

constexpr char kIntakeAddress[] = "127.0.0.1:50051";
constexpr int kDefaultTimeoutSeconds = 10;
// The intake's own limit for a rebuild (projection.rebuild_timeout) is 30 minutes by default.
constexpr int kRebuildTimeoutSeconds = 1800;

int UsageFail(const absl::Status& status, const std::string& command) {
  std::fprintf(stderr, "meldctl: %s\n", std::string(status.message()).c_str());
  const CommandSpec* spec = FindCommand(command);
  if (spec != nullptr && spec->name != "help") {
    std::fprintf(stderr, "%s", CommandUsage(*spec).c_str());
  } else {
    std::fprintf(stderr, "run 'meldctl help' for the commands and their options\n");
  }
  return 2;
}

// Prints the error and the fields a google.rpc.BadRequest names. `retry_hint` is printed when the
// outcome is unknown and a retry is safe.
int Fail(const grpc::Status& status, const std::string& retry_hint = "") {
  const int code = status.error_code();
  const std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  std::fprintf(stderr, "error: %s (%d): %s\n", name.c_str(), code, status.error_message().c_str());
  google::rpc::Status rich;
  if (!status.error_details().empty() && rich.ParseFromString(status.error_details())) {
    for (const auto& detail : rich.details()) {
      google::rpc::BadRequest bad;
      if (detail.UnpackTo(&bad)) {
        for (const auto& v : bad.field_violations()) {
          std::fprintf(stderr, "field %s: %s\n", v.field().c_str(), v.description().c_str());
        }
      }
    }
  }
  if (!retry_hint.empty() && (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                              status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)) {
    std::fprintf(stderr, "the outcome is unknown; repeating with %s is safe\n", retry_hint.c_str());
  }
  return status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? 2 : 1;
}

void PrintJson(const google::protobuf::Message& message) {
  std::printf("%s\n", events::ToJson(message).c_str());
}

class Cli {
 public:
  explicit Cli(Options options) : options_(std::move(options)) {}

  int Run() {
    const std::string& command = options_.command;
    if (command == "submit") return Submit();
    if (command == "get") return Get();
    if (command == "list") return List();
    if (command == "triage") return Triage();
    if (command == "categories") return Categories();
    if (command == "history") return History();
    if (command == "accept") return Command(AcceptRequest(options_), &CaseWorkStub::AcceptCase);
    if (command == "bounce") return Command(BounceRequest(options_), &CaseWorkStub::BounceCase);
    if (command == "request-info") {
      return Command(RequestInfoRequest(options_), &CaseWorkStub::RequestInformation);
    }
    if (command == "answer") return Command(AnswerRequest(options_), &CaseWorkStub::AnswerCase);
    if (command == "close") return Command(CloseRequest(options_), &CaseWorkStub::CloseCase);
    if (command == "reassign") {
      return Command(ReassignRequest(options_), &CaseWorkStub::ReassignCase);
    }
    if (command == "priority") {
      return Command(PriorityRequest(options_), &CaseWorkStub::ChangePriority);
    }
    if (command == "admissibility") {
      return Command(AdmissibilityRequest(options_), &CaseWorkStub::DecideAdmissibility);
    }
    if (command == "merge") return Command(MergeRequest(options_), &CaseWorkStub::MergeCase);
    if (command == "refer") return Command(ReferRequest(options_), &CaseWorkStub::ReferExternally);
    if (command == "provide-info") {
      return Command(ProvideInfoRequest(options_), &IntakeStub::ProvideInformation);
    }
    if (command == "withdraw") {
      return Command(WithdrawRequest(options_), &IntakeStub::WithdrawCase);
    }
    if (command == "reopen") return Command(ReopenRequest(options_), &IntakeStub::ReopenCase);
    if (command == "clocks") return Clocks();
    if (command == "clock") return ClockChange();
    if (command == "deliveries") return Deliveries();
    if (command == "explain") return Explain();
    if (command == "rebuild") return Rebuild();
    if (command == "report") return Report();
    if (command == "erase") {
      return Command(EraseRequest(options_), &intake::v1::Admin::Stub::EraseReporterData);
    }
    if (command == "deadlines") return Deadlines();
    if (command == "rebuild-timers") return RebuildTimers();
    if (command == "rebuild-deliveries") return RebuildDeliveries();
    if (command == "dlq") return DeadLetters();
    if (command == "watch") return Watch();
    if (command == "retry") return Retry();
    if (command == "preview") return Preview();
    if (command == "rules") return RulesCommand(false);
    if (command == "workload") return Workload();
    if (command == "reload-rules") return RulesCommand(true);
    if (command == "jwk") return Jwk();
    return UsageFail(absl::InvalidArgumentError(absl::StrCat("unknown command '", command, "'")),
                     command);
  }

 private:
  using IntakeStub = intake::v1::Intake::Stub;
  using CaseWorkStub = intake::v1::CaseWork::Stub;

  std::unique_ptr<grpc::ClientContext> Context(int default_seconds = kDefaultTimeoutSeconds) const {
    int seconds = default_seconds;
    if (options_.Has("timeout")) seconds = std::stoi(options_.Get("timeout"));  // checked by Parse
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
    Authorize(*context);
    return context;
  }

  // A global option, else its environment variable, else "".
  std::string Setting(const std::string& option, const char* env) const {
    if (options_.Has(option)) return options_.Get(option);
    const char* value = std::getenv(env);
    return value == nullptr ? "" : value;
  }

  static std::string ReadFileOrEmpty(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // The bearer token of every call (--token, --token-file, $MELDPUNT_TOKEN, $MELDPUNT_TOKEN_FILE).
  void Authorize(grpc::ClientContext& context) const {
    std::string token = Setting("token", "MELDPUNT_TOKEN");
    if (token.empty()) {
      const std::string file = Setting("token-file", "MELDPUNT_TOKEN_FILE");
      if (!file.empty()) token = ReadFileOrEmpty(file);
    }
    token = std::string(absl::StripAsciiWhitespace(token));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  }

  std::shared_ptr<grpc::Channel> Channel(const std::string& option,
                                         const std::string& fallback) const {
    const std::string address = options_.Get(option, fallback);
    const std::string ca = Setting("ca", "MELDPUNT_TLS_CA");
    const std::string cert = Setting("cert", "MELDPUNT_TLS_CERT");
    if (ca.empty() && cert.empty()) {
      return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    }
    grpc::SslCredentialsOptions ssl;
    if (!ca.empty()) ssl.pem_root_certs = ReadFileOrEmpty(ca);
    if (!cert.empty()) {
      ssl.pem_cert_chain = ReadFileOrEmpty(cert);
      ssl.pem_private_key = ReadFileOrEmpty(Setting("key", "MELDPUNT_TLS_KEY"));
    }
    grpc::ChannelArguments args;
    const std::string name = Setting("tls-name", "MELDPUNT_TLS_NAME");
    if (!name.empty()) args.SetSslTargetNameOverride(name);
    return grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args);
  }

  std::unique_ptr<IntakeStub> Intake() const {
    return intake::v1::Intake::NewStub(Channel("intake", kIntakeAddress));
  }

  // Prints a command's answer: the case after the command, and the event appended.
  int PrintCaseResponse(const intake::v1::CaseResponse& response) const {
    if (options_.Flag("json")) {
      PrintJson(response);
    } else {
      std::printf("%sevent_id=%s\n", CaseText(response.case_()).c_str(),
                  response.event_id().c_str());
    }
    return 0;
  }

  // The command id a retry must repeat: --command-id, or one made up now.
  template <typename Request>
  void EnsureCommandId(Request& request) const {
    if (request.command_id().empty()) request.set_command_id(events::RandomId("meldctl"));
  }

  // A command on a case (CaseWork, or the reporter's commands on Intake): prints the case after it.
  template <typename Stub, typename Request>
  int Command(absl::StatusOr<Request> request,
              grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                           intake::v1::CaseResponse*)) {
    if (!request.ok()) return UsageFail(request.status(), options_.command);
    EnsureCommandId(*request);
    Stub stub(Channel("intake", kIntakeAddress));
    intake::v1::CaseResponse response;
    grpc::Status status = (stub.*method)(Context().get(), *request, &response);
    if (!status.ok()) return Fail(status, "--command-id " + request->command_id());
    return PrintCaseResponse(response);
  }

  // The case id of the CASE argument. Deadline-watch and notification know case ids only, so a
  // reference is looked up at the intake first. 0 when done, else the exit status.
  int ResolveCaseId(std::string* case_id) {
    const std::string& arg = options_.args.at(0);
    if (events::IsCaseId(arg)) {
      *case_id = arg;
      return 0;
    }
    intake::v1::GetCaseRequest request;
    request.set_case_id(arg);
    intake::v1::GetCaseResponse response;
    grpc::Status status = Intake()->GetCase(Context().get(), request, &response);
    if (!status.ok()) return Fail(status);
    *case_id = response.case_().case_id();
    return 0;
  }

  int Submit() {
    absl::StatusOr<intake::v1::SubmitCaseRequest> request = SubmitRequest(options_);
    if (!request.ok()) return UsageFail(request.status(), options_.command);
    intake::v1::SubmitCaseResponse response;
    grpc::Status status = Intake()->SubmitCase(Context().get(), *request, &response);
    if (!status.ok()) {
      return Fail(status, absl::StrCat("--system ", request->submitting_system(), " --request-key ",
                                       request->request_key()));
    }
    if (options_.Flag("json")) {
      PrintJson(response);
      return 0;
    }
    const std::string reference =
        response.reference().empty() ? response.case_().reference() : response.reference();
    std::printf("case_id=%s\nreference=%s\ncreated=%s\nstate=%s\n", response.case_id().c_str(),
                reference.c_str(), response.created() ? "true" : "false",
                t::CaseState_Name(response.case_().state()).c_str());
    return 0;
  }

  int Get() {
    intake::v1::GetCaseRequest request;
    request.set_case_id(options_.args.at(0));
    intake::v1::GetCaseResponse response;
    grpc::Status status = Intake()->GetCase(Context().get(), request, &response);
    if (!status.ok()) return Fail(status);
    if (options_.Flag("json")) {
      PrintJson(response.case_());
    } else {
      std::printf("%s", CaseText(response.case_()).c_str());
    }
    return 0;
  }

  // ListCases, one page or with --all every page, into `all`. 0 when done, else the exit status.
  int FetchCases(intake::v1::ListCasesRequest request, intake::v1::ListCasesResponse* all) {
    auto stub = Intake();
    while (true) {
      intake::v1::ListCasesResponse page;
      grpc::Status status = stub->ListCases(Context().get(), request, &page);
      if (!status.ok()) {
        // What was listed so far is not lost; the token continues from there.
        if (!all->cases().empty()) {
          std::fprintf(stderr, "listed %d cases before the error; continue with --page-token %s\n",
                       all->cases_size(), request.page_token().c_str());
        }
        return Fail(status);
      }
      for (auto& c : *page.mutable_cases()) *all->add_cases() = std::move(c);
      all->set_next_page_token(page.next_page_token());
      if (!options_.Flag("all") || page.next_page_token().empty()) break;
      if (page.next_page_token() == request.page_token()) {
        std::fprintf(stderr, "error: the server returned the same page token twice; stopped\n");
        return 1;
      }
      request.set_page_token(page.next_page_token());
    }
    return 0;
  }

  int List() {
    absl::StatusOr<intake::v1::ListCasesRequest> request = ListRequest(options_);
    if (!request.ok()) return UsageFail(request.status(), options_.command);
    intake::v1::ListCasesResponse all;
    if (int failed = FetchCases(*request, &all); failed != 0) return failed;
    if (options_.Flag("json")) {
      PrintJson(all);
      return 0;
    }
    std::printf("%s", CaseTable(all.cases()).c_str());
    if (!all.next_page_token().empty()) {
      std::printf("next_page_token=%s\n", all.next_page_token().c_str());
    }
    return 0;
  }

  // list --state IN_TRIAGE, oldest first among the cases fetched (the JSON too).
  int Triage() {
    absl::StatusOr<intake::v1::ListCasesRequest> request = TriageRequest(options_);
    if (!request.ok()) return UsageFail(request.status(), options_.command);
    intake::v1::ListCasesResponse all;
    if (int failed = FetchCases(*request, &all); failed != 0) return failed;
    SortOldestFirst(all.mutable_cases());
    if (options_.Flag("json")) {
      PrintJson(all);
      return 0;
    }
    std::printf("%s", TriageTable(all.cases()).c_str());
    if (!all.next_page_token().empty()) {
      // Older cases are on the next pages: this page is the newest of the queue.
      std::printf("next_page_token=%s\n", all.next_page_token().c_str());
    }
    return 0;
  }

  int Categories() {
    absl::StatusOr<intake::v1::GetCategoriesRequest> request = CategoriesRequest(options_);
    if (!request.ok()) return UsageFail(request.status(), options_.command);
    intake::v1::GetCategoriesResponse response;
    grpc::Status status = Intake()->GetCategories(Context().get(), *request, &response);
    if (!status.ok()) return Fail(status);
    if (options_.Flag("json")) {
      PrintJson(response);
    } else {
      std::printf("%s", CategoryTree(response).c_str());
    }
    return 0;
  }

  int History() {
    intake::v1::GetCaseHistoryRequest request;
    request.set_case_id(options_.args.at(0));
    intake::v1::GetCaseHistoryResponse response;
    grpc::Status status = Intake()->GetCaseHistory(Context().get(), request, &response);
    if (!status.ok()) return Fail(status);
    if (options_.Flag("json")) {
      PrintJson(response);
    } else {
      std::printf("%s", HistoryText(response).c_str());
    }
    return 0;
  }

  int Clocks() {
    std::string case_id;
    if (int failed = ResolveCaseId(&case_id); failed != 0) return failed;
    auto stub = deadline::v1::DeadlineWatch::NewStub(Channel("deadline", "127.0.0.1:50053"));
    deadline::v1::GetCaseClocksRequest request;
    request.set_case_id(case_id);
    deadline::v1::GetCaseClocksResponse response;
    grpc::Status status = stub->GetCaseClocks(Context().get(), request, &response);
    if (!status.ok()) return Fail(status);
    if (options_.Flag("json")) {
      PrintJson(response);
      return 0;
    }
    for (const auto& clock : response.clocks()) {
      std::printf(
          "clock=%s status=%s due_at=%s started_at=%s%s%s\n", clock.name().c_str(),
          deadline::v1::ClockStatus_Name(clock.status()).c_str(), Time(clock.due_at()).c_str(),
          Time(clock.started_at()).c_str(), clock.suspended() ? " suspended=true" : "",
          clock.extensions() > 0 ? absl::StrCat(" extensions=", clock.extensions()).c_str() : "");
    }
    return 0;
  }

  // meldctl clock extend|suspend|resume CASE ...: prints the clock after the change.
  int ClockChange() {
    absl::StatusOr<ClockChangeRequest> request = ClockRequest(options_);
    if (!request.ok()) return UsageFail(request.status(), options_.command);
    // The CASE is the second argument here; deadline-watch knows case ids only.
    std::string case_id = options_.args.at(1);
    if (!events::IsCaseId(case_id)) {
      intake::v1::GetCaseRequest get;
      get.set_case_id(case_id);
      intake::v1::GetCaseResponse found;
      grpc::Status status = Intake()->GetCase(Context().get(), get, &found);
      if (!status.ok()) return Fail(status);
      case_id = found.case_().case_id();
    }
    // A retry must repeat the command id: --command-id, or one made up now and printed on failure.
    std::string command_id = options_.Get("command-id");
    if (command_id.empty()) command_id = events::RandomId("meldctl");
    auto stub = deadline::v1::DeadlineWatch::NewStub(Channel("deadline", "127.0.0.1:50053"));
    deadline::v1::ChangeClockResponse response;
    grpc::Status status;
    if (request->action == "extend") {
      request->extend.set_case_id(case_id);
      request->extend.set_command_id(command_id);
      status = stub->ExtendClock(Context().get(), request->extend, &response);
    } else if (request->action == "suspend") {
      request->suspend.set_case_id(case_id);
      request->suspend.set_command_id(command_id);
      status = stub->SuspendClock(Context().get(), request->suspend, &response);
    } else {
      request->resume.set_case_id(case_id);
      request->resume.set_command_id(command_id);
      status = stub->ResumeClock(Context().get(), request->resume, &response);
    }
    if (!status.ok()) return Fail(status, "--command-id " + command_id);
    if (options_.Flag("json")) {
      PrintJson(response);
      return 0;
    }
    const auto& clock = response.clock();
    std::printf(
        "clock=%s status=%s generation=%d due_at=%s suspended=%s extensions=%d event_id=%s\n",
        clock.name().c_str(), deadline::v1::ClockStatus_Name(clock.status()).c_str(),
        clock.generation(), Time(clock.due_at()).c_str(), clock.suspended() ? "true" : "false",
        clock.extensions(), response.event_id().c_str());
    return 0;
  }

  int Deadlines() {
    deadline::v1::ListDeadlinesRequest request;
    if (options_.Has("due-before")) {
      absl::StatusOr<absl::Time> before = ParseTimeOption("due-before", options_.Get("due-before"));
      if (!before.ok()) return UsageFail(before.status(), options_.command);
      events::SetTime(request.mutable_due_before(), *before);
    }
    request.set_breached_only(options_.Flag("breached"));
    request.set_department(options_.Get("department"));
    request.set_kind(options_.Get("kind"));
    if (options_.Has("page-size")) {
      int size = 0;
      if (!absl::SimpleAtoi(options_.Get("page-size"), &size) || size < 1 || size > 500) {
        return UsageFail(absl::InvalidArgumentError("--page-size: 1-500"), options_.command);
      }
      request.set_page_size(size);
    }
    request.set_page_token(options_.Get("page-token"));
    auto stub = deadline::v1::DeadlineWatch::NewStub(Channel("deadline", "127.0.0.1:50053"));
    deadline::v1::ListDeadlinesResponse response;
    grpc::Status status = stub->ListDeadlines(Context().get(), request, &response);
    if (!status.ok()) return Fail(status);
    if (options_.Flag("json")) {
      PrintJson(response);
      return 0;
    }
    for (const auto& clock : response.clocks()) {
      std::printf("case=%s clock=%s status=%s due_at=%s department=%s kind=%s\n",
                  clock.case_id().c_str(), clock.name().c_str(),
                  deadline::v1::ClockStatus_Name(clock.status()).c_str(),
                  Time(clock.due_at()).c_str(), clock.department().c_str(), clock.kind().c_str());
    }
    if (!response.next_page_token().empty()) {
      std::printf("next_page_token=%s\n", response.next_page_token().c_str());
    }
    return 0;
  }

  int Watch() {
    deadline::v1::WatchDeadlinesRequest request;
    request.set_department(options_.Get("department"));
    request.set_kind(options_.Get("kind"));
    int64_t count = 0;
    if (options_.Has("count") && (!absl::SimpleAtoi(options_.Get("count"), &count) || count < 1)) {
      return UsageFail(absl::InvalidArgumentError("--count: a positive number"), options_.command);
    }
    auto stub = deadline::v1::DeadlineWatch::NewStub(Channel("deadline", "127.0.0.1:50053"));
    grpc::ClientContext context;
    Authorize(context);
    if (options_.Has("timeout")) {
      context.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::seconds(std::stoi(options_.Get("timeout"))));
    }
    auto reader = stub->WatchDeadlines(&context, request);
    deadline::v1::DeadlineAlert alert;
    int64_t seen = 0;
    while (reader->Read(&alert)) {
      if (options_.Flag("json")) {
        PrintJson(alert);
      } else {
        std::printf("%s %s case=%s clock=%s generation=%d due_at=%s department=%s",
                    Time(alert.occurred_at()).c_str(),
                    deadline::v1::DeadlineAlert::Type_Name(alert.type()).c_str(),
                    alert.case_id().c_str(), alert.clock().c_str(), alert.generation(),
                    Time(alert.due_at()).c_str(), alert.department().c_str());
        if (alert.type() == deadline::v1::DeadlineAlert::WARNING)
          std::printf(" fraction=%.2f", alert.fraction());
        if (alert.type() == deadline::v1::DeadlineAlert::ESCALATION)
          std::printf(" level=%d target=%s", alert.level(), alert.target().c_str());
        std::printf("\n");
      }
      std::fflush(stdout);
      if (count > 0 && ++seen >= count) {
        context.TryCancel();
        break;
      }
    }
    grpc::Status status = reader->Finish();
    if (count > 0 && seen >= count) return 0;
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) return 0;  // --timeout
    if (!status.ok()) return Fail(status);
    return 0;
  }

  int RebuildTimers() {
    auto stub = deadline::v1::DeadlineWatch::NewStub(Channel("deadline", "127.0.0.1:50053"));
    deadline::v1::RebuildTimersResponse response;
    grpc::Status status = stub->RebuildTimers(Context(kRebuildTimeoutSeconds).get(),
                                              deadline::v1::RebuildTimersRequest(), &response);
    if (!status.ok()) return Fail(status);
    if (options_.Flag("json")) {
      PrintJson(response);
    } else {
      std::printf("events=%lld\n", static_cast<long long>(response.events()));
    }
    return 0;
  }

  int RebuildDeliveries() {
    auto stub =
        notification::v1::Notifications::NewStub(Channel("notification", "127.0.0.1:50054"));
    notification::v1::RebuildDeliveriesResponse response;
    grpc::Status status =
        stub->RebuildDeliveries(Context(kRebuildTimeoutSeconds).get(),
                                notification::v1::RebuildDeliveriesRequest(), &response);
    if (!status.ok()) return Fail(status);
    if (options_.Flag("json")) {
      PrintJson(response);
    } else {
      std::printf("events=%lld sent_again=%lld\n", static_cast<long long>(response.events()),
                  static_cast<long long>(response.sent_again()));
    }
    return 0;
  }

  // The services that serve dead letters: name, address option, default address, and the
  // default consumer group (the prefix of its dead-letter ids).
  struct DeadLetterHost {
    const char* name;
    const char* option;
    const char* address;
    const char* group;
  };
  // Each call reads the dead-letter topic to its end (and a replay runs the handler): more than
  // the default deadline.
  static constexpr int kDeadLetterTimeoutSeconds = 60;
  static constexpr DeadLetterHost kDeadLetterHosts[] = {
      {"intake", "intake", "127.0.0.1:50051", "meldpunt-intake-projection"},
      {"routing", "routing", "127.0.0.1:50052", "meldpunt-routing"},
      {"deadline-watch", "deadline", "127.0.0.1:50053", "meldpunt-deadline-watch"},
      {"notification", "notification", "127.0.0.1:50054", "meldpunt-notification"}};

  // --service, or for an ID the service whose default group it starts with.
  absl::StatusOr<const DeadLetterHost*> DeadLetterService(const std::string& id) const {
    const std::string service = options_.Get("service");
    for (const DeadLetterHost& host : kDeadLetterHosts) {
      if (!service.empty() ? service == host.name || service == host.option
                           : !id.empty() && absl::StartsWith(id, absl::StrCat(host.group, "/"))) {
        return &host;
      }
    }
    return UsageError(service.empty()
                          ? "--service: required for this id (intake, routing, deadline-watch or "
                            "notification)"
                          : "--service: one of intake, routing, deadline-watch, notification");
  }

  int DeadLetters() {
    const std::string action = options_.args.at(0);
    const std::string id = options_.args.size() > 1 ? options_.args.at(1) : "";
    if (action == "list") {
      if (!id.empty()) return UsageFail(UsageError("dlq list takes no ID"), "dlq");
      std::vector<const DeadLetterHost*> hosts;
      if (options_.Has("service")) {
        absl::StatusOr<const DeadLetterHost*> host = DeadLetterService("");
        if (!host.ok()) return UsageFail(host.status(), "dlq");
        hosts.push_back(*host);
      } else {
        for (const DeadLetterHost& host : kDeadLetterHosts) hosts.push_back(&host);
      }
      int failed = 0;
      ops::v1::ListDeadLettersResponse all;
      for (const DeadLetterHost* host : hosts) {
        auto stub = ops::v1::DeadLetters::NewStub(Channel(host->option, host->address));
        ops::v1::ListDeadLettersRequest request;
        request.set_include_closed(options_.Flag("all"));
        ops::v1::ListDeadLettersResponse response;
        grpc::Status status =
            stub->ListDeadLetters(Context(kDeadLetterTimeoutSeconds).get(), request, &response);
        if (!status.ok()) {
          std::fprintf(stderr, "%s: ", host->name);
          failed = Fail(status);
          continue;
        }
        all.set_open(all.open() + response.open());
        for (auto& entry : *response.mutable_entries()) *all.add_entries() = std::move(entry);
      }
      if (options_.Flag("json")) {
        PrintJson(all);
      } else {
        for (const ops::v1::DeadLetterEntry& entry : all.entries()) {
          const events::v1::DeadLetter& d = entry.dead_letter();
          std::string state = entry.open() ? "open" : "closed";
          if (!entry.open() && entry.actions_size() > 0) {
            state = absl::AsciiStrToLower(events::v1::DeadLetterAction::Kind_Name(
                entry.actions(entry.actions_size() - 1).kind()));
          }
          std::printf(
              "%s service=%s case=%s event=%s type=%s state=%s reason=\"%s\" attempts=%d "
              "at=%s error=%s: %s\n",
              d.dead_letter_id().c_str(), d.service().c_str(), d.case_id().c_str(),
              d.event_id().c_str(), d.event_type().c_str(), state.c_str(), d.reason().c_str(),
              d.attempts(), Time(d.at()).c_str(), d.error_code().c_str(), d.error().c_str());
        }
        std::printf("open=%d\n", all.open());
      }
      return failed;
    }
    if (action != "replay" && action != "drop") {
      return UsageFail(UsageError("dlq: list, replay ID or drop ID --reason TEXT"), "dlq");
    }
    if (id.empty())
      return UsageFail(UsageError(absl::StrCat("dlq ", action, ": ID required")), "dlq");
    absl::StatusOr<const DeadLetterHost*> host = DeadLetterService(id);
    if (!host.ok()) return UsageFail(host.status(), "dlq");
    auto stub = ops::v1::DeadLetters::NewStub(Channel((*host)->option, (*host)->address));
    events::v1::DeadLetterAction action_taken;
    grpc::Status status;
    if (action == "replay") {
      ops::v1::ReplayDeadLetterRequest request;
      request.set_dead_letter_id(id);
      ops::v1::ReplayDeadLetterResponse response;
      status = stub->ReplayDeadLetter(Context(kDeadLetterTimeoutSeconds).get(), request, &response);
      action_taken = response.action();
    } else {
      ops::v1::DropDeadLetterRequest request;
      request.set_dead_letter_id(id);
      request.set_reason(options_.Get("reason"));
      ops::v1::DropDeadLetterResponse response;
      status = stub->DropDeadLetter(Context(kDeadLetterTimeoutSeconds).get(), request, &response);
      action_taken = response.action();
    }
    if (!status.ok()) return Fail(status);
    if (options_.Flag("json")) {
      PrintJson(action_taken);
    } else {
      std::printf(
          "%s %s by %s (%s) at %s\n", action_taken.dead_letter_id().c_str(),
          absl::AsciiStrToLower(events::v1::DeadLetterAction::Kind_Name(action_taken.kind()))
              .c_str(),
          action_taken.actor().c_str(), action_taken.role().c_str(),
          Time(action_taken.at()).c_str());
    }
    return 0;
  }

  int Report() {
    if (absl::Status s = CheckReport(options_); !s.ok()) return UsageFail(s, "report");
    const std::string what = options_.args.at(0);
    auto stub = intake::v1::Reporting::NewStub(Channel("intake", kIntakeAddress));
    absl::StatusOr<intake::v1::ReportGrouping> group = ReportGroupingOption(options_);
    if (!group.ok()) return UsageFail(group.status(), "report");
    auto year = [&]() -> absl::StatusOr<int64_t> {
      if (!options_.Has("year")) return UsageError("report " + what + " needs --year");
      return ParseIntOption("year", options_.Get("year"), 2000, 2100);
    };
    if (what == "indicators") {
      intake::v1::GetIndicatorsRequest request;
      for (const char* bound : {"from", "to"}) {
        if (!options_.Has(bound)) {
          return UsageFail(UsageError(absl::StrCat("report indicators needs --", bound)), "report");
        }
        absl::StatusOr<absl::Time> t = ParseTimeOption(bound, options_.Get(bound));
        if (!t.ok()) return UsageFail(t.status(), "report");
        events::SetTime(
            std::string(bound) == "from" ? request.mutable_from() : request.mutable_to(), *t);
      }
      request.set_group_by(*group);
      intake::v1::GetIndicatorsResponse response;
      grpc::Status status = stub->GetIndicators(Context(60).get(), request, &response);
      if (!status.ok()) return Fail(status);
      if (options_.Flag("json")) {
        PrintJson(response);
        return 0;
      }
      std::printf("%-24s %9s %8s %7s %9s %9s %8s %9s %9s %10s\n", "group", "received", "closed",
                  "open", "p50_days", "p90_days", "bounces", "reroutes", "reopened", "duplicates");
      auto line = [](const intake::v1::IndicatorRow& row, const std::string& group) {
        std::printf("%-24s %9lld %8lld %7lld %9.1f %9.1f %8lld %9lld %9lld %10lld\n", group.c_str(),
                    static_cast<long long>(row.received()), static_cast<long long>(row.closed()),
                    static_cast<long long>(row.open()), row.handling_days_p50(),
                    row.handling_days_p90(), static_cast<long long>(row.bounces()),
                    static_cast<long long>(row.reroutes()), static_cast<long long>(row.reopened()),
                    static_cast<long long>(row.duplicates()));
      };
      for (const auto& row : response.rows())
        line(row, row.group().empty() ? "(none)" : row.group());
      line(response.total(), "total");
      for (const auto& share : response.total().within_term()) {
        std::printf("within_term clock=%s stopped=%lld within=%lld share=%.3f\n",
                    share.clock().c_str(), static_cast<long long>(share.stopped()),
                    static_cast<long long>(share.within_term()), share.share());
      }
      return 0;
    }
    if (what == "complaints") {
      absl::StatusOr<int64_t> y = year();
      if (!y.ok()) return UsageFail(y.status(), "report");
      intake::v1::GetComplaintsReportRequest request;
      request.set_year(static_cast<int>(*y));
      intake::v1::ComplaintsReport response;
      grpc::Status status = stub->GetComplaintsReport(Context(60).get(), request, &response);
      if (!status.ok()) return Fail(status);
      PrintJson(response);
      return 0;
    }
    if (what == "export") {
      absl::StatusOr<intake::v1::ExportReportRequest> request = ExportRequest(options_);
      if (!request.ok()) return UsageFail(request.status(), "report");
      intake::v1::ExportReportResponse response;
      grpc::Status status = stub->ExportReport(Context(120).get(), *request, &response);
      if (!status.ok()) return Fail(status);
      if (!options_.Has("out")) {
        std::fwrite(response.body().data(), 1, response.body().size(), stdout);
        return 0;
      }
      std::ofstream out(options_.Get("out"), std::ios::binary);
      out << response.body();
      if (!out) {
        std::fprintf(stderr, "meldctl: cannot write %s\n", options_.Get("out").c_str());
        return 1;
      }
      std::printf("wrote %s (%zu bytes, %s)\n", options_.Get("out").c_str(), response.body().size(),
                  response.content_type().c_str());
      return 0;
    }
    return UsageFail(UsageError("report: indicators, complaints or export"), "report");
  }

  int Deliveries() {
    std::string case_id;
    if (int failed = ResolveCaseId(&case_id); failed != 0) return failed;
    auto stub =
        notification::v1::Notifications::NewStub(Channel("notification", "127.0.0.1:50054"));
    notification::v1::ListDeliveriesRequest request;
    request.set_case_id(case_id);
    notification::v1::ListDeliveriesResponse response;
    grpc::Status status = stub->ListDeliveries(Context().get(), request, &response);
    if (!status.ok()) return Fail(status);
    if (options_.Flag("json")) {
      PrintJson(response);
      return 0;
    }
    for (const auto& d : response.deliveries()) {
      std::printf("template=%s channel=%s recipient=%s status=%s attempts=%d at=%s key=%s",
                  d.template_name().c_str(), d.channel().c_str(), d.recipient().c_str(),
                  d.status().c_str(), d.attempts(), Time(d.at()).c_str(),
                  d.idempotency_key().c_str());
      if (d.has_next_attempt_at())
        std::printf(" next_attempt_at=%s", Time(d.next_attempt_at()).c_str());
      if (!d.last_error().empty()) std::printf(" last_error=%s", d.last_error().c_str());
      std::printf("\n");
    }
    return 0;
  }

  int Retry() {
    std::string case_id;
    if (int failed = ResolveCaseId(&case_id); failed != 0) return failed;
    auto stub =
        notification::v1::Notifications::NewStub(Channel("notification", "127.0.0.1:50054"));
    notification::v1::RetryDeliveryRequest request;
    request.set_case_id(case_id);
    request.set_idempotency_key(options_.Get("key"));
    notification::v1::RetryDeliveryResponse response;
    grpc::Status status = stub->RetryDelivery(Context().get(), request, &response);
    if (!status.ok()) return Fail(status);
    if (options_.Flag("json")) {
      PrintJson(response);
      return 0;
    }
    std::printf("template=%s status=%s next_attempt_at=%s\n",
                response.delivery().template_name().c_str(), response.delivery().status().c_str(),
                Time(response.delivery().next_attempt_at()).c_str());
    return 0;
  }

  // The JWK of a public key: what an operator adds to the key set to rotate token keys.
  int Jwk() {
    std::ifstream in(options_.args.at(0));
    if (!in) {
      return UsageFail(
          absl::InvalidArgumentError(absl::StrCat("cannot read '", options_.args.at(0), "'")),
          "jwk");
    }
    std::ostringstream pem;
    pem << in.rdbuf();
    absl::StatusOr<std::string> jwk =
        auth::PublicKeyJwk(pem.str(), options_.Get("kid"), options_.Get("alg"));
    if (!jwk.ok()) return UsageFail(jwk.status(), "jwk");
    absl::StatusOr<std::vector<auth::VerificationKey>> check =
        auth::ParseKeySet(absl::StrCat("{\"keys\": [", *jwk, "]}"), "--alg/--kid");
    if (!check.ok()) return UsageFail(check.status(), "jwk");
    std::printf("%s\n", jwk->c_str());
    return 0;
  }

  int Preview() {
    notification::v1::PreviewTemplateRequest request;
    request.set_template_name(options_.args.at(0));
    request.set_language(options_.Get("language"));
    if (options_.Has("case")) {
      const std::string arg = options_.Get("case");
      if (events::IsCaseId(arg)) {
        request.set_case_id(arg);
      } else {
        intake::v1::GetCaseRequest get;
        get.set_case_id(arg);  // a reference is accepted there
        intake::v1::GetCaseResponse got;
        grpc::Status status = Intake()->GetCase(Context().get(), get, &got);
        if (!status.ok()) return Fail(status);
        request.set_case_id(got.case_().case_id());
      }
    }
    auto stub =
        notification::v1::Notifications::NewStub(Channel("notification", "127.0.0.1:50054"));
    notification::v1::PreviewTemplateResponse response;
    grpc::Status status = stub->PreviewTemplate(Context().get(), request, &response);
    if (!status.ok()) return Fail(status);
    if (options_.Flag("json")) {
      PrintJson(response);
      return 0;
    }
    std::printf("Subject: %s\n\n%s", response.subject().c_str(), response.body().c_str());
    return 0;
  }

  int Explain() {
    absl::StatusOr<routing::v1::ExplainRouteRequest> request = ExplainRequest(options_);
    if (!request.ok()) return UsageFail(request.status(), options_.command);
    auto stub = routing::v1::Routing::NewStub(Channel("routing", "127.0.0.1:50052"));
    routing::v1::RouteDecision response;
    grpc::Status status = stub->ExplainRoute(Context().get(), *request, &response);
    if (!status.ok()) return Fail(status);
    if (options_.Flag("json")) {
      PrintJson(response);
    } else {
      if (!response.refer_to().empty()) {
        std::printf("refer_to=%s\n", OneLine(response.refer_to()).c_str());
      } else {
        std::printf("department=%s\nteam=%s\nassignee=%s\ndispatch_topic=%s\n",
                    response.department().c_str(), response.team().c_str(),
                    response.assignee().c_str(), response.dispatch_topic().c_str());
      }
      std::printf("rule=%s\npriority=%s\ndistrict=%s\ndeadline_policy=%s\n",
                  response.rule_id().c_str(), types::v1::Priority_Name(response.priority()).c_str(),
                  response.district().c_str(), response.deadline_policy().c_str());
      for (const auto& reason : response.reasons())
        std::printf("reason=%s\n", OneLine(reason).c_str());
    }
    return 0;
  }

  int Workload() {
    auto stub = routing::v1::Routing::NewStub(Channel("routing", "127.0.0.1:50052"));
    routing::v1::GetWorkloadRequest request;
    request.set_department(options_.Get("department"));
    routing::v1::GetWorkloadResponse response;
    grpc::Status status = stub->GetWorkload(Context().get(), request, &response);
    if (!status.ok()) return Fail(status);
    if (options_.Flag("json")) {
      PrintJson(response);
      return 0;
    }
    std::printf("%s", WorkloadTable(response).c_str());
    return 0;
  }

  int RulesCommand(bool reload) {
    auto stub = routing::v1::Routing::NewStub(Channel("routing", "127.0.0.1:50052"));
    routing::v1::GetRulesResponse response;
    grpc::Status status =
        reload ? stub->ReloadRules(Context().get(), routing::v1::ReloadRulesRequest(), &response)
               : stub->GetRules(Context().get(), routing::v1::GetRulesRequest(), &response);
    if (!status.ok()) return Fail(status);
    if (options_.Flag("json")) {
      PrintJson(response);
      return 0;
    }
    if (reload) std::printf("reloaded=%s\n", response.source().c_str());
    std::printf("source=%s\ndefault_department=%s\nmax_hops=%d\n", response.source().c_str(),
                response.default_department().c_str(), response.max_hops());
    for (const auto& d : response.departments()) {
      std::printf("department=%s topic=%s may_see_reporter=%s\n", d.id().c_str(),
                  d.dispatch_topic().c_str(), d.may_see_reporter() ? "true" : "false");
    }
    for (const auto& c : response.categories()) {
      std::printf("category=%s department=%s\n", c.category().c_str(), c.department().c_str());
    }
    for (const auto& r : response.rules()) std::printf("rule=%s\n", r.c_str());
    for (const auto& d : response.districts()) std::printf("district=%s\n", d.c_str());
    return 0;
  }

  int Rebuild() {
    auto stub = intake::v1::Admin::NewStub(Channel("intake", kIntakeAddress));
    intake::v1::RebuildProjectionRequest request;
    intake::v1::RebuildProjectionResponse response;
    grpc::Status status =
        stub->RebuildProjection(Context(kRebuildTimeoutSeconds).get(), request, &response);
    if (!status.ok()) {
      if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
        std::fprintf(stderr,
                     "the rebuild may still be running in the intake: its /readyz answers 503 "
                     "until it is done, and another rebuild answers ABORTED meanwhile\n");
      }
      return Fail(status);
    }
    if (options_.Flag("json")) {
      PrintJson(response);
    } else {
      std::printf("events=%lld\ncases=%lld\n", static_cast<long long>(response.events()),
                  static_cast<long long>(response.cases()));
    }
    return 0;
  }

  Options options_;
};

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "%s", Usage().c_str());
    return 2;
  }
  absl::StatusOr<Options> options = Parse(std::vector<std::string>(argv + 1, argv + argc));
  if (!options.ok()) {
    // Name the command when there is one, so its usage line can follow.
    std::string command;
    for (int i = 1; i < argc; ++i) {
      if (FindCommand(argv[i]) != nullptr) {
        command = argv[i];
        break;
      }
    }
    return UsageFail(options.status(), command);
  }
  if (options->command == "help" || options->help) {
    const std::string topic = options->command == "help"
                                  ? (options->args.empty() ? "" : options->args[0])
                                  : options->command;
    if (topic.empty()) {
      std::printf("%s", Usage().c_str());
      return 0;
    }
    const CommandSpec* spec = FindCommand(topic);
    if (spec == nullptr) {
      return UsageFail(absl::InvalidArgumentError(absl::StrCat("unknown command '", topic, "'")),
                       "");
    }
    std::printf("%s", CommandUsage(*spec).c_str());
    return 0;
  }
  return Cli(*std::move(options)).Run();
}

}  // namespace
}  // namespace meldpunt::meldctl

int main(int argc, char** argv) { return meldpunt::meldctl::Main(argc, argv); }
