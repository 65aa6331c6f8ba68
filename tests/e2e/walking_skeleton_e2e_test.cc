// One case through all four services, end to end on the real stack: the intake, routing,
// deadline-watch and notification binaries (started by the e2e_services fixture with
// tests/e2e/config), a real Kafka broker, Redis and the SMTP sink. Checks what a department, a
// reporter and the Meldpunt team would see.
#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/events/codec.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/kafka/consumer.h"
#include "libs/redis/redis.h"
#include "meldpunt/deadline/v1/deadline.grpc.pb.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "meldpunt/notification/v1/notification.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/testing/e2e.h"
#include "tests/testing/mail.h"
#include "tests/testing/stack.h"
#include "tests/testing/webhook_sink.h"

namespace meldpunt {
namespace {

namespace t = ::meldpunt::types::v1;
using events::Envelope;

class WalkingSkeleton : public testing::E2eSuite {
 protected:
  std::unique_ptr<intake::v1::Intake::Stub> Intake() {
    return intake::v1::Intake::NewStub(grpc::CreateChannel(stack_->services.at("intake").grpc,
                                                           grpc::InsecureChannelCredentials()));
  }

  static intake::v1::SubmitCaseRequest Request(const std::string& key, t::CaseKind kind,
                                               const std::string& category,
                                               t::Language language = t::NL) {
    intake::v1::SubmitCaseRequest r;
    r.set_submitting_system("e2e-web-form");
    r.set_request_key(key);
    auto* d = r.mutable_draft();
    d->set_kind(kind);
    d->set_channel(t::WEB);
    d->set_category(category);
    d->set_description("Straatlamp defect voor huisnummer 12");
    d->mutable_location()->set_postcode("9000");
    d->mutable_reporter()->set_name("Jan Peeters");
    d->mutable_reporter()->set_email("jan.peeters@example.org");
    d->mutable_reporter()->set_language(language);
    return r;
  }

  grpc::Status Submit(const intake::v1::SubmitCaseRequest& request,
                      intake::v1::SubmitCaseResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    return Intake()->SubmitCase(&context, request, response);
  }

  absl::StatusOr<intake::v1::GetCaseResponse> Get(const std::string& case_id) {
    grpc::ClientContext context;
    intake::v1::GetCaseRequest request;
    request.set_case_id(case_id);
    intake::v1::GetCaseResponse response;
    grpc::Status status = Intake()->GetCase(&context, request, &response);
    if (!status.ok())
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          status.error_message());
    return response;
  }

  // Every record on `topic` whose key is `key`, read by a fresh consumer group until `done`
  // says enough or `limit` passes.
  static std::vector<kafka::Record> Read(
      const std::string& topic, const std::string& key,
      const std::function<bool(const std::vector<kafka::Record>&)>& done, absl::Duration limit) {
    auto consumer = kafka::Consumer::Create({.brokers = stack_->kafka,
                                             .group_id = testing::UniqueName("e2e-reader"),
                                             .topics = {topic},
                                             .extra = stack_->kafka_properties});
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    std::vector<kafka::Record> out;
    if (!consumer.ok()) return out;
    const absl::Time deadline = absl::Now() + limit;
    while (absl::Now() < deadline && !done(out)) {
      auto record = (*consumer)->Poll(absl::Milliseconds(200));
      if (record.ok() && record->has_value() && (*record)->key == key) out.push_back(**record);
    }
    (*consumer)->Close();
    return out;
  }

  static std::vector<Envelope> CaseEvents(
      const std::string& case_id, const std::function<bool(const std::vector<Envelope>&)>& done,
      absl::Duration limit) {
    std::vector<Envelope> envelopes;
    Read(
        events::kCaseEventsTopic, case_id,
        [&](const std::vector<kafka::Record>& records) {
          envelopes.clear();
          for (const auto& r : records) {
            auto e = events::Decode(r.value);
            if (e.ok()) envelopes.push_back(*e);
          }
          return done(envelopes);
        },
        limit);
    return envelopes;
  }

  static int Count(const std::vector<Envelope>& envelopes, const std::string& type) {
    int n = 0;
    for (const auto& e : envelopes) n += e.type() == type;
    return n;
  }

