// The routing handler with the shipped rules, an in-memory route store, a fake record sink and a
// fake clock: no Kafka, no Redis. The records of a decision go out together; the state is saved
// and the decision counted only once every one is acknowledged; a failed or refused send saves
// nothing, and the repeat sends the same ids.
#include "services/routing/routing_handler.h"

#include <cmath>
#include <cstdlib>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "libs/events/topics.h"
#include "libs/service/testing/fake_record_sink.h"
#include "libs/service/testing/metric_values.h"
#include "prometheus/registry.h"

namespace meldpunt::routing {
namespace {

using ::testing::ElementsAre;

namespace t = ::meldpunt::types::v1;

// The route store in memory: states by case, the open cases of members and the GEO search
// (great-circle distance, as Redis measures it) derived from them, as the Redis one derives its
// sets.
class MemoryRouteStore : public RouteStore {
 public:
  absl::StatusOr<std::vector<v1::RouteState>> LoadAll(
      const std::vector<std::string>& case_ids) override {
    {
      absl::MutexLock lock(&mu_);
      ++load_alls;
    }
    return RouteStore::LoadAll(case_ids);
  }
  absl::StatusOr<v1::RouteState> Load(const std::string& case_id) override {
    absl::MutexLock lock(&mu_);
    ++loads;
    if (!error.ok()) return error;
    auto it = states.find(case_id);
    return it == states.end() ? v1::RouteState() : it->second;
  }
  absl::Status Save(const std::string& case_id, const v1::RouteState&,
                    const v1::RouteState& after) override {
    absl::MutexLock lock(&mu_);
    if (!error.ok()) return error;
    if (case_id == refuse_case) return absl::InvalidArgumentError("WRONGTYPE");
    ++saves;
    states[case_id] = after;
    return absl::OkStatus();
  }
  absl::Status SaveAll(const std::vector<Change>& changes, size_t* failed) override {
    {
      absl::MutexLock lock(&mu_);
      ++save_alls;
      if (!save_error.ok()) {
        if (failed != nullptr) *failed = 0;
        return save_error;
      }
      last_save_all = changes;
    }
    return RouteStore::SaveAll(changes, failed);
  }
  absl::StatusOr<std::map<std::string, int64_t>> OpenCases(
      const std::string& department, const std::vector<std::string>& members) override {
    absl::MutexLock lock(&mu_);
    ++open_case_reads;
    if (!workload_error.ok()) return workload_error;
    std::map<std::string, int64_t> open;
    for (const std::string& m : members) open[m] = preset_open.count(m) ? preset_open[m] : 0;
    for (const auto& [id, s] : states) {
      if (!s.closed() && s.department() == department && open.count(s.assignee()))
        ++open[s.assignee()];
    }
    return open;
  }
  absl::StatusOr<std::vector<std::pair<std::string, double>>> Near(const std::string& category,
                                                                   double latitude,
                                                                   double longitude,
                                                                   double radius_m) override {
    absl::MutexLock lock(&mu_);
    std::vector<std::pair<std::string, double>> out;
    for (const auto& [id, s] : states) {
      const t::Location& where = s.draft().location();
      if (s.closed() || s.draft().category() != category || !where.has_coordinates()) continue;
      const double d = GreatCircleMetres(latitude, longitude, where.latitude(), where.longitude());
      if (d <= radius_m) out.emplace_back(id, d);
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.second < b.second; });
    return out;
  }
  absl::StatusOr<DepartmentCases> Workload(const std::string&,
                                           const std::vector<std::string>&) override {
    return DepartmentCases();
  }
  absl::StatusOr<std::map<std::string, std::optional<absl::Time>>> Triage() override {
    return std::map<std::string, std::optional<absl::Time>>();
  }

