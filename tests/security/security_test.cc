// The findings of the security review of 2026-12-02, each tried again against the real intake and
// deadline-watch binaries, secured as in production (TLS, client certificates from a CA of the
// test's own, ES256 bearer tokens from a key set), on the test stack's Kafka and key store with a
// Redis of their own. Every test here failed on the code the review was made against.
#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "libs/auth/auth.h"
#include "libs/clock/clock.h"
#include "libs/events/codec.h"
#include "libs/events/event_log.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/kafka/producer.h"
#include "meldpunt/deadline/v1/deadline.grpc.pb.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "meldpunt/routing/v1/routing.grpc.pb.h"
#include "services/routing/routing_service.h"
#include "tests/security/kafka.h"
#include "tests/security/pki.h"
#include "tests/testing/process.h"
#include "tests/testing/stack.h"

namespace meldpunt {
namespace {

namespace t = ::meldpunt::types::v1;
namespace v1 = ::meldpunt::intake::v1;
using testing::Child;
using testing::Pki;
using testing::Token;

// One secured service binary with its config file, its ports and a Redis of its own.
struct Service {
  std::unique_ptr<Child> redis;
  std::unique_ptr<Child> process;
  int grpc_port = 0;
  int admin_port = 0;
};

class Security : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto stack = testing::LoadStack();
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = new testing::Stack(*stack);
    pki_ = new Pki(testing::MakePki());
    dir_ = new std::string(pki_->dir);
    pki_->Client("web-form", "/CN=web-form/OU=submitter/O=City");
    // The review's certificate: printed "CN=evil\,OU=admin,OU=submitter", read as admin before.
    pki_->Client("crafted", "/CN=evil,OU=admin/OU=submitter/O=City");
    pki_->Client("two-roles", "/CN=crm/OU=submitter/OU=admin/O=City");
    intake_ = Start(
        "intake", MELDPUNT_INTAKE_BIN,
        absl::StrCat("projection:\n  consumer_group: ", testing::UniqueName("intake-security"),
                     "\ncases:\n  received_at_systems: [crm]\n"));
    deadline_ =
        Start("deadline-watch", MELDPUNT_DEADLINE_BIN,
              absl::StrCat(
                  "deadline:\n  consumer_group: ", testing::UniqueName("deadline-security"), "\n"));
  }

  static void TearDownTestSuite() {
    delete intake_;
    delete deadline_;
  }

  void TearDown() override {
    if (!HasFailure()) return;
    for (Service* s : {intake_, deadline_}) {
      if (s != nullptr && s->process) std::cerr << s->process->Describe();
    }
  }

  // The secured part of a service's config: TLS with client certificates and tokens.
  static std::string SecuredConfig(int grpc_port, int admin_port) {
    return absl::StrCat(
        "grpc:\n  listen: 127.0.0.1:", grpc_port, "\n  tls:\n    cert_file: ", pki_->server_cert,
        "\n    key_file: ", pki_->server_key, "\n    client_ca_file: ", pki_->ca,
        "\nauth:\n  jwt:\n    key_set_file: ", pki_->jwks, "\n    issuer: ", testing::kTestIssuer,
        "\n    audience: ", testing::kTestAudience, "\n    max_lifetime: 12h",
        "\nadmin:\n  listen: 127.0.0.1:", admin_port, "\n");
  }

  static std::string InfraConfig(int redis_port) {
    return absl::StrCat(testing::KafkaConfigYaml(*stack_),
                        "redis:\n  address: 127.0.0.1:", redis_port,
                        "\nprivacy:\n  master_key_file: ", testing::DevMasterKeyFile(),
                        "\n  key_store:\n    address: ", stack_->key_store,
                        "\nstartup:\n  timeout: 30s\nshutdown:\n  grace: 3s\n");
  }

  static Service* Start(const std::string& name, const std::string& binary,
                        const std::string& own_keys) {
    auto* s = new Service();
    const int redis_port = testing::ClosedPort();
    s->redis = testing::StartPrivateRedis(redis_port, *dir_ + "/" + name + "-redis.log");
    EXPECT_NE(s->redis, nullptr);
    s->grpc_port = testing::ClosedPort();
    s->admin_port = testing::ClosedPort();
    const std::string config = *dir_ + "/" + name + ".yaml";
    std::string text =
        SecuredConfig(s->grpc_port, s->admin_port) + InfraConfig(redis_port) + own_keys;
    if (name == "deadline-watch") {
      // deadline-watch keeps no personal data: no privacy keys.
      text = absl::StrReplaceAll(text,
                                 {{"privacy:\n  master_key_file: " + testing::DevMasterKeyFile() +
                                       "\n  key_store:\n    address: " + stack_->key_store + "\n",
                                   ""}});
    }
    std::ofstream(config) << text;
    s->process = std::make_unique<Child>(name, std::vector<std::string>{binary, "--config", config},
                                         *dir_ + "/" + name + ".log");
    EXPECT_TRUE(s->process->Spawn());
    EXPECT_TRUE(testing::Eventually(
        [&] { return testing::HttpGet(s->admin_port, "/readyz") == 200; }, absl::Seconds(60)))
        << s->process->Describe();
    return s;
  }

