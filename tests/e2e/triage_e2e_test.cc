// The Meldpunt's triage queue end to end, on the real stack (the four binaries of the
// e2e_services fixture with the shipped routing rules, a real Kafka broker and Redis):
// - a case nobody can route (a category no rule or department handles; a tree bounced by both
//   candidate departments) gets CaseTriaged with its reason and is IN_TRIAGE, never routed to a
//   pseudo-department; the team's queue gets the message on its feed;
// - it is in ListCases(state IN_TRIAGE) and in `meldctl list --state IN_TRIAGE`;
// - the team's ReassignCase routes it on: routing answers with CaseRouted (rule reassigned) and
//   the department's dispatch, the reason is cleared.
#include <grpcpp/grpcpp.h>

#include <array>
#include <cstdio>
#include <memory>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/events/codec.h"
#include "libs/events/topics.h"
#include "libs/kafka/consumer.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "tests/testing/e2e.h"
#include "tests/testing/stack.h"

namespace meldpunt {
namespace {

namespace t = ::meldpunt::types::v1;
using events::Envelope;

class TriageE2e : public testing::E2eSuite {
 protected:
  static std::shared_ptr<grpc::Channel> Channel() {
    return grpc::CreateChannel(stack_->services.at("intake").grpc,
                               grpc::InsecureChannelCredentials());
  }

  static std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    return context;
  }

  static std::string Submit(const std::string& category, const std::string& description) {
    intake::v1::SubmitCaseRequest r;
    r.set_submitting_system("e2e-web-form");
    r.set_request_key(testing::UniqueName("triage"));
    auto* d = r.mutable_draft();
    d->set_kind(t::REPORT);
    d->set_channel(t::WEB);
    d->set_category(category);
    d->set_description(description);
    d->mutable_location()->set_postcode("9000");
    d->mutable_reporter()->set_name("Jan Peeters");
    d->mutable_reporter()->set_email("jan.peeters@example.org");
    intake::v1::SubmitCaseResponse response;
    grpc::Status status =
        intake::v1::Intake::NewStub(Channel())->SubmitCase(Context().get(), r, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.case_id();
  }

  static std::optional<t::Case> Get(const std::string& case_id) {
    intake::v1::GetCaseRequest request;
    request.set_case_id(case_id);
    intake::v1::GetCaseResponse response;
    if (!intake::v1::Intake::NewStub(Channel())
             ->GetCase(Context().get(), request, &response)
             .ok()) {
      return std::nullopt;
    }
    return response.case_();
  }

  // Waits until the case is in `state` (and, when given, with `department`); the case then.
  static std::optional<t::Case> WaitFor(const std::string& case_id, t::CaseState state,
                                        const std::string& department = "") {
    std::optional<t::Case> c;
    testing::Eventually(
        [&] {
          c = Get(case_id);
          return c && c->state() == state && (department.empty() || c->department() == department);
        },
        absl::Seconds(60));
    return c;
  }

  static grpc::Status Bounce(const std::string& case_id, const std::string& department) {
    intake::v1::BounceCaseRequest bounce;
    bounce.set_case_id(case_id);
    bounce.mutable_actor()->set_id("department:" + department);
    bounce.set_reason("niet onze bevoegdheid");
    intake::v1::CaseResponse out;
    return intake::v1::CaseWork::NewStub(Channel())->BounceCase(Context().get(), bounce, &out);
  }

  static grpc::Status Reassign(const std::string& case_id, const std::string& department,
                               intake::v1::CaseResponse* out) {
    intake::v1::ReassignCaseRequest reassign;
    reassign.set_case_id(case_id);
    reassign.mutable_actor()->set_id("team:meldpunt");
    reassign.set_department(department);
    reassign.set_reason("graffiti op een container: milieu");
    return intake::v1::CaseWork::NewStub(Channel())->ReassignCase(Context().get(), reassign, out);
  }

  // Whether ListCases(state IN_TRIAGE) lists the case (following the page tokens).
  static bool ListedInTriage(const std::string& case_id) {
    intake::v1::ListCasesRequest request;
    request.set_state(t::IN_TRIAGE);
    for (int page = 0; page < 50; ++page) {
      intake::v1::ListCasesResponse response;
      grpc::Status status =
          intake::v1::Intake::NewStub(Channel())->ListCases(Context().get(), request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) return false;
      for (const t::Case& c : response.cases()) {
        EXPECT_EQ(c.state(), t::IN_TRIAGE) << c.case_id();
        if (c.case_id() == case_id) return true;
      }
      if (response.next_page_token().empty()) return false;
      request.set_page_token(response.next_page_token());
    }
    return false;
  }

  // Every record of `topic` with key `key`, read by a fresh group until `done` or 60 s.
  static std::vector<kafka::Record> Read(
      const std::string& topic, const std::string& key,
      const std::function<bool(const std::vector<kafka::Record>&)>& done) {
    auto consumer = kafka::Consumer::Create({.brokers = stack_->kafka,
                                             .group_id = testing::UniqueName("triage-reader"),
                                             .topics = {topic},
                                             .extra = stack_->kafka_properties});
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    std::vector<kafka::Record> out;
    if (!consumer.ok()) return out;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline && !done(out)) {
      auto record = (*consumer)->Poll(absl::Milliseconds(200));
      if (record.ok() && record->has_value() && (*record)->key == key) out.push_back(**record);
    }
    (*consumer)->Close();
    return out;
  }