  // Raw text and decoded body of every mail in the sink about this case to `to` (by default the
  // reporter of Request()).
  static std::vector<std::pair<std::string, std::string>> RawMails(
      const std::string& case_id, const std::string& to = "jan.peeters@example.org") {
    std::vector<std::pair<std::string, std::string>> mails;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(stack_->smtp_dir, ec)) {
      if (entry.path().extension() != ".eml") continue;
      std::ifstream in(entry.path());
      std::stringstream buffer;
      buffer << in.rdbuf();
      const std::string raw = buffer.str();
      if (raw.find("X-Meldpunt-Case: " + case_id) == std::string::npos) continue;
      if (raw.find("To: " + to) == std::string::npos) continue;
      // The text part of the multipart/alternative message (the HTML part says the same).
      mails.emplace_back(raw, testing::MimeParts(raw)["text/plain; charset=utf-8"]);
    }
    return mails;
  }

  // The decoded body of the first mail about this case, or "".
  static std::string Mail(const std::string& case_id, std::string* raw_out = nullptr) {
    auto mails = RawMails(case_id);
    if (mails.empty()) return "";
    if (raw_out) *raw_out = mails[0].first;
    return mails[0].second;
  }

  static std::vector<std::string> Mails(const std::string& case_id) {
    std::vector<std::string> bodies;
    for (auto& [raw, body] : RawMails(case_id)) bodies.push_back(body);
    return bodies;
  }

  // Every request the webhook sink recorded on `path` whose body mentions the case.
  static std::vector<nlohmann::json> Webhooks(const std::string& path, const std::string& case_id) {
    std::vector<nlohmann::json> out;
    for (auto& request : testing::SinkRequests(stack_->webhook_dir, path))
      if (request.value("body", "").find(case_id) != std::string::npos) out.push_back(request);
    return out;
  }
};