  // A TLS channel trusting the test CA, with the named client certificate ("" for none).
  static std::shared_ptr<grpc::Channel> Channel(int port, const std::string& client = "") {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = testing::ReadText(pki_->ca);
    if (!client.empty()) {
      ssl.pem_private_key = testing::ReadText(pki_->dir + "/" + client + ".key");
      ssl.pem_cert_chain = testing::ReadText(pki_->dir + "/" + client + ".pem");
    }
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::SslCredentials(ssl));
  }

  static std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token = "") {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
    return context;
  }

  static v1::SubmitCaseRequest Draft(const std::string& system, bool confidential = false) {
    v1::SubmitCaseRequest r;
    r.set_submitting_system(system);
    r.set_request_key(testing::UniqueName("security-key"));
    auto* d = r.mutable_draft();
    d->set_kind(t::REPORT);
    d->set_channel(t::WEB);
    d->set_category("street-lighting");
    d->set_description("Street light out at the Korenmarkt");
    d->set_confidential(confidential);
    d->mutable_reporter()->set_name("Erik Erasure");
    d->mutable_reporter()->set_email("erik@example.org");
    return r;
  }

  // Submits a case as web-form and waits until the intake shows it; returns its id.
  std::string Submit(bool confidential = false) {
    auto intake = v1::Intake::NewStub(Channel(intake_->grpc_port, "web-form"));
    v1::SubmitCaseResponse submitted;
    const grpc::Status status =
        intake->SubmitCase(Ctx(Web()).get(), Draft("web-form", confidential), &submitted);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return submitted.case_id();
  }

  // Appends CaseRouted to `department` as routing would, and waits until the intake folded it.
  void Route(const std::string& case_id, const std::string& department) {
    auto producer = kafka::Producer::Create(testing::KafkaClientOptions(*stack_));
    ASSERT_TRUE(producer.ok()) << producer.status();
    events::Envelope routed = events::NewEnvelope(case_id, "routing", absl::Now());
    routed.mutable_case_routed()->set_department(department);
    events::Finish(routed, events::RandomId("routed"));
    ASSERT_TRUE((*producer)
                    ->Send(events::ToRecord(events::kCaseEventsTopic, routed),
                           absl::Now() + absl::Seconds(10))
                    .ok());
    auto intake = v1::Intake::NewStub(Channel(intake_->grpc_port, "web-form"));
    v1::GetCaseRequest get;
    get.set_case_id(case_id);
    v1::GetCaseResponse got;
    ASSERT_TRUE(testing::Eventually(
        [&] {
          return intake->GetCase(Ctx(Team()).get(), get, &got).ok() &&
                 got.case_().department() == department;
        },
        absl::Seconds(30)));
  }

  static std::string Web() { return Token(*pki_, {.sub = "web-form", .role = "submitter"}); }
  static std::string Team() { return Token(*pki_, {.sub = "k.devos", .role = "team"}); }

  static testing::Stack* stack_;
  static Pki* pki_;
  static std::string* dir_;
  static Service* intake_;
  static Service* deadline_;
};

testing::Stack* Security::stack_ = nullptr;
Pki* Security::pki_ = nullptr;
std::string* Security::dir_ = nullptr;
Service* Security::intake_ = nullptr;
Service* Security::deadline_ = nullptr;