  absl::Mutex mu_;
  std::map<std::string, v1::RouteState> states;
  std::map<std::string, int64_t> preset_open;
  int loads = 0;
  int load_alls = 0;
  int saves = 0;
  int save_alls = 0;
  std::vector<Change> last_save_all;  // what the last SaveAll was given
  int open_case_reads = 0;
  std::string refuse_case;  // Save refuses this case's state
  absl::Status save_error;  // what SaveAll answers, writing nothing
  absl::Status error;
  absl::Status workload_error;
};

RuleBookOptions ShippedRules() {
  const char* source = std::getenv("MELDPUNT_SOURCE_DIR");
  const std::string root = std::string(source ? source : ".") + "/deploy/config/";
  return {.rules_file = root + "routing-rules.yaml", .catalog_file = root + "categories.yaml"};
}

const absl::Time kNow = absl::FromUnixSeconds(1'763'800'100);

events::Envelope Submitted(const std::string& case_id, const std::string& category,
                           std::optional<std::pair<double, double>> at = std::nullopt) {
  events::Envelope e = events::NewEnvelope(case_id, "intake", kNow - absl::Minutes(1));
  auto* s = e.mutable_case_submitted();
  s->set_reference(absl::StrCat("REF-", case_id.substr(3)));
  s->set_submitting_system("web-form");
  s->mutable_draft()->set_kind(t::REPORT);
  s->mutable_draft()->set_category(category);
  s->mutable_draft()->set_description("Lamp out");
  if (at) {
    s->mutable_draft()->mutable_location()->set_has_coordinates(true);
    s->mutable_draft()->mutable_location()->set_latitude(at->first);
    s->mutable_draft()->mutable_location()->set_longitude(at->second);
  }
  e.set_correlation_id("trace-1");
  events::Finish(e, absl::StrCat("submitted-", case_id));
  return e;
}

std::string Header(const kafka::Message& m, const std::string& name) {
  for (const auto& [k, v] : m.headers)
    if (k == name) return v;
  return "";
}

std::vector<std::string> EventIds(const std::vector<kafka::Message>& sent) {
  std::vector<std::string> ids;
  for (const kafka::Message& m : sent) ids.push_back(Header(m, "event-id"));
  return ids;
}

class RoutingHandlerTest : public ::testing::Test {
 protected:
  RoutingHandlerTest()
      : clock_(kNow),
        logic_(clock_),
        metrics_(registry_),
        rules_(
            ShippedRules(), [](const std::vector<kafka::TopicSpec>&) { return absl::OkStatus(); },
            metrics_),
        handler_(store_, logic_, rules_, sink_, metrics_, absl::Seconds(10)) {
    EXPECT_TRUE(rules_.Load().ok());
  }

  double Decisions(const std::string& department, const std::string& rule) {
    return service::CounterValue(registry_, "meldpunt_routing_decisions_total",
                                 {{"department", department}, {"rule", rule}});
  }

  clock::FakeClock clock_;
  RoutingLogic logic_;
  prometheus::Registry registry_;
  RoutingMetrics metrics_;
  RuleBook rules_;
  MemoryRouteStore store_;
  service::FakeRecordSink sink_;
  RoutingHandler handler_;
};

constexpr char kCase[] = "MP-0123456789ABC";

TEST_F(RoutingHandlerTest, RoutesDispatchesSavesAndCounts) {
  store_.preset_open = {{"an.peeters", 3}, {"bart.claes", 1}};
  ASSERT_TRUE(handler_.Handle(Submitted(kCase, "street-lighting")).ok());

  const auto dispatched = sink_.SentTo(events::DispatchTopic("public-works"));
  ASSERT_EQ(dispatched.size(), 1u);
  EXPECT_EQ(dispatched[0].key, kCase);
  const auto logged = sink_.SentTo(events::kCaseEventsTopic);
  ASSERT_EQ(logged.size(), 1u);
  absl::StatusOr<events::Envelope> routed = events::Decode(logged[0].value);
  ASSERT_TRUE(routed.ok());
  ASSERT_TRUE(routed->has_case_routed());
  EXPECT_EQ(routed->case_routed().department(), "public-works");
  EXPECT_EQ(routed->case_routed().assignee(), "bart.claes") << "the fewest open cases";

  // The submission is folded and saved; the department comes with routing's own CaseRouted,
  // read back from the log.
  EXPECT_EQ(store_.states[kCase].draft().category(), "street-lighting");
  EXPECT_EQ(store_.states[kCase].department(), "");
  EXPECT_EQ(Decisions("public-works", routed->case_routed().rule_id()), 1);
  ASSERT_TRUE(handler_.Handle(*routed).ok());
  EXPECT_EQ(store_.states[kCase].department(), "public-works");
  EXPECT_EQ(store_.states[kCase].assignee(), "bart.claes");

  // A repeat of the submission once routing folded its answer: nothing goes again.
  sink_.Clear();
  ASSERT_TRUE(handler_.Handle(Submitted(kCase, "street-lighting")).ok());
  EXPECT_TRUE(sink_.Sent().empty());
}

TEST_F(RoutingHandlerTest, TheStateIsSavedOnlyOnceEveryRecordIsAcknowledged) {
  sink_.Hold();
  absl::Status handled;
  std::thread lane([&] { handled = handler_.Handle(Submitted(kCase, "street-lighting")); });
  // Both records in flight, neither acknowledged: nothing saved, nothing counted.
  while (sink_.Sent().size() < 2) absl::SleepFor(absl::Milliseconds(1));
  {
    absl::MutexLock lock(&store_.mu_);
    EXPECT_EQ(store_.saves, 0);
  }
  EXPECT_EQ(service::CounterTotal(registry_, "meldpunt_routing_decisions_total"), 0);
  sink_.Acknowledge();
  lane.join();
  ASSERT_TRUE(handled.ok()) << handled;
  EXPECT_EQ(store_.saves, 1);
  EXPECT_EQ(store_.states[kCase].draft().category(), "street-lighting");
  EXPECT_EQ(service::CounterTotal(registry_, "meldpunt_routing_decisions_total"), 1);
}

TEST_F(RoutingHandlerTest, InABatchTheSaveAndTheCountWaitForTheBatchsOneWait) {
  sink_.Hold();
  constexpr char kOther[] = "MP-0123456789ABD";
  kafka::Record records[2];
  std::vector<events::Batch::Item> items = {{&records[0], Submitted(kCase, "street-lighting")},
                                            {&records[1], Submitted(kOther, "street-lighting")}};
  events::Batch batch(std::move(items));
  handler_.Handle(batch);  // returns with all four records in flight
  EXPECT_EQ(sink_.Sent().size(), 4u);
  EXPECT_EQ(store_.load_alls, 1) << "the batch's states in one read";
  EXPECT_EQ(store_.saves, 0);
  EXPECT_EQ(service::CounterTotal(registry_, "meldpunt_routing_decisions_total"), 0);
  sink_.Acknowledge();
  absl::Status error;
  EXPECT_EQ(batch.Finish(absl::Now() + absl::Seconds(5), &error), std::nullopt) << error;
  EXPECT_EQ(store_.saves, 2);
  EXPECT_EQ(store_.save_alls, 1) << "both states in one write";
  EXPECT_EQ(service::CounterTotal(registry_, "meldpunt_routing_decisions_total"), 2);

  // A failed delivery ends the batch at its record: nothing of it is saved.
  sink_.FailDeliveries(absl::UnavailableError("broker gone"));
  constexpr char kThird[] = "MP-0123456789ABE";
  std::vector<events::Batch::Item> more = {{&records[0], Submitted(kThird, "street-lighting")}};
  events::Batch failing(std::move(more));
  handler_.Handle(failing);
  ASSERT_EQ(failing.Finish(absl::Now() + absl::Seconds(5), &error), std::optional<size_t>(0));
  EXPECT_EQ(error.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store_.saves, 2);
}

TEST_F(RoutingHandlerTest, StatesThatChangeWithNothingToSendAreSavedTogether) {
  // Three routed cases, then a clock started for each: state changes with no records.
  constexpr const char* kCases[] = {"MP-0123456789ABC", "MP-0123456789ABD", "MP-0123456789ABE"};
  for (const char* id : kCases) ASSERT_TRUE(handler_.Handle(Submitted(id, "street-lighting")).ok());
  const int saves_before = store_.saves;
  const size_t sent_before = sink_.Sent().size();
  std::vector<events::Envelope> started;
  for (const char* id : kCases) {
    events::Envelope e = events::NewEnvelope(id, "deadline-watch", kNow);
    e.mutable_clock_started()->set_clock("answer");
    events::SetTime(e.mutable_clock_started()->mutable_due_at(), kNow + absl::Hours(240));
    events::Finish(e, absl::StrCat("started-", id));
    started.push_back(std::move(e));
  }
  kafka::Record records[3];
  std::vector<events::Batch::Item> items;
  for (size_t i = 0; i < started.size(); ++i) items.push_back({&records[i], started[i]});
  events::Batch batch(std::move(items));
  store_.save_alls = 0;
  handler_.Handle(batch);
  EXPECT_EQ(store_.save_alls, 0) << "saved after the batch's wait";
  EXPECT_EQ(sink_.Sent().size(), sent_before) << "nothing to send";
  absl::Status error;
  EXPECT_EQ(batch.Finish(absl::Now() + absl::Seconds(5), &error), std::nullopt) << error;
  EXPECT_EQ(store_.save_alls, 1) << "the three states in one write";
  EXPECT_EQ(store_.saves, saves_before + 3);

  // A write that fails fails the batch at the first of them: all are handled again.
  store_.save_error = absl::UnavailableError("redis: connection lost");
  std::vector<events::Envelope> acknowledge;
  for (const char* id : kCases) {
    events::Envelope e = events::NewEnvelope(id, "deadline-watch", kNow);
    e.mutable_clock_started()->set_clock("acknowledge");
    events::SetTime(e.mutable_clock_started()->mutable_due_at(), kNow + absl::Hours(48));
    events::Finish(e, absl::StrCat("acknowledge-", id));
    acknowledge.push_back(std::move(e));
  }
  std::vector<events::Batch::Item> again;
  for (size_t i = 0; i < acknowledge.size(); ++i) again.push_back({&records[i], acknowledge[i]});
  events::Batch failing(std::move(again));
  handler_.Handle(failing);
  EXPECT_EQ(failing.Finish(absl::Now() + absl::Seconds(5), &error), std::optional<size_t>(0));
  EXPECT_EQ(error, store_.save_error);
  store_.save_error = absl::OkStatus();
}

TEST_F(RoutingHandlerTest, ACasesLaterRecordsInABatchStartFromTheStateItsEarlierOnesLeft) {
  // A backlog as routing finds it after a restart: a case's submission, then its clocks.
  kafka::Record records[3];
  std::vector<events::Batch::Item> items;
  items.push_back({&records[0], Submitted(kCase, "street-lighting")});
  for (const char* clock : {"acknowledge", "answer"}) {
    events::Envelope e = events::NewEnvelope(kCase, "deadline-watch", kNow);
    e.mutable_clock_started()->set_clock(clock);
    events::SetTime(e.mutable_clock_started()->mutable_due_at(), kNow + absl::Hours(240));
    events::Finish(e, absl::StrCat("started-", clock));
    items.push_back({&records[items.size()], std::move(e)});
  }
  events::Batch batch(std::move(items));
  store_.save_alls = 0;
  handler_.Handle(batch);
  absl::Status error;
  ASSERT_EQ(batch.Finish(absl::Now() + absl::Seconds(5), &error), std::nullopt) << error;
  EXPECT_EQ(sink_.SentTo(events::DispatchTopic("public-works")).size(), 1u);
  EXPECT_EQ(store_.save_alls, 1) << "the three changes in one write, after the one wait";
  EXPECT_EQ(store_.saves, 1) << "one save of the case: from the state loaded to the last";
  ASSERT_EQ(store_.last_save_all.size(), 1u);
  EXPECT_TRUE(store_.last_save_all[0].before.draft().category().empty())
      << "the save starts from the state the batch loaded (none: a new case)";
  const v1::RouteState& saved = store_.states[kCase];
  EXPECT_EQ(saved.draft().category(), "street-lighting")
      << "the clocks started from the submission";
  EXPECT_EQ(saved.running().size(), 2u) << "the second clock from the state the first left";
  EXPECT_TRUE(saved.running().contains("acknowledge"));
}

// A case whose save fails is handled again from its first record in the batch, its later ones
// with it: they were saved together.
TEST_F(RoutingHandlerTest, ACaseWhoseSaveIsRefusedIsHandledAgainFromItsFirstRecord) {
  store_.refuse_case = kCase;
  kafka::Record records[3];
  std::vector<events::Batch::Item> items;
  items.push_back({&records[0], Submitted(kCase, "street-lighting")});
  items.push_back({&records[1], Submitted("MP-0123456789ABF", "street-lighting")});
  events::Envelope started = events::NewEnvelope(kCase, "deadline-watch", kNow);
  started.mutable_clock_started()->set_clock("acknowledge");
  events::SetTime(started.mutable_clock_started()->mutable_due_at(), kNow + absl::Hours(240));
  events::Finish(started, "started-acknowledge");
  items.push_back({&records[2], std::move(started)});
  events::Batch batch(std::move(items));
  handler_.Handle(batch);
  absl::Status error;
  EXPECT_EQ(batch.Finish(absl::Now() + absl::Seconds(5), &error), std::optional<size_t>(0));
  EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(store_.last_save_all.size(), 2u) << "one save per case";
  EXPECT_EQ(store_.last_save_all[0].case_id, kCase);
  EXPECT_TRUE(store_.last_save_all[0].after.running().contains("acknowledge"));
  EXPECT_EQ(store_.states.count(kCase), 0u);
}

constexpr const char* kThree[] = {"MP-0123456789ABC", "MP-0123456789ABD", "MP-0123456789ABE"};

// A batch of the submissions of kThree, each for street lighting (public-works), on `records`.
std::vector<events::Batch::Item> ThreeSubmitted(kafka::Record (&records)[3]) {
  std::vector<events::Batch::Item> items;
  for (size_t i = 0; i < 3; ++i)
    items.push_back({&records[i], Submitted(kThree[i], "street-lighting")});
  return items;
}

// The capacity check reads a department's counts once per batch, and the batch's later decisions
// count the cases its earlier ones assigned: without that, every case of a batch went to the
// member who had the fewest before it.
TEST_F(RoutingHandlerTest, ABatchReadsTheWorkloadOnceAndCountsItsOwnAssignments) {
  store_.preset_open = {{"an.peeters", 1}, {"bart.claes", 0}};
  kafka::Record records[3];
  events::Batch batch(ThreeSubmitted(records));
  handler_.Handle(batch);
  absl::Status error;
  ASSERT_EQ(batch.Finish(absl::Now() + absl::Seconds(5), &error), std::nullopt) << error;
  EXPECT_EQ(store_.open_case_reads, 1) << "public-works read once for three decisions";
  std::vector<std::string> assignees;
  for (const kafka::Message& m : sink_.SentTo(events::kCaseEventsTopic)) {
    absl::StatusOr<events::Envelope> routed = events::Decode(m.value);
    ASSERT_TRUE(routed.ok());
    assignees.push_back(routed->case_routed().assignee());
  }
  // 0 against 1: bart; 1 against 1: the first by name; 2 against 1: bart again.
  EXPECT_EQ(assignees, (std::vector<std::string>{"bart.claes", "an.peeters", "bart.claes"}));
  EXPECT_EQ(store_.save_alls, 1);
  EXPECT_EQ(store_.saves, 3);
}

// A write refused for one state fails the batch at that state's record: the records before it
// are committed, it and the ones after it are handled again.
TEST_F(RoutingHandlerTest, ARefusedSaveFailsTheBatchAtItsOwnRecord) {
  store_.refuse_case = kThree[1];
  kafka::Record records[3];
  events::Batch batch(ThreeSubmitted(records));
  handler_.Handle(batch);
  absl::Status error;
  EXPECT_EQ(batch.Finish(absl::Now() + absl::Seconds(5), &error), std::optional<size_t>(1));
  EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_.states.count(kThree[0]), 1u);
  EXPECT_EQ(store_.states.count(kThree[1]), 0u);
}

TEST_F(RoutingHandlerTest, AFailedDeliverySavesNothingAndTheRepeatSendsTheSameIds) {
  sink_.FailDeliveries(absl::UnavailableError("kafka: broker down"));
  absl::Status handled = handler_.Handle(Submitted(kCase, "street-lighting"));
  EXPECT_EQ(handled, absl::UnavailableError("kafka: broker down"));
  EXPECT_EQ(store_.saves, 0);
  const std::vector<std::string> first = EventIds(sink_.Sent());
  ASSERT_EQ(first.size(), 2u);

  sink_.FailDeliveries(absl::OkStatus());
  sink_.Clear();
  ASSERT_TRUE(handler_.Handle(Submitted(kCase, "street-lighting")).ok());
  EXPECT_EQ(EventIds(sink_.Sent()), first) << "deterministic ids: consumers drop the repeat";
  EXPECT_EQ(store_.saves, 1);
}

TEST_F(RoutingHandlerTest, ARefusedRecordIsTheError) {
  sink_.Refuse(absl::ResourceExhaustedError("kafka: the producer queue is full"));
  EXPECT_EQ(handler_.Handle(Submitted(kCase, "street-lighting")),
            absl::ResourceExhaustedError("kafka: the producer queue is full"));
  EXPECT_EQ(store_.saves, 0);
}

TEST_F(RoutingHandlerTest, RedisDownIsTheErrorAndNothingIsSent) {
  store_.error = absl::UnavailableError("redis: connection refused");
  EXPECT_EQ(handler_.Handle(Submitted(kCase, "street-lighting")),
            absl::UnavailableError("redis: connection refused"));
  EXPECT_TRUE(sink_.Sent().empty());
}

TEST_F(RoutingHandlerTest, EventsRoutingDoesNotActOnArePassedByUnread) {
  events::Envelope delivered = events::NewEnvelope(kCase, "notification", kNow);
  delivered.mutable_notification_delivered()->set_idempotency_key("k");
  events::Finish(delivered, "delivered-1");
  ASSERT_TRUE(handler_.Handle(delivered).ok());
  EXPECT_EQ(store_.loads, 0);
  EXPECT_TRUE(sink_.Sent().empty());
}

TEST_F(RoutingHandlerTest, ANearbyOpenCaseOfTheCategoryIsLinked) {
  ASSERT_TRUE(handler_.Handle(Submitted("MP-0000000000001", "potholes", {{51.05, 3.72}})).ok());
  sink_.Clear();
  // About 11 m north: inside the shipped 50 m.
  ASSERT_TRUE(handler_.Handle(Submitted("MP-0000000000002", "potholes", {{51.0501, 3.72}})).ok());
  const auto logged = sink_.SentTo(events::kCaseEventsTopic);
  ASSERT_FALSE(logged.empty());
  absl::StatusOr<events::Envelope> linked = events::Decode(logged[0].value);
  ASSERT_TRUE(linked.ok());
  ASSERT_TRUE(linked->has_case_linked());
  EXPECT_EQ(linked->case_linked().master_case_id(), "MP-0000000000001");
  EXPECT_EQ(Decisions("linked", "duplicates"), 1);
}

// The CaseLinked of a case among the records sent (empty when none links it).
events::v1::CaseLinked LinkOf(const std::vector<kafka::Message>& sent, const std::string& case_id) {
  for (const kafka::Message& m : sent) {
    if (m.topic != events::kCaseEventsTopic || m.key != case_id) continue;
    absl::StatusOr<events::Envelope> e = events::Decode(m.value);
    if (e.ok() && e->has_case_linked()) return e->case_linked();
  }
  return {};
}

// The master a case's CaseLinked names, and its reference ("" when none links it).
std::string LinkedTo(const std::vector<kafka::Message>& sent, const std::string& case_id) {
  return LinkOf(sent, case_id).master_case_id();
}
std::string LinkedToReference(const std::vector<kafka::Message>& sent, const std::string& case_id) {
  return LinkOf(sent, case_id).master_reference();
}

// Handles `batch` on a lane of its own; false when it has not returned within five seconds (the
// acknowledgements are then released, so that the lane ends).
bool HandledWithoutWaiting(RoutingHandler& handler, service::FakeRecordSink& sink,
                           events::Batch& batch) {
  absl::Notification returned;
  std::thread lane([&] {
    handler.Handle(batch);
    returned.Notify();
  });
  const bool in_time = returned.WaitForNotificationWithTimeout(absl::Seconds(5));
  if (!in_time) sink.Acknowledge();
  lane.join();
  return in_time;
}

TEST_F(RoutingHandlerTest, InABatchSubmissionsWithCoordinatesWaitOnceAndFindEachOtherInFlight) {
  sink_.Hold();
  constexpr char kFirst[] = "MP-0000000000001";
  constexpr char kSecond[] = "MP-0000000000002";
  kafka::Record records[2];
  std::vector<events::Batch::Item> items = {
      {&records[0], Submitted(kFirst, "potholes", {{51.05, 3.72}})},
      {&records[1], Submitted(kSecond, "potholes", {{51.0501, 3.72}})}};  // 11 m north
  events::Batch batch(std::move(items));
  // No record waits for its own acknowledgement: the batch's one wait is the only one.
  ASSERT_TRUE(HandledWithoutWaiting(handler_, sink_, batch))
      << "a submission with coordinates waited for its acknowledgement";
  EXPECT_EQ(LinkedTo(sink_.Sent(), kSecond), kFirst) << "the first is in flight, not yet saved";
  EXPECT_EQ(store_.saves, 0);
  EXPECT_EQ(handler_.InFlight(), 2u);

  sink_.Acknowledge();
  absl::Status error;
  EXPECT_EQ(batch.Finish(absl::Now() + absl::Seconds(5), &error), std::nullopt) << error;
  EXPECT_EQ(store_.save_alls, 1) << "both states, and both into the index, in one write";
  EXPECT_EQ(store_.saves, 2);
  EXPECT_EQ(handler_.InFlight(), 0u) << "saved: searched in the index from now on";
  EXPECT_EQ(Decisions("linked", "duplicates"), 1);
}

TEST_F(RoutingHandlerTest, ASubmissionInFlightOnAnotherLaneIsFound) {
  sink_.Hold();
  kafka::Record records[4];
  std::vector<events::Batch::Item> first = {
      {&records[0], Submitted("MP-0000000000001", "potholes", {{51.05, 3.72}})}};
  events::Batch lane1(std::move(first));
  ASSERT_TRUE(HandledWithoutWaiting(handler_, sink_, lane1));
  // Another lane, while the first case's records are still unacknowledged and its state unsaved.
  std::vector<events::Batch::Item> second = {
      {&records[1], Submitted("MP-0000000000002", "potholes", {{51.05, 3.7201}})}};  // 7 m east
  events::Batch lane2(std::move(second));
  ASSERT_TRUE(HandledWithoutWaiting(handler_, sink_, lane2));
  EXPECT_EQ(LinkedTo(sink_.Sent(), "MP-0000000000002"), "MP-0000000000001");
  EXPECT_EQ(LinkedToReference(sink_.Sent(), "MP-0000000000002"), "REF-0000000000001")
      << "the reporter's letter names the master's reference, never its id";
  // Another category at the same spot, and the same category 60 m away, are not linked.
  std::vector<events::Batch::Item> others = {
      {&records[2], Submitted("MP-0000000000003", "street-lighting", {{51.05, 3.72}})},
      {&records[3], Submitted("MP-0000000000004", "potholes", {{51.05054, 3.72}})}};
  events::Batch lane3(std::move(others));
  ASSERT_TRUE(HandledWithoutWaiting(handler_, sink_, lane3));
  EXPECT_EQ(LinkedTo(sink_.Sent(), "MP-0000000000003"), "");
  EXPECT_EQ(LinkedTo(sink_.Sent(), "MP-0000000000004"), "");

  sink_.Acknowledge();
  absl::Status error;
  for (events::Batch* b : {&lane1, &lane2, &lane3}) {
    EXPECT_EQ(b->Finish(absl::Now() + absl::Seconds(5), &error), std::nullopt) << error;
  }
  EXPECT_EQ(handler_.InFlight(), 0u);
  EXPECT_EQ(store_.saves, 4);
}

TEST_F(RoutingHandlerTest, ASubmissionWhoseBatchFailedIsNoLongerInFlight) {
  sink_.FailDeliveries(absl::UnavailableError("broker gone"));
  kafka::Record records[1];
  std::vector<events::Batch::Item> items = {
      {&records[0], Submitted("MP-0000000000001", "potholes", {{51.05, 3.72}})}};
  events::Batch failing(std::move(items));
  handler_.Handle(failing);
  absl::Status error;
  ASSERT_EQ(failing.Finish(absl::Now() + absl::Seconds(5), &error), std::optional<size_t>(0));
  EXPECT_EQ(handler_.InFlight(), 0u) << "handled again later, and searched for again then";
  EXPECT_EQ(store_.saves, 0);

  // Not saved and not in flight: a nearby submission now is not linked to it.
  sink_.FailDeliveries(absl::OkStatus());
  sink_.Clear();
  ASSERT_TRUE(handler_.Handle(Submitted("MP-0000000000002", "potholes", {{51.0501, 3.72}})).ok());
  EXPECT_EQ(LinkedTo(sink_.Sent(), "MP-0000000000002"), "");
}

TEST_F(RoutingHandlerTest, ACaseHandledAgainIsNotLinkedToItsOwnDuplicates) {
  // While the first case is in flight, a nearby case on another lane is linked to it, and a third
  // to that one (its nearest); both are saved. The first's batch then fails at its save, and the
  // first is handled again.
  sink_.Hold();
  kafka::Record records[3];
  std::vector<events::Batch::Item> first = {
      {&records[0], Submitted("MP-0000000000001", "potholes", {{51.05, 3.72}})}};
  events::Batch lane1(std::move(first));
  ASSERT_TRUE(HandledWithoutWaiting(handler_, sink_, lane1));
  std::vector<events::Batch::Item> next = {
      {&records[1], Submitted("MP-0000000000002", "potholes", {{51.0501, 3.72}})},   // 11 m
      {&records[2], Submitted("MP-0000000000003", "potholes", {{51.0502, 3.72}})}};  // 22 m
  events::Batch lane2(std::move(next));
  ASSERT_TRUE(HandledWithoutWaiting(handler_, sink_, lane2));
  ASSERT_EQ(LinkedTo(sink_.Sent(), "MP-0000000000002"), "MP-0000000000001");
  ASSERT_EQ(LinkedTo(sink_.Sent(), "MP-0000000000003"), "MP-0000000000002");
  sink_.Acknowledge();
  absl::Status error;
  ASSERT_EQ(lane2.Finish(absl::Now() + absl::Seconds(5), &error), std::nullopt) << error;
  EXPECT_THAT(store_.states["MP-0000000000002"].duplicate_chain(), ElementsAre("MP-0000000000001"));
  EXPECT_THAT(store_.states["MP-0000000000003"].duplicate_chain(),
              ElementsAre("MP-0000000000002", "MP-0000000000001"))
      << "its master, then the master's chain";
  store_.save_error = absl::UnavailableError("redis: timeout");
  ASSERT_EQ(lane1.Finish(absl::Now() + absl::Seconds(5), &error), std::optional<size_t>(0));
  store_.save_error = absl::OkStatus();
  ASSERT_EQ(handler_.InFlight(), 0u);

  sink_.Clear();
  ASSERT_TRUE(handler_.Handle(Submitted("MP-0000000000001", "potholes", {{51.05, 3.72}})).ok());
  EXPECT_EQ(LinkedTo(sink_.Sent(), "MP-0000000000001"), "")
      << "linked to a case whose chain starts at it: a cycle of duplicates";
  EXPECT_EQ(sink_.SentTo(events::DispatchTopic("public-works")).size(), 1u) << "routed as usual";
}

TEST_F(RoutingHandlerTest, ACaseHandledAgainIsNotLinkedToACaseLinkedToItThroughAnother) {
  // The first case is saved. The second, 22 m from it, is linked to it and still in flight when a
  // third, 11 m beyond it (33 m from the first), is linked to the second, its nearest, and saved.
  // Then the second's batch fails at its save and the second is handled again: its nearest now is
  // the third, whose chain (the second, then the first) holds it.
  ASSERT_TRUE(handler_.Handle(Submitted("MP-0000000000001", "potholes", {{51.05, 3.72}})).ok());
  sink_.Hold();
  kafka::Record records[2];
  std::vector<events::Batch::Item> second = {
      {&records[0], Submitted("MP-0000000000002", "potholes", {{51.0502, 3.72}})}};
  events::Batch lane1(std::move(second));
  ASSERT_TRUE(HandledWithoutWaiting(handler_, sink_, lane1));
  ASSERT_EQ(LinkedTo(sink_.Sent(), "MP-0000000000002"), "MP-0000000000001");
  std::vector<events::Batch::Item> third = {
      {&records[1], Submitted("MP-0000000000003", "potholes", {{51.0503, 3.72}})}};
  events::Batch lane2(std::move(third));
  ASSERT_TRUE(HandledWithoutWaiting(handler_, sink_, lane2));
  ASSERT_EQ(LinkedTo(sink_.Sent(), "MP-0000000000003"), "MP-0000000000002");
  sink_.Acknowledge();
  absl::Status error;
  ASSERT_EQ(lane2.Finish(absl::Now() + absl::Seconds(5), &error), std::nullopt) << error;
  store_.save_error = absl::UnavailableError("redis: timeout");
  ASSERT_EQ(lane1.Finish(absl::Now() + absl::Seconds(5), &error), std::optional<size_t>(0));
  store_.save_error = absl::OkStatus();

  sink_.Clear();
  ASSERT_TRUE(handler_.Handle(Submitted("MP-0000000000002", "potholes", {{51.0502, 3.72}})).ok());
  EXPECT_EQ(LinkedTo(sink_.Sent(), "MP-0000000000002"), "MP-0000000000001")
      << "not to the third, linked to it: a cycle of two links";
  EXPECT_EQ(LinkedToReference(sink_.Sent(), "MP-0000000000002"), "REF-0000000000001")
      << "from the master's state in Redis";
  EXPECT_THAT(store_.states["MP-0000000000002"].duplicate_chain(), ElementsAre("MP-0000000000001"));
}

TEST_F(RoutingHandlerTest, AChainOfLinksIsKeptToItsLimit) {
  // Twenty cases on a line 5 m apart, one after another: each is linked to the one before it.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(handler_
                    .Handle(Submitted(absl::StrFormat("MP-%013d", i + 1), "potholes",
                                      {{51.05 + 0.000045 * i, 3.72}}))
                    .ok());
  }
  const auto& chain = store_.states["MP-0000000000020"].duplicate_chain();
  ASSERT_EQ(chain.size(), RoutingHandler::kMaxDuplicateChain);
  EXPECT_EQ(chain[0], "MP-0000000000019");
  EXPECT_EQ(chain[15], "MP-0000000000004");
}