TEST_F(WalkingSkeleton, ReportIsRoutedDispatchedAcknowledgedAndItsClockFires) {
  // An ops dashboard follows the deadlines of public-works.
  auto watch_stub = deadline::v1::DeadlineWatch::NewStub(grpc::CreateChannel(
      stack_->services.at("deadline_watch").grpc, grpc::InsecureChannelCredentials()));
  grpc::ClientContext watch_context;
  deadline::v1::WatchDeadlinesRequest watch_request;
  watch_request.set_department("public-works");
  auto watch = watch_stub->WatchDeadlines(&watch_context, watch_request);
  watch->WaitForInitialMetadata();
  absl::Mutex alerts_mu;
  std::vector<deadline::v1::DeadlineAlert> alerts;
  std::thread watcher([&] {
    deadline::v1::DeadlineAlert alert;
    while (watch->Read(&alert)) {
      absl::MutexLock lock(&alerts_mu);
      alerts.push_back(alert);
    }
  });
  struct StopWatching {
    grpc::ClientContext& context;
    std::thread& thread;
    ~StopWatching() {
      context.TryCancel();
      thread.join();
    }
  } stop_watching{watch_context, watcher};

  const std::string key = testing::UniqueName("report");
  intake::v1::SubmitCaseResponse submitted;
  grpc::Status status = Submit(Request(key, t::REPORT, "street-lighting"), &submitted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const std::string case_id = submitted.case_id();
  EXPECT_TRUE(events::IsCaseId(case_id));
  EXPECT_TRUE(submitted.created());

  // Read-your-writes for the submitter.
  auto first = Get(case_id);
  ASSERT_TRUE(first.ok()) << first.status();

  // The department's feed, read by a separate consumer.
  auto dispatched = Read(
      events::DispatchTopic("public-works"), case_id,
      [](const std::vector<kafka::Record>& r) { return !r.empty(); }, absl::Seconds(60));
  ASSERT_EQ(dispatched.size(), 1u) << "no dispatch message for " << case_id;
  events::v1::DispatchMessage dispatch;
  ASSERT_TRUE(dispatch.ParseFromString(dispatched[0].value));
  EXPECT_EQ(dispatch.case_id(), case_id);
  EXPECT_EQ(dispatch.department(), "public-works");
  EXPECT_EQ(dispatch.category(), "street-lighting");
  EXPECT_FALSE(dispatch.has_reporter());
  EXPECT_FALSE(dispatch.reporter_available()) << "public-works may not see the reporter";

  // The acknowledgement reached the reporter through SMTP, with the reference.
  std::string raw;
  ASSERT_TRUE(testing::Eventually([&] { return !Mail(case_id, &raw).empty(); }, absl::Seconds(60)))
      << "no acknowledgement e-mail for " << case_id << " in " << stack_->smtp_dir;
  const std::string body = Mail(case_id);
  EXPECT_NE(body.find(submitted.reference()), std::string::npos) << body;
  EXPECT_EQ(submitted.reference().rfind("MP-20", 0), 0u) << submitted.reference();
  EXPECT_NE(body.find("Beste Jan Peeters"), std::string::npos) << body;
  EXPECT_NE(raw.find("To: jan.peeters@example.org"), std::string::npos);

  // The answer clock of the test policy (10 s, warning at 50 %: the case is routed by then, so the
  // warning names its department) fires a warning and a breach.
  auto history = CaseEvents(
      case_id,
      [](const std::vector<Envelope>& e) {
        return Count(e, "DeadlineBreached") >= 1 && Count(e, "NotificationDelivered") >= 1 &&
               Count(e, "CaseRouted") >= 1;
      },
      absl::Seconds(60));
  EXPECT_EQ(Count(history, "CaseSubmitted"), 1);
  EXPECT_EQ(Count(history, "CaseRouted"), 1);
  int acknowledgements = 0;
  for (const auto& e : history)
    acknowledgements += e.notification_delivered().template_name() == "acknowledgement";
  EXPECT_EQ(acknowledgements, 1);
  EXPECT_EQ(Count(history, "DeadlineWarning"), 1);
  EXPECT_EQ(Count(history, "DeadlineBreached"), 1);
  for (const auto& e : history) {
    if (e.type() == "CaseRouted") EXPECT_EQ(e.causation_id(), history[0].event_id());
  }

  // What the Meldpunt team sees.
  intake::v1::GetCaseResponse shown;
  ASSERT_TRUE(testing::Eventually(
      [&] {
        auto got = Get(case_id);
        if (!got.ok()) return false;
        shown = *got;
        return got->case_().acknowledged() && got->case_().breached_clocks_size() > 0;
      },
      absl::Seconds(30)));
  EXPECT_EQ(shown.case_().state(), t::ROUTED);
  EXPECT_EQ(shown.case_().department(), "public-works");
  EXPECT_EQ(shown.case_().breached_clocks(0), "answer");

  // Operations: the clocks and the deliveries of the case. Deadline-watch marks its clock breached
  // when its consumer reads the DeadlineBreached it appended, as the intake's fold read it: the
  // two views meet once both have read it, in either order.
  auto deadline_stub = deadline::v1::DeadlineWatch::NewStub(grpc::CreateChannel(
      stack_->services.at("deadline_watch").grpc, grpc::InsecureChannelCredentials()));
  deadline::v1::GetCaseClocksRequest clocks_request;
  clocks_request.set_case_id(case_id);
  std::map<std::string, deadline::v1::ClockStatus> by_name;
  EXPECT_TRUE(testing::Eventually(
      [&] {
        grpc::ClientContext clocks_context;
        deadline::v1::GetCaseClocksResponse clocks;
        if (!deadline_stub->GetCaseClocks(&clocks_context, clocks_request, &clocks).ok()) {
          return false;
        }
        by_name.clear();
        for (const auto& c : clocks.clocks()) by_name[c.name()] = c.status();
        return by_name["answer"] == deadline::v1::BREACHED;
      },
      absl::Seconds(10)));
  EXPECT_EQ(by_name["acknowledge"], deadline::v1::STOPPED);
  EXPECT_EQ(by_name["answer"], deadline::v1::BREACHED);

  // The dashboard saw the warning, the breach and the escalation, each once.
  std::multiset<int> alert_types;
  ASSERT_TRUE(testing::Eventually(
      [&] {
        absl::MutexLock lock(&alerts_mu);
        alert_types.clear();
        for (const auto& a : alerts)
          if (a.case_id() == case_id) alert_types.insert(a.type());
        return alert_types.count(deadline::v1::DeadlineAlert::ESCALATION) > 0;
      },
      absl::Seconds(30)))
      << "no escalation alert for " << case_id;
  EXPECT_EQ(alert_types.count(deadline::v1::DeadlineAlert::WARNING), 1u);
  EXPECT_EQ(alert_types.count(deadline::v1::DeadlineAlert::BREACH), 1u);
  EXPECT_EQ(alert_types.count(deadline::v1::DeadlineAlert::ESCALATION), 1u);
  {
    absl::MutexLock lock(&alerts_mu);
    for (const auto& a : alerts) {
      EXPECT_EQ(a.department(), "public-works");
      if (a.type() == deadline::v1::DeadlineAlert::ESCALATION && a.case_id() == case_id) {
        EXPECT_EQ(a.target(), "department-head");
        EXPECT_EQ(a.level(), 1);
      }
    }
  }
  // The clocks' lives are on the case log.
  auto lives = CaseEvents(
      case_id, [](const std::vector<Envelope>& e) { return Count(e, "CaseEscalated") > 0; },
      absl::Seconds(30));
  // The two clocks the submission started, in one record.
  ASSERT_EQ(Count(lives, "ClocksStarted"), 1);
  EXPECT_EQ(Count(lives, "ClockStarted"), 0);
  for (const auto& e : lives) {
    if (!e.has_clocks_started()) continue;
    ASSERT_EQ(e.clocks_started().clocks_size(), 2) << e.DebugString();
    EXPECT_EQ(e.clocks_started().clocks(0).clock(), "acknowledge");
    EXPECT_EQ(e.clocks_started().clocks(1).clock(), "answer");
  }
  EXPECT_EQ(Count(lives, "ClockStopped"), 1) << "the acknowledgement stops its clock";
  EXPECT_EQ(Count(lives, "CaseEscalated"), 1);

  auto notification_stub = notification::v1::Notifications::NewStub(grpc::CreateChannel(
      stack_->services.at("notification").grpc, grpc::InsecureChannelCredentials()));
  notification::v1::ListDeliveriesRequest deliveries_request;
  deliveries_request.set_case_id(case_id);
  notification::v1::ListDeliveriesResponse deliveries;
  // The reporter's acknowledgement by e-mail; the department's dispatch letter and reminder by
  // signed webhook; the escalation to the department head by e-mail.
  std::map<std::string, notification::v1::Delivery> by_template;
  ASSERT_TRUE(testing::Eventually(
      [&] {
        grpc::ClientContext context;
        deliveries.Clear();
        if (!notification_stub->ListDeliveries(&context, deliveries_request, &deliveries).ok())
          return false;
        by_template.clear();
        for (const auto& d : deliveries.deliveries())
          if (d.status() == "delivered") by_template[d.template_name()] = d;
        return by_template.size() == 4;
      },
      absl::Seconds(30)))
      << deliveries.DebugString();
  EXPECT_EQ(by_template["acknowledgement"].channel(), "email");
  EXPECT_EQ(by_template["acknowledgement"].recipient(), "reporter");
  EXPECT_EQ(by_template["dispatch"].channel(), "webhook");
  EXPECT_EQ(by_template["dispatch"].recipient(), "department:public-works");
  EXPECT_EQ(by_template["reminder"].channel(), "webhook");
  EXPECT_EQ(by_template["escalation"].recipient(), "department-head");
  EXPECT_EQ(RawMails(case_id, "diensthoofden@gemeente.example").size(), 1u);
  auto hooks = Webhooks("/hooks/public-works", case_id);
  ASSERT_EQ(hooks.size(), 2u) << "dispatch and reminder, each once";
  for (const auto& hook : hooks) {
    EXPECT_EQ(testing::SinkHeader(hook, "webhook-signature"),
              testing::PythonSignature(hook, "meldpunt-development-webhook-secret"));
    auto payload = nlohmann::json::parse(hook["body"].get<std::string>());
    EXPECT_EQ(payload["case_id"], case_id);
    EXPECT_EQ(payload["reference"], submitted.reference());
  }

  // Redis loses the timers: deadline-watch notices by itself and rebuilds them from the log,
  // without firing what already fired.
  auto redis = redis::Client::Create({.address = stack_->redis});
  ASSERT_TRUE(redis.ok());
  ASSERT_TRUE((*redis)->Command({"DEL", "mp:deadline:intact", "mp:clock:{" + case_id + "}"}).ok());
  auto clocks_of = [&]() {
    grpc::ClientContext context;
    deadline::v1::GetCaseClocksResponse response;
    (void)deadline_stub->GetCaseClocks(&context, clocks_request, &response);
    std::map<std::string, deadline::v1::ClockStatus> out;
    for (const auto& c : response.clocks()) out[c.name()] = c.status();
    return out;
  };
  // The replay writes the clocks at the case's CaseSubmitted and brings them up to date as it
  // reaches the later events (several lanes at once): wait for the whole fold.
  std::map<std::string, deadline::v1::ClockStatus> rebuilt;
  ASSERT_TRUE(testing::Eventually(
      [&] {
        rebuilt = clocks_of();
        return rebuilt.size() == 2 && rebuilt["answer"] == deadline::v1::BREACHED &&
               rebuilt["acknowledge"] == deadline::v1::STOPPED;
      },
      absl::Seconds(60)))
      << "the clocks were not rebuilt: answer " << rebuilt["answer"] << ", acknowledge "
      << rebuilt["acknowledge"];
  absl::SleepFor(absl::Seconds(2));
  auto after = CaseEvents(
      case_id, [](const std::vector<Envelope>&) { return false; }, absl::Seconds(5));
  EXPECT_EQ(Count(after, "DeadlineBreached"), 1) << "a rebuilt timer fired again";
  EXPECT_EQ(Count(after, "DeadlineWarning"), 1);
  EXPECT_EQ(Count(after, "CaseEscalated"), 1);
}

TEST_F(WalkingSkeleton, ComplaintInFrenchGoesToTheComplaintsOfficeWhichMayReadTheReporter) {
  intake::v1::SubmitCaseResponse submitted;
  ASSERT_TRUE(
      Submit(Request(testing::UniqueName("complaint"), t::COMPLAINT, "staff-conduct", t::FR),
             &submitted)
          .ok());
  const std::string case_id = submitted.case_id();
  auto dispatched = Read(
      events::DispatchTopic("complaints-office"), case_id,
      [](const std::vector<kafka::Record>& r) { return !r.empty(); }, absl::Seconds(60));
  ASSERT_EQ(dispatched.size(), 1u);
  events::v1::DispatchMessage dispatch;
  ASSERT_TRUE(dispatch.ParseFromString(dispatched[0].value));
  // Its policy lets it read who reported, through GetCase (audited); never on the feed.
  EXPECT_TRUE(dispatch.reporter_available());
  EXPECT_FALSE(dispatch.has_reporter());
  EXPECT_EQ(dispatched[0].value.find("jan.peeters@example.org"), std::string::npos);
  for (const auto& [name, value] : dispatched[0].headers)
    EXPECT_EQ(value.find("jan.peeters@example.org"), std::string::npos) << name;
  ASSERT_TRUE(testing::Eventually([&] { return !Mail(case_id).empty(); }, absl::Seconds(60)));
  EXPECT_NE(Mail(case_id).find("plainte"), std::string::npos) << Mail(case_id);
}

TEST_F(WalkingSkeleton, RepeatedRequestKeyGivesTheSameCaseAndOneEvent) {
  const std::string key = testing::UniqueName("repeat");
  intake::v1::SubmitCaseResponse a, b;
  ASSERT_TRUE(Submit(Request(key, t::QUESTION, "parking"), &a).ok());
  ASSERT_TRUE(Submit(Request(key, t::QUESTION, "parking"), &b).ok());
  EXPECT_EQ(a.case_id(), b.case_id());
  EXPECT_TRUE(a.created());
  EXPECT_FALSE(b.created());
  // Wait for routing's answer (so the log has been read past the submission), then count.
  auto history = CaseEvents(
      a.case_id(),
      [](const std::vector<Envelope>& e) {
        return Count(e, "CaseRouted") >= 1 && Count(e, "NotificationDelivered") >= 1;
      },
      absl::Seconds(60));
  EXPECT_EQ(Count(history, "CaseSubmitted"), 1);
  EXPECT_EQ(Count(history, "CaseRouted"), 1);
}

TEST_F(WalkingSkeleton, BadInputIsRefusedByFieldAndEmitsNothing) {
  auto request = Request(testing::UniqueName("bad"), t::REPORT, "street-lighting");
  request.mutable_draft()->set_description(std::string(4001, 'x'));
  intake::v1::SubmitCaseResponse response;
  grpc::Status status = Submit(request, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("draft.description"), std::string::npos)
      << status.error_message();
  const std::string would_be =
      events::CaseIdFor(request.submitting_system(), request.request_key());
  EXPECT_EQ(Get(would_be).status().code(), absl::StatusCode::kNotFound);
  // A valid case submitted after it is in the log; the refused one never is.
  intake::v1::SubmitCaseResponse later;
  ASSERT_TRUE(Submit(Request(testing::UniqueName("after-bad"), t::REPORT, "roads"), &later).ok());
  auto after = CaseEvents(
      later.case_id(), [](const std::vector<Envelope>& e) { return !e.empty(); },
      absl::Seconds(30));
  ASSERT_FALSE(after.empty());
  EXPECT_TRUE(CaseEvents(
                  would_be, [](const std::vector<Envelope>&) { return false; }, absl::Seconds(3))
                  .empty());
}

TEST_F(WalkingSkeleton, ABouncedRoadGoesToTheNextCandidateAndAQuestionForTheOmbudsmanIsReferred) {
  intake::v1::SubmitCaseResponse submitted;
  ASSERT_TRUE(
      Submit(Request(testing::UniqueName("bounce"), t::REPORT, "potholes"), &submitted).ok());
  const std::string case_id = submitted.case_id();
  ASSERT_EQ(Read(
                events::DispatchTopic("public-works"), case_id,
                [](const std::vector<kafka::Record>& r) { return !r.empty(); }, absl::Seconds(60))
                .size(),
            1u);
  ASSERT_TRUE(testing::Eventually(
      [&] {
        auto c = Get(case_id);
        return c.ok() && c->case_().state() == t::ROUTED;
      },
      absl::Seconds(30)));
  auto work = intake::v1::CaseWork::NewStub(
      grpc::CreateChannel(stack_->services.at("intake").grpc, grpc::InsecureChannelCredentials()));
  intake::v1::BounceCaseRequest bounce;
  bounce.set_case_id(case_id);
  bounce.mutable_actor()->set_id("department:public-works");
  bounce.set_reason("Gewestweg: niet onze bevoegdheid");
  intake::v1::CaseResponse out;
  grpc::ClientContext context;
  ASSERT_TRUE(work->BounceCase(&context, bounce, &out).ok());
  // The shipped rules' next candidate for a road public-works bounced: not a municipal road, so
  // referred to the Flemish road agency (rule regional-roads).
  ASSERT_TRUE(testing::Eventually(
      [&] {
        auto c = Get(case_id);
        return c.ok() && c->case_().state() == t::REFERRED;
      },
      absl::Seconds(30)));
  EXPECT_EQ(Get(case_id)->case_().referred_to(), "Agentschap Wegen en Verkeer");
  EXPECT_EQ(Get(case_id)->case_().route_hops(), 1);

  auto question = Request(testing::UniqueName("ombudsman"), t::QUESTION, "service-quality");
  question.mutable_draft()->set_description("Kan ik met mijn klacht naar de ombudsman?");
  intake::v1::SubmitCaseResponse referred;
  ASSERT_TRUE(Submit(question, &referred).ok());
  ASSERT_TRUE(testing::Eventually(
      [&] {
        auto c = Get(referred.case_id());
        return c.ok() && c->case_().state() == t::REFERRED;
      },
      absl::Seconds(30)));
  EXPECT_EQ(Get(referred.case_id())->case_().referred_to(), "Vlaamse Ombudsdienst");
  // The reporter hears where the case went.
  ASSERT_TRUE(testing::Eventually([&] { return Mails(referred.case_id()).size() == 2; },
                                  absl::Seconds(60)));
  bool letter = false;
  for (const auto& body : Mails(referred.case_id()))
    letter |= body.find("doorgestuurd naar Vlaamse Ombudsdienst") != std::string::npos;
  EXPECT_TRUE(letter);
}

TEST_F(WalkingSkeleton, ASecondReportNearbyIsLinkedAsADuplicateAndItsReporterTold) {
  // A spot of its own for this run, so earlier reports cannot interfere.
  const double lat = 51.0 + (absl::ToUnixMicros(absl::Now()) % 1000) / 100000.0;
  auto at = [&](const std::string& key, double dlat) {
    auto request = Request(testing::UniqueName(key), t::REPORT, "illegal-dumping");
    auto* where = request.mutable_draft()->mutable_location();
    where->set_has_coordinates(true);
    where->set_latitude(lat + dlat);
    where->set_longitude(3.65);
    return request;
  };
  intake::v1::SubmitCaseResponse first, second;
  ASSERT_TRUE(Submit(at("dup-first", 0), &first).ok());
  ASSERT_EQ(Read(
                events::DispatchTopic("environment"), first.case_id(),
                [](const std::vector<kafka::Record>& r) { return !r.empty(); }, absl::Seconds(60))
                .size(),
            1u);
  ASSERT_TRUE(Submit(at("dup-second", 0.0001), &second).ok());  // about 11 m north
  auto dispatched = Read(
      events::DispatchTopic("environment"), second.case_id(),
      [](const std::vector<kafka::Record>& r) { return !r.empty(); }, absl::Seconds(60));
  ASSERT_EQ(dispatched.size(), 1u);
  events::v1::DispatchMessage dispatch;
  ASSERT_TRUE(dispatch.ParseFromString(dispatched[0].value));
  EXPECT_EQ(dispatch.duplicate_of(), first.case_id());
  ASSERT_TRUE(testing::Eventually(
      [&] {
        auto c = Get(second.case_id());
        return c.ok() && c->case_().duplicate_of() == first.case_id();
      },
      absl::Seconds(30)));
  EXPECT_EQ(Get(first.case_id())->case_().duplicate_of(), "");
  ASSERT_TRUE(
      testing::Eventually([&] { return Mails(second.case_id()).size() == 2; }, absl::Seconds(60)));
  bool told = false;
  for (const auto& body : Mails(second.case_id()))
    told |= body.find(first.reference()) != std::string::npos;
  EXPECT_TRUE(told) << "the duplicate letter names the first case's reference";
  // Far away: not a duplicate.
  intake::v1::SubmitCaseResponse far;
  ASSERT_TRUE(Submit(at("dup-far", 0.01), &far).ok());  // about 1.1 km
  ASSERT_EQ(Read(
                events::DispatchTopic("environment"), far.case_id(),
                [](const std::vector<kafka::Record>& r) { return !r.empty(); }, absl::Seconds(60))
                .size(),
            1u);
  EXPECT_EQ(Get(far.case_id())->case_().duplicate_of(), "");
}

TEST_F(WalkingSkeleton, SighupMakesRoutingReloadItsRules) {
  const auto& admin = stack_->services.at("routing").admin;
  const size_t colon = admin.rfind(':');
  httplib::Client client(admin.substr(0, colon), std::stoi(admin.substr(colon + 1)));
  auto applied = [&]() -> int {
    auto metrics = client.Get("/metrics");
    if (!metrics) return -1;
    const std::string needle = "meldpunt_routing_rule_reloads_total{outcome=\"applied\"} ";
    size_t at = metrics->body.find(needle);
    return at == std::string::npos ? 0 : std::atoi(metrics->body.c_str() + at + needle.size());
  };
  const int before = applied();
  ASSERT_GE(before, 0);
  ASSERT_GT(stack_->pids.count("routing"), 0u);
  ASSERT_EQ(kill(stack_->pids.at("routing"), SIGHUP), 0);
  EXPECT_TRUE(testing::Eventually([&] { return applied() == before + 1; }, absl::Seconds(10)));
  auto ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << "still serving after the reload";
}

TEST_F(WalkingSkeleton, EveryServiceIsHealthyReadyAndExposesMetrics) {
  for (const auto& [name, endpoints] : stack_->services) {
    const size_t colon = endpoints.admin.rfind(':');
    httplib::Client client(endpoints.admin.substr(0, colon),
                           std::stoi(endpoints.admin.substr(colon + 1)));
    auto ready = client.Get("/readyz");
    ASSERT_TRUE(ready) << name;
    EXPECT_EQ(ready->status, 200) << name;
    auto metrics = client.Get("/metrics");
    ASSERT_TRUE(metrics) << name;
    EXPECT_NE(metrics->body.find("meldpunt_"), std::string::npos)
        << name << ": " << metrics->body.substr(0, 200);
  }
}

}  // namespace
}  // namespace meldpunt