// Finding 1: a certificate whose CN spells ",OU=admin" was read as admin.
TEST_F(Security, ACraftedCertificateIsNeverAdmin) {
  const std::string case_id = Submit();
  ASSERT_FALSE(case_id.empty());
  for (const char* client : {"crafted", "two-roles"}) {
    const auto channel = Channel(intake_->grpc_port, client);
    auto intake = v1::Intake::NewStub(channel);
    auto admin = v1::Admin::NewStub(channel);
    v1::GetCaseRequest get;
    get.set_case_id(case_id);
    v1::GetCaseResponse got;
    grpc::Status status = intake->GetCase(Ctx().get(), get, &got);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << client;
    EXPECT_TRUE(got.case_().draft().reporter().name().empty()) << client;
    v1::ListCasesResponse listed;
    EXPECT_EQ(intake->ListCases(Ctx().get(), v1::ListCasesRequest(), &listed).error_code(),
              grpc::StatusCode::UNAUTHENTICATED)
        << client;
    v1::EraseReporterDataRequest erase;
    erase.set_case_id(case_id);
    erase.set_reason("crafted");
    v1::CaseResponse erased;
    EXPECT_EQ(admin->EraseReporterData(Ctx().get(), erase, &erased).error_code(),
              grpc::StatusCode::UNAUTHENTICATED)
        << client;
  }
  // The same CA's honest certificate still works, so the refusals above are the subject's doing.
  auto honest = v1::Intake::NewStub(Channel(intake_->grpc_port, "web-form"));
  v1::GetCaseRequest get;
  get.set_case_id(case_id);
  v1::GetCaseResponse got;
  const grpc::Status status = honest->GetCase(Ctx().get(), get, &got);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(got.case_().draft().reporter().name(), "Erik Erasure");
}

// Finding 3: `sealed` or `erased` sent by a client switched off sealing and retention.
TEST_F(Security, ClientSetSealedOrErasedIsRefusedAndChangesNothing) {
  auto intake = v1::Intake::NewStub(Channel(intake_->grpc_port, "web-form"));
  for (const char* field : {"sealed", "erased"}) {
    v1::SubmitCaseRequest request = Draft("web-form");
    if (std::string(field) == "sealed") {
      request.mutable_draft()->mutable_reporter()->set_sealed("x");
    } else {
      request.mutable_draft()->mutable_reporter()->set_erased(true);
    }
    v1::SubmitCaseResponse submitted;
    const grpc::Status status = intake->SubmitCase(Ctx(Web()).get(), request, &submitted);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_NE(status.error_message().find(absl::StrCat("draft.reporter.", field)),
              std::string::npos)
        << status.error_message();
    EXPECT_TRUE(submitted.case_id().empty());
    // Nothing was appended: the same request key, fixed, makes a new case.
    request.mutable_draft()->mutable_reporter()->clear_sealed();
    request.mutable_draft()->mutable_reporter()->clear_erased();
    const grpc::Status fixed = intake->SubmitCase(Ctx(Web()).get(), request, &submitted);
    ASSERT_TRUE(fixed.ok()) << fixed.error_message();
    EXPECT_TRUE(submitted.created()) << field;
  }
}