TEST(InFlightSubmissions, NearestFirstWithinTheRadiusOfTheCategoryUntilRemoved) {
  InFlightSubmissions in_flight;
  const absl::Time at = absl::FromUnixSeconds(1'763'800'000);
  const uint64_t far = in_flight.Add({"MP-far", "potholes", 51.0504, 3.72, at});    // 44.49 m
  const uint64_t near = in_flight.Add({"MP-near", "potholes", 51.0501, 3.72, at});  // 11.1 m
  in_flight.Add({"MP-other", "street-lighting", 51.05, 3.72, at});
  in_flight.Add({"MP-out", "potholes", 51.0505, 3.72, at});  // 55.6 m
  std::vector<InFlightSubmissions::Found> found = in_flight.Near("potholes", 51.05, 3.72, 50);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].case_id, "MP-near");
  EXPECT_NEAR(found[0].distance_m, 11.12, 0.01);
  EXPECT_EQ(found[0].submitted_at, at);
  EXPECT_EQ(found[1].case_id, "MP-far");
  EXPECT_NEAR(found[1].distance_m, 44.49, 0.01);
  // The sphere of the Redis index: along a meridian the distance is its radius times the angle.
  EXPECT_NEAR(GreatCircleMetres(51.05, 3.72, 51.0501, 3.72), 6372797.560856 * 0.0001 * M_PI / 180,
              1e-6);

  in_flight.Remove({near, far});
  EXPECT_TRUE(in_flight.Near("potholes", 51.05, 3.72, 50).empty());
  EXPECT_EQ(in_flight.size(), 2u);
}

TEST_F(RoutingHandlerTest, WithoutWorkloadCountsEveryMemberLooksFree) {
  store_.workload_error = absl::UnavailableError("redis: timeout");
  std::shared_ptr<const RuleSet> rules = rules_.Current();
  EXPECT_TRUE(handler_.OpenCases(*rules, "public-works").empty());
  // The case is routed all the same.
  ASSERT_TRUE(handler_.Handle(Submitted(kCase, "street-lighting")).ok());
  EXPECT_EQ(sink_.SentTo(events::DispatchTopic("public-works")).size(), 1u);
}

}  // namespace
}  // namespace meldpunt::routing