  static std::vector<events::v1::DispatchMessage> Dispatched(const std::string& department,
                                                             const std::string& case_id,
                                                             size_t at_least = 1) {
    std::vector<events::v1::DispatchMessage> out;
    for (const kafka::Record& r :
         Read(events::DispatchTopic(department), case_id,
              [&](const std::vector<kafka::Record>& r) { return r.size() >= at_least; })) {
      events::v1::DispatchMessage d;
      EXPECT_TRUE(d.ParseFromString(r.value));
      out.push_back(d);
    }
    return out;
  }

  // The case's events, once `done` holds for them (or after 60 s).
  static std::vector<Envelope> CaseEvents(
      const std::string& case_id, const std::function<bool(const std::vector<Envelope>&)>& done) {
    std::vector<Envelope> envelopes;
    Read(events::kCaseEventsTopic, case_id, [&](const std::vector<kafka::Record>& records) {
      envelopes.clear();
      for (const auto& r : records) {
        auto e = events::Decode(r.value);
        if (e.ok()) envelopes.push_back(*e);
      }
      return done(envelopes);
    });
    return envelopes;
  }

  static int Count(const std::vector<Envelope>& envelopes, const std::string& type) {
    int n = 0;
    for (const auto& e : envelopes) n += e.type() == type;
    return n;
  }

  // meldctl's output and exit status.
  static std::pair<int, std::string> Meldctl(const std::vector<std::string>& args) {
    std::string command = absl::StrCat(MELDCTL_BIN, " --intake ",
                                       stack_->services.at("intake").grpc, " --timeout 60");
    for (const std::string& arg : args) absl::StrAppend(&command, " '", arg, "'");
    absl::StrAppend(&command, " 2>&1");
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return {-1, ""};
    std::array<char, 4096> buffer;
    while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) out.append(buffer.data(), n);
    const int status = pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
  }
};