// The receipt time moves every legal term: a submitting system may set it only when the intake's
// config names it, the team always may, and a refusal changes nothing.
TEST_F(Security, OnlyTheNamedSystemsAndTheTeamMaySetTheReceiptTime) {
  auto intake = v1::Intake::NewStub(Channel(intake_->grpc_port, "web-form"));
  const int64_t received = absl::ToUnixSeconds(absl::Now() - absl::Hours(24 * 3));
  auto letter = [&](const std::string& system) {
    v1::SubmitCaseRequest request = Draft(system);
    request.mutable_draft()->set_channel(t::LETTER);
    request.mutable_draft()->mutable_received_at()->set_seconds(received);
    return request;
  };
  v1::SubmitCaseRequest request = letter("web-form");
  v1::SubmitCaseResponse submitted;
  grpc::Status status = intake->SubmitCase(Ctx(Web()).get(), request, &submitted);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_NE(status.error_message().find("draft.received_at"), std::string::npos)
      << status.error_message();
  EXPECT_TRUE(submitted.case_id().empty());
  // Nothing was appended: the same request key without the receipt time makes a new case.
  request.mutable_draft()->clear_received_at();
  ASSERT_TRUE(intake->SubmitCase(Ctx(Web()).get(), request, &submitted).ok());
  EXPECT_TRUE(submitted.created());

  const std::string crm = Token(*pki_, {.sub = "crm", .role = "submitter"});
  status = intake->SubmitCase(Ctx(crm).get(), letter("crm"), &submitted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(submitted.case_().received_at().seconds(), received);
  status = intake->SubmitCase(Ctx(Team()).get(), letter("web-form"), &submitted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(submitted.case_().has_received_at());
}

// Finding 5: the recorded actor was whatever the caller said.
TEST_F(Security, TheRecordedActorIsTheAuthenticatedCaller) {
  const std::string case_id = Submit();
  Route(case_id, "public-works");
  const std::string roads =
      Token(*pki_, {.sub = "j.peeters", .role = "department", .department = "public-works"});
  auto casework = v1::CaseWork::NewStub(Channel(intake_->grpc_port, "web-form"));
  v1::AcceptCaseRequest accept;
  accept.set_case_id(case_id);
  accept.mutable_actor()->set_id("team:meldpunt");  // what the department says it is
  v1::CaseResponse out;
  const grpc::Status status = casework->AcceptCase(Ctx(roads).get(), accept, &out);
  ASSERT_TRUE(status.ok()) << status.error_message();
  auto intake = v1::Intake::NewStub(Channel(intake_->grpc_port, "web-form"));
  v1::GetCaseHistoryRequest history;
  history.set_case_id(case_id);
  v1::GetCaseHistoryResponse entries;
  ASSERT_TRUE(intake->GetCaseHistory(Ctx(Team()).get(), history, &entries).ok());
  bool found = false;
  for (const auto& entry : entries.entries()) {
    if (!entry.event().has_case_accepted()) continue;
    found = true;
    EXPECT_EQ(entry.actor().id(), "department:public-works/j.peeters");
    EXPECT_EQ(entry.actor().display_name(), "team:meldpunt");  // kept only as what was said
  }
  EXPECT_TRUE(found);
}

// Finding 7: a token for another audience, valid for three years, was accepted; one static key.
TEST_F(Security, TokensNeedTheAudienceAShortLifeAndAKeyOfTheSet) {
  const std::string case_id = Submit();
  auto intake = v1::Intake::NewStub(Channel(intake_->grpc_port, "web-form"));
  v1::GetCaseRequest get;
  get.set_case_id(case_id);
  v1::GetCaseResponse got;
  const auto refused = [&](const std::string& token) {
    const grpc::Status status = intake->GetCase(Ctx(token).get(), get, &got);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
    return std::string(status.error_message());
  };
  EXPECT_NE(refused(Token(*pki_, {.sub = "web-form", .role = "submitter", .audience = "payroll"}))
                .find("audience"),
            std::string::npos);
  EXPECT_NE(
      refused(Token(*pki_,
                    {.sub = "web-form", .role = "submitter", .valid = absl::Hours(24 * 365 * 3)}))
          .find("longer than"),
      std::string::npos);
  EXPECT_NE(refused(Token(*pki_, {.sub = "web-form", .role = "submitter", .kid = ""})).find("kid"),
            std::string::npos);
  // A new key published in the set is taken up without a restart; a retired one stops working.
  pki_->AddTokenKey("k2", /*publish=*/false);
  const std::string next = Token(*pki_, {.sub = "web-form", .role = "submitter", .kid = "k2"});
  EXPECT_NE(refused(next).find("not in the key set"), std::string::npos);
  pki_->Publish("k2");
  EXPECT_TRUE(testing::Eventually([&] { return intake->GetCase(Ctx(next).get(), get, &got).ok(); },
                                  absl::Seconds(20)));
  pki_->Retire("k2");
  EXPECT_TRUE(testing::Eventually(
      [&] {
        return intake->GetCase(Ctx(next).get(), get, &got).error_code() ==
               grpc::StatusCode::UNAUTHENTICATED;
      },
      absl::Seconds(20)));
  EXPECT_TRUE(intake->GetCase(Ctx(Web()).get(), get, &got).ok());
}

// Findings 7 and 8: the production config set no issuer or audience; a host name passed for a
// loopback address.
TEST_F(Security, AConfigWithoutIssuerAudienceOrALoopbackIpIsRefused) {
  const auto check = [&](const std::string& name, const std::string& text, std::string* out) {
    const std::string path = *dir_ + "/" + name + ".yaml";
    std::ofstream(path) << text;
    const std::string log = *dir_ + "/" + name + ".out";
    const int rc = std::system(
        absl::StrCat(MELDPUNT_INTAKE_BIN, " --check-config --config ", path, " >", log, " 2>&1")
            .c_str());
    *out = testing::ReadText(log);
    return rc;
  };
  std::string out;
  const std::string secured = SecuredConfig(1, 2) + InfraConfig(3);
  ASSERT_EQ(check("good", secured, &out), 0) << out;
  EXPECT_NE(
      check("no-audience", absl::StrReplaceAll(secured, {{"    audience: meldpunt\n", ""}}), &out),
      0);
  EXPECT_NE(out.find("auth.jwt.audience"), std::string::npos) << out;
  EXPECT_NE(check("no-issuer",
                  absl::StrReplaceAll(
                      secured, {{absl::StrCat("    issuer: ", testing::kTestIssuer, "\n"), ""}}),
                  &out),
            0);
  EXPECT_NE(out.find("auth.jwt.issuer"), std::string::npos) << out;
  const std::string plaintext = absl::StrCat(
      "grpc:\n  listen: 127.example.org:50051\n  plaintext_loopback: true\nadmin:\n  listen: "
      "127.0.0.1:9\n",
      InfraConfig(3));
  EXPECT_NE(check("named-loopback", plaintext, &out), 0);
  EXPECT_NE(out.find("grpc.plaintext_loopback"), std::string::npos) << out;
}

// Finding 8: a refusal told another department that a case was confidential.
TEST_F(Security, ARefusalTellsNothingOfTheCase) {
  const std::string confidential = Submit(/*confidential=*/true);
  Route(confidential, "public-works");
  const std::string elsewhere = Submit();
  Route(elsewhere, "green-spaces");
  const std::string roads =
      Token(*pki_, {.sub = "j.peeters", .role = "department", .department = "public-works"});
  auto intake = v1::Intake::NewStub(Channel(intake_->grpc_port, "web-form"));
  const auto refusal = [&](const std::string& case_id) {
    v1::GetCaseRequest get;
    get.set_case_id(case_id);
    v1::GetCaseResponse got;
    const grpc::Status status = intake->GetCase(Ctx(roads).get(), get, &got);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << case_id;
    // The same words whatever the reason, with only the id the caller sent.
    return absl::StrReplaceAll(status.error_message(), {{case_id, "<case>"}});
  };
  const std::string confidential_here = refusal(confidential);
  EXPECT_EQ(confidential_here.find("confidential"), std::string::npos) << confidential_here;
  EXPECT_EQ(confidential_here, refusal(elsewhere));
  // A well-formed id of a case that was never submitted.
  EXPECT_EQ(confidential_here,
            refusal(events::CaseIdFor("web-form", testing::UniqueName("never-submitted"))));
}

// Finding 8: one ops token took all 32 WatchDeadlines streams of a replica.
TEST_F(Security, OneCallerCannotTakeEveryDeadlineStream) {
  auto deadlines = deadline::v1::DeadlineWatch::NewStub(Channel(deadline_->grpc_port, "web-form"));
  const std::string grafana = Token(*pki_, {.sub = "grafana", .role = "ops"});
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<deadline::v1::DeadlineAlert>>> streams;
  const auto open = [&](const std::string& token, bool admitted) {
    contexts.push_back(Ctx(token));
    contexts.back()->set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(2)));
    streams.push_back(
        deadlines->WatchDeadlines(contexts.back().get(), deadline::v1::WatchDeadlinesRequest()));
    // The server sends its headers once the stream is admitted.
    if (admitted) streams.back()->WaitForInitialMetadata();
  };
  for (int i = 0; i < 4; ++i) open(grafana, true);
  open(grafana, false);
  deadline::v1::DeadlineAlert alert;
  EXPECT_FALSE(streams.back()->Read(&alert));
  const grpc::Status fifth = streams.back()->Finish();
  EXPECT_EQ(fifth.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << fifth.error_message();
  EXPECT_NE(fifth.error_message().find("per caller"), std::string::npos) << fifth.error_message();
  streams.pop_back();
  contexts.pop_back();
  // Another caller still gets a stream.
  open(Token(*pki_, {.sub = "pager", .role = "ops"}), true);
  contexts.back()->TryCancel();
  EXPECT_EQ(streams.back()->Finish().error_code(), grpc::StatusCode::CANCELLED);
  streams.pop_back();
  contexts.pop_back();
  for (auto& context : contexts) context->TryCancel();
  for (auto& stream : streams) (void)stream->Finish();
}

}  // namespace
}  // namespace meldpunt

