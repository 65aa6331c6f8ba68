// The intake's gRPC port secured as in production, against the real Kafka broker and Redis of the
// test stack: TLS with client certificates (mTLS) and ES256 bearer tokens, every outcome of the
// authentication and of the role and case checks, over real gRPC connections. Certificates and
// keys are made fresh per run with the openssl command.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/events/codec.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/kafka/producer.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "services/intake/app.h"
#include "tests/security/pki.h"
#include "tests/testing/stack.h"

namespace meldpunt::intake {
namespace {

namespace t = ::meldpunt::types::v1;

using testing::Pki;
using testing::Token;

std::string Read(const std::string& path) { return testing::ReadText(path); }

class AuthIntegration : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new Pki(testing::MakePki()); }

  void SetUp() override {
    auto stack = testing::LoadStack();
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *stack;
  }

  IntakeConfig Config(bool client_certificates) {
    IntakeConfig config;
    config.grpc_listen = "127.0.0.1:0";
    config.admin_listen = "127.0.0.1:0";
    config.grpc_tls_cert_file = pki_->server_cert;
    config.grpc_tls_key_file = pki_->server_key;
    if (client_certificates) config.grpc_tls_client_ca_file = pki_->ca;
    config.jwt_key_set_file = pki_->jwks;
    config.jwt_issuer = testing::kTestIssuer;
    config.jwt_audience = testing::kTestAudience;
    testing::UseStackKafka(stack_, config);
    config.redis_address = stack_.redis;
    config.privacy_master_key_file = testing::DevMasterKeyFile();
    config.key_store_address = stack_.key_store;
    config.consumer_group = testing::UniqueName("intake-auth-test");
    config.produce_timeout = absl::Seconds(5);
    config.startup_timeout = absl::Seconds(30);
    return config;
  }

  // A TLS channel trusting the test CA, with the named client certificate ("" for none).
  static std::shared_ptr<grpc::Channel> Channel(int port, const std::string& client = "") {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Read(pki_->ca);
    if (!client.empty()) {
      ssl.pem_private_key = Read(pki_->dir + "/" + client + ".key");
      ssl.pem_cert_chain = Read(pki_->dir + "/" + client + ".pem");
    }
    return grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::SslCredentials(ssl));
  }

  static std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token = "") {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
    return context;
  }

  static v1::SubmitCaseRequest Draft(const std::string& system) {
    v1::SubmitCaseRequest r;
    r.set_submitting_system(system);
    r.set_request_key(testing::UniqueName("auth-key"));
    auto* d = r.mutable_draft();
    d->set_kind(t::REPORT);
    d->set_channel(t::WEB);
    d->set_category("street-lighting");
    d->set_description("Street light out at the Korenmarkt");
    d->mutable_reporter()->set_name("An Janssens");
    d->mutable_reporter()->set_email("an@example.org");
    return r;
  }

  static Pki* pki_;
  testing::Stack stack_;
};

Pki* AuthIntegration::pki_ = nullptr;