TEST_F(TriageE2e, ACaseNobodyCanRouteIsInTriageListedAndRoutedOnByTheTeam) {
  const std::string case_id = Submit("graffiti", "Graffiti op de glascontainer aan het plein");
  ASSERT_FALSE(case_id.empty());
  std::optional<t::Case> c = WaitFor(case_id, t::IN_TRIAGE);
  ASSERT_TRUE(c && c->state() == t::IN_TRIAGE)
      << "state " << (c ? t::CaseState_Name(c->state()) : "none");
  EXPECT_NE(c->triage_reason().find("category graffiti is not in the routing rules"),
            std::string::npos)
      << c->triage_reason();
  EXPECT_EQ(c->department(), "");
  EXPECT_EQ(c->route_hops(), 0) << "not routed to a pseudo-department";

  // The team's queue: the list, meldctl, and the message on its feed with the reason.
  EXPECT_TRUE(ListedInTriage(case_id));
  auto [code, listed] = Meldctl({"list", "--state", "IN_TRIAGE"});
  EXPECT_EQ(code, 0) << listed;
  EXPECT_NE(listed.find(case_id), std::string::npos) << listed;
  std::vector<events::v1::DispatchMessage> queue = Dispatched("meldpunt-triage", case_id);
  ASSERT_EQ(queue.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(queue[0].explanation(), "triage: ")) << queue[0].explanation();
  EXPECT_EQ(queue[0].department(), "meldpunt-triage");

  // The team decides: environment.
  intake::v1::CaseResponse reassigned;
  grpc::Status status = Reassign(case_id, "environment", &reassigned);
  ASSERT_TRUE(status.ok()) << status.error_message();
  c = WaitFor(case_id, t::ROUTED, "environment");
  ASSERT_TRUE(c && c->state() == t::ROUTED && c->department() == "environment")
      << "state " << (c ? t::CaseState_Name(c->state()) : "none");
  EXPECT_EQ(c->triage_reason(), "");
  EXPECT_EQ(c->route_hops(), 1);
  EXPECT_TRUE(c->reporter_visible()) << "environment's policy, which routing knows";
  std::vector<events::v1::DispatchMessage> dispatched = Dispatched("environment", case_id);
  ASSERT_EQ(dispatched.size(), 1u);
  EXPECT_EQ(dispatched[0].category(), "graffiti");
  EXPECT_FALSE(ListedInTriage(case_id));
  // Routing's answer: one CaseRouted, to the team's choice, on the department's feed. (The
  // department's clocks start on it in deadline-watch; the e2e deadline config has no clock that
  // starts on routed, so this test cannot see them.)
  auto history = CaseEvents(
      case_id, [](const std::vector<Envelope>& e) { return Count(e, "CaseRouted") > 0; });
  EXPECT_EQ(Count(history, "CaseTriaged"), 1);
  ASSERT_EQ(Count(history, "CaseRouted"), 1);
  for (const Envelope& e : history) {
    if (!e.has_case_routed()) continue;
    EXPECT_EQ(e.case_routed().department(), "environment");
    EXPECT_EQ(e.case_routed().rule_id(), "reassigned");
    EXPECT_EQ(e.case_routed().dispatch_topic(), events::DispatchTopic("environment"));
    EXPECT_EQ(e.event_id(), dispatched[0].dispatch_id());
  }
}

// The shipped rules: a tree bounced by green-spaces goes to its next candidate, public-works;
// bounced there too, to triage with CaseTriaged.
TEST_F(TriageE2e, ATreeBouncedByEveryCandidateEndsInTriage) {
  const std::string case_id = Submit("trees", "Een boom hangt over het fietspad");
  ASSERT_FALSE(case_id.empty());
  ASSERT_TRUE(WaitFor(case_id, t::ROUTED, "green-spaces").has_value());
  ASSERT_EQ(Get(case_id)->department(), "green-spaces");
  grpc::Status bounced = Bounce(case_id, "green-spaces");
  ASSERT_TRUE(bounced.ok()) << bounced.error_message();
  std::optional<t::Case> c = WaitFor(case_id, t::ROUTED, "public-works");
  ASSERT_TRUE(c && c->department() == "public-works")
      << "state " << (c ? t::CaseState_Name(c->state()) : "none");
  EXPECT_EQ(c->team(), "roads");
  bounced = Bounce(case_id, "public-works");
  ASSERT_TRUE(bounced.ok()) << bounced.error_message();
  c = WaitFor(case_id, t::IN_TRIAGE);
  ASSERT_TRUE(c && c->state() == t::IN_TRIAGE)
      << "state " << (c ? t::CaseState_Name(c->state()) : "none");
  EXPECT_NE(c->triage_reason().find("bounced"), std::string::npos) << c->triage_reason();
  EXPECT_NE(c->triage_reason().find("green-spaces, public-works"), std::string::npos)
      << c->triage_reason();
  EXPECT_EQ(c->route_hops(), 2);
  EXPECT_TRUE(ListedInTriage(case_id));
  // No CaseRouted to the triage queue: two routings, one triage.
  auto history = CaseEvents(
      case_id, [](const std::vector<Envelope>& e) { return Count(e, "CaseTriaged") > 0; });
  EXPECT_EQ(Count(history, "CaseRouted"), 2);
  EXPECT_EQ(Count(history, "CaseTriaged"), 1);
}

}  // namespace
}  // namespace meldpunt