namespace meldpunt {
namespace {

// The workload view: a department sees its own, never another's, whatever its request names; a
// submitter sees none; the team sees every department. Routing's gRPC service runs here in the
// test, behind a guard that verifies the suite's tokens (a routing binary would route the suite's
// cases on the shared log), over the shipped rules.
TEST_F(Security, ADepartmentSeesItsOwnWorkloadOnly) {
  auth::SecurityOptions options;
  options.plaintext_loopback = true;
  options.jwt_key_set_file = pki_->jwks;
  options.jwt_issuer = testing::kTestIssuer;
  options.jwt_audience = testing::kTestAudience;
  options.jwt_max_lifetime = absl::Hours(12);
  auto guard = auth::Guard::Create(options, nullptr);
  ASSERT_TRUE(guard.ok()) << guard.status();
  const char* source = std::getenv("MELDPUNT_SOURCE_DIR");
  const std::string config = absl::StrCat(source ? source : ".", "/deploy/config/");
  auto rules = routing::LoadRules(config + "routing-rules.yaml", config + "categories.yaml");
  ASSERT_TRUE(rules.ok()) << rules.status();
  // Written by the handler on a gRPC thread, read here after the call returned: gRPC orders the
  // two, but ThreadSanitizer cannot see gRPC's own hand-over, so the list has a lock of its own.
  absl::Mutex asked_mu;
  std::vector<std::string> asked;
  auto asked_now = [&] {
    absl::MutexLock lock(&asked_mu);
    return asked;
  };
  clock::SystemClock clock;
  routing::RoutingService service(
      **guard, [&] { return *rules; }, [] { return absl::OkStatus(); },
      [](const routing::RuleSet&, const std::string&) { return std::map<std::string, int64_t>(); },
      [&](const std::string& department, const std::vector<std::string>&) {
        absl::MutexLock lock(&asked_mu);
        asked.push_back(department);
        return absl::StatusOr<routing::DepartmentCases>(routing::DepartmentCases());
      },
      [] {
        return absl::StatusOr<std::map<std::string, std::optional<absl::Time>>>(
            std::map<std::string, std::optional<absl::Time>>());
      },
      clock, "routing-rules.yaml");
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto routing = routing::v1::Routing::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));