TEST_F(AuthIntegration, MutualTlsTokensRolesAndCasesOverRealConnections) {
  pki_->Client("web-form", "/CN=web-form/OU=submitter/O=City");
  pki_->Client("no-role", "/CN=someone/O=City");
  pki_->Client("rogue-client", "/CN=web-form/OU=submitter", /*rogue=*/true);
  IntakeApp app(Config(/*client_certificates=*/true));
  ASSERT_TRUE(app.Start().ok());
  const int port = app.grpc_port();
  auto intake = v1::Intake::NewStub(Channel(port, "web-form"));
  auto casework = v1::CaseWork::NewStub(Channel(port, "web-form"));
  auto admin = v1::Admin::NewStub(Channel(port, "web-form"));
  const std::string web = Token(*pki_, {.sub = "web-form", .role = "submitter"});

  // A submitter system submits its own cases, by token or by its certificate alone.
  v1::SubmitCaseResponse submitted;
  grpc::Status status = intake->SubmitCase(Ctx(web).get(), Draft("web-form"), &submitted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const std::string case_id = submitted.case_id();
  v1::SubmitCaseResponse by_certificate;
  status = intake->SubmitCase(Ctx().get(), Draft("web-form"), &by_certificate);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // ... but not in another system's name.
  status = intake->SubmitCase(Ctx(web).get(), Draft("crm"), &by_certificate);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(status.error_message().find("submitting_system"), std::string::npos);

  // Expired, forged (another issuer) or garbled tokens: UNAUTHENTICATED, even on a good
  // certificate.
  v1::GetCaseRequest get;
  get.set_case_id(case_id);
  v1::GetCaseResponse got;
  for (const std::string& bad :
       {Token(*pki_, {.sub = "web-form", .role = "submitter", .valid = -absl::Minutes(5)}),
        Token(*pki_, {.sub = "web-form", .role = "submitter", .issuer = "elsewhere"}),
        std::string("not-a-token")}) {
    status = intake->GetCase(Ctx(bad).get(), get, &got);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << bad;
  }
  // A certificate without a role: UNAUTHENTICATED.
  status = v1::Intake::NewStub(Channel(port, "no-role"))->GetCase(Ctx().get(), get, &got);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
  // No client certificate, one from another CA, or plaintext: the connection is refused.
  EXPECT_EQ(v1::Intake::NewStub(Channel(port))->GetCase(Ctx(web).get(), get, &got).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(v1::Intake::NewStub(Channel(port, "rogue-client"))
                ->GetCase(Ctx(web).get(), get, &got)
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(v1::Intake::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                    grpc::InsecureChannelCredentials()))
                ->GetCase(Ctx(web).get(), get, &got)
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);

  // Its own case is readable by the submitter; another system's is not; ops never read cases.
  status = intake->GetCase(Ctx(web).get(), get, &got);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(got.case_().draft().reporter().name(), "An Janssens");
  const std::string crm = Token(*pki_, {.sub = "crm", .role = "submitter"});
  EXPECT_EQ(intake->GetCase(Ctx(crm).get(), get, &got).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  const std::string ops = Token(*pki_, {.sub = "night-shift", .role = "ops"});
  EXPECT_EQ(intake->GetCase(Ctx(ops).get(), get, &got).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::GetCaseHistoryRequest history;
  history.set_case_id(case_id);
  v1::GetCaseHistoryResponse entries;
  EXPECT_EQ(intake->GetCaseHistory(Ctx(crm).get(), history, &entries).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // Routed to roads (as routing would): roads reads and accepts it, parks may not.
  const std::string team = Token(*pki_, {.sub = "k.devos", .role = "team"});
  auto producer =
      kafka::Producer::Create({.brokers = stack_.kafka, .extra = stack_.kafka_properties});
  ASSERT_TRUE(producer.ok());
  events::Envelope routed = events::NewEnvelope(case_id, "routing", absl::Now());
  routed.mutable_case_routed()->set_department("public-works");
  events::Finish(routed, events::RandomId("routed"));
  ASSERT_TRUE((*producer)
                  ->Send(events::ToRecord(events::kCaseEventsTopic, routed),
                         absl::Now() + absl::Seconds(10))
                  .ok());
  ASSERT_TRUE(testing::Eventually(
      [&] {
        return intake->GetCase(Ctx(team).get(), get, &got).ok() &&
               got.case_().department() == "public-works";
      },
      absl::Seconds(20)));
  v1::ReassignCaseRequest reassign;
  reassign.set_case_id(case_id);
  reassign.mutable_actor()->set_id("team:meldpunt");
  reassign.set_department("green-spaces");
  reassign.set_reason("the lamp is in the park");
  v1::CaseResponse out;
  const std::string roads =
      Token(*pki_, {.sub = "j.peeters", .role = "department", .department = "public-works"});
  const std::string parks =
      Token(*pki_, {.sub = "m.claes", .role = "department", .department = "green-spaces"});
  EXPECT_TRUE(intake->GetCase(Ctx(roads).get(), get, &got).ok());
  EXPECT_EQ(intake->GetCase(Ctx(parks).get(), get, &got).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::AcceptCaseRequest accept;
  accept.set_case_id(case_id);
  accept.mutable_actor()->set_id("department:green-spaces");
  EXPECT_EQ(casework->AcceptCase(Ctx(parks).get(), accept, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // A department may not reassign (a triage decision), nor may a submitter do casework.
  EXPECT_EQ(casework->ReassignCase(Ctx(roads).get(), reassign, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(casework->AcceptCase(Ctx(web).get(), accept, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  accept.mutable_actor()->set_id("department:public-works");
  status = casework->AcceptCase(Ctx(roads).get(), accept, &out);
  EXPECT_TRUE(status.ok()) << status.error_message();

  // Lists: a department sees its own cases only, and may not ask for another's.
  v1::ListCasesRequest list;
  v1::ListCasesResponse page;
  list.set_department("public-works");
  EXPECT_EQ(intake->ListCases(Ctx(parks).get(), list, &page).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  list.clear_department();
  ASSERT_TRUE(intake->ListCases(Ctx(parks).get(), list, &page).ok());
  for (const auto& c : page.cases()) EXPECT_EQ(c.department(), "green-spaces");
  ASSERT_TRUE(intake->ListCases(Ctx(roads).get(), list, &page).ok());
  bool listed = false;
  for (const auto& c : page.cases()) listed = listed || c.case_id() == case_id;
  EXPECT_TRUE(listed);
  // A submitting system lists the cases it submitted, and no other system's.
  ASSERT_TRUE(intake->ListCases(Ctx(web).get(), list, &page).ok());
  EXPECT_FALSE(page.cases().empty());
  for (const auto& c : page.cases()) EXPECT_EQ(c.submitting_system(), "web-form");
  list.set_submitting_system("crm");
  EXPECT_EQ(intake->ListCases(Ctx(web).get(), list, &page).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  list.clear_submitting_system();

  // The gateway speaks for the system its caller's key names, and is that system then: its
  // cases and no other's. A submitter that names another system is refused.
  const std::string gateway = Token(*pki_, {.sub = "open311", .role = "gateway"});
  const auto on_behalf = [&](const std::string& token, const std::string& system) {
    std::unique_ptr<grpc::ClientContext> context = Ctx(token);
    context->AddMetadata("meldpunt-on-behalf-of", system);
    return context;
  };
  EXPECT_TRUE(intake->GetCase(on_behalf(gateway, "web-form").get(), get, &got).ok());
  EXPECT_EQ(intake->GetCase(on_behalf(gateway, "crm").get(), get, &got).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(intake->GetCase(Ctx(gateway).get(), get, &got).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  status = intake->GetCase(on_behalf(web, "crm").get(), get, &got);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(status.error_message().find("meldpunt-on-behalf-of"), std::string::npos);
  v1::SubmitCaseResponse through_gateway;
  status =
      intake->SubmitCase(on_behalf(gateway, "web-form").get(), Draft("web-form"), &through_gateway);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(through_gateway.case_().submitting_system(), "web-form");
  EXPECT_EQ(intake->SubmitCase(on_behalf(gateway, "web-form").get(), Draft("crm"), &through_gateway)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // The team moves the case to parks: now parks has it and roads no longer does.
  status = casework->ReassignCase(Ctx(team).get(), reassign, &out);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(intake->GetCase(Ctx(parks).get(), get, &got).ok());
  EXPECT_EQ(intake->GetCase(Ctx(roads).get(), get, &got).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // Rebuilds are for admins only.
  v1::RebuildProjectionResponse rebuilt;
  EXPECT_EQ(admin->RebuildProjection(Ctx(team).get(), {}, &rebuilt).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // Every refusal is counted on /metrics.
  httplib::Client metrics("127.0.0.1", app.admin_port());
  auto scraped = metrics.Get("/metrics");
  ASSERT_TRUE(scraped);
  EXPECT_NE(scraped->body.find("meldpunt_auth_denied_total{reason=\"unauthenticated\"} 4"),
            std::string::npos)
      << scraped->body.substr(0, 2000);
  // 12 before the gateway's checks, less the submitter's list (now allowed), plus the five
  // refusals of the gateway part (another system's list, case and submission; the gateway alone;
  // a submitter that names another system).
  EXPECT_NE(scraped->body.find("meldpunt_auth_denied_total{reason=\"permission_denied\"} 16"),
            std::string::npos)
      << scraped->body.substr(0, 2000);
  app.Stop();
}

TEST_F(AuthIntegration, WithTokensOnlyACallWithoutOneIsUnauthenticated) {
  IntakeApp app(Config(/*client_certificates=*/false));
  ASSERT_TRUE(app.Start().ok());
  auto intake = v1::Intake::NewStub(Channel(app.grpc_port()));
  v1::SubmitCaseResponse submitted;
  grpc::Status status = intake->SubmitCase(Ctx().get(), Draft("web-form"), &submitted);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(status.error_message().find("Bearer"), std::string::npos);
  grpc::ClientContext basic;
  basic.AddMetadata("authorization", "Basic d2ViOmZvcm0=");
  EXPECT_EQ(intake->SubmitCase(&basic, Draft("web-form"), &submitted).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  const std::string web = Token(*pki_, {.sub = "web-form", .role = "submitter"});
  status = intake->SubmitCase(Ctx(web).get(), Draft("web-form"), &submitted);
  ASSERT_TRUE(status.ok()) << status.error_message();

  // meldctl over TLS with the token; and without it.
  const char* bin = std::getenv("MELDPUNT_BINARY_DIR");
  ASSERT_NE(bin, nullptr);
  const std::string meldctl =
      absl::StrCat(bin, "/tools/meldctl/meldctl --intake 127.0.0.1:", app.grpc_port(), " --ca ",
                   pki_->ca, " get ", submitted.case_id(), " --json 2>&1");
  const auto run = [](const std::string& command, std::string* output) {
    FILE* pipe = popen(command.c_str(), "r");
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output->append(buffer, n);
    return WEXITSTATUS(pclose(pipe));
  };
  std::string output;
  EXPECT_EQ(run("MELDPUNT_TOKEN=" + web + " " + meldctl, &output), 0) << output;
  EXPECT_NE(output.find(submitted.case_id()), std::string::npos) << output;
  output.clear();
  EXPECT_EQ(run("env -u MELDPUNT_TOKEN " + meldctl, &output), 1) << output;
  EXPECT_NE(output.find("UNAUTHENTICATED"), std::string::npos) << output;
  app.Stop();
}

TEST_F(AuthIntegration, AServiceRefusesToStartOpenOnARoutableAddress) {
  IntakeConfig config = Config(false);
  config.grpc_tls_cert_file.clear();
  config.grpc_tls_key_file.clear();
  config.grpc_plaintext_loopback = true;
  config.grpc_listen = "0.0.0.0:0";
  IntakeApp app(config);
  const absl::Status started = app.Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(started.message().find("loopback"), std::string::npos) << started;
}

}  // namespace
}  // namespace meldpunt::intake