  const std::string works =
      Token(*pki_, {.sub = "j.peeters", .role = "department", .department = "public-works"});
  routing::v1::GetWorkloadRequest request;
  routing::v1::GetWorkloadResponse response;
  grpc::Status status = routing->GetWorkload(Ctx(works).get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.departments_size(), 1) << "its own, though it named none";
  EXPECT_EQ(response.departments(0).department(), "public-works");
  EXPECT_FALSE(response.has_triage()) << "the triage queue is the team's";
  EXPECT_EQ(asked_now(), std::vector<std::string>{"public-works"});

  {
    absl::MutexLock lock(&asked_mu);
    asked.clear();
  }
  request.set_department("environment");
  response.Clear();
  status = routing->GetWorkload(Ctx(works).get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_EQ(response.departments_size(), 0);
  EXPECT_TRUE(asked_now().empty()) << "nothing of another department is read";

  status = routing->GetWorkload(Ctx(Web()).get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  status = routing->GetWorkload(Ctx().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();

  request.clear_department();
  response.Clear();
  status = routing->GetWorkload(Ctx(Team()).get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.departments_size(), static_cast<int>((*rules)->departments().size()));
  EXPECT_TRUE(response.has_triage());
  server->Shutdown();
}

// Only the team (and admins) change a priority; the recorded actor is the caller. (The channel
// carries web-form's certificate, which the port asks for; the token says who calls.)
TEST_F(Security, OnlyTheTeamChangesAPriority) {
  const std::string case_id = Submit();
  Route(case_id, "public-works");
  auto casework = v1::CaseWork::NewStub(Channel(intake_->grpc_port, "web-form"));
  v1::ChangePriorityRequest request;
  request.set_case_id(case_id);
  request.set_priority(t::URGENT);
  request.set_reason("gas smell");
  request.mutable_actor()->set_id("team:someone-else");
  v1::CaseResponse response;
  const std::string works =
      Token(*pki_, {.sub = "j.peeters", .role = "department", .department = "public-works"});
  for (const std::string& token : {works, Web()}) {
    const grpc::Status status = casework->ChangePriority(Ctx(token).get(), request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  }
  const grpc::Status status = casework->ChangePriority(Ctx(Team()).get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.case_().priority(), t::URGENT);
  auto intake = v1::Intake::NewStub(Channel(intake_->grpc_port, "web-form"));
  v1::GetCaseHistoryRequest history;
  history.set_case_id(case_id);
  v1::GetCaseHistoryResponse got;
  ASSERT_TRUE(intake->GetCaseHistory(Ctx(Team()).get(), history, &got).ok());
  bool seen = false;
  for (const auto& entry : got.entries()) {
    if (entry.type() != "PriorityChanged") continue;
    seen = true;
    EXPECT_EQ(entry.actor().id(), "team:k.devos") << "the caller, not the request's actor";
  }
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace meldpunt
