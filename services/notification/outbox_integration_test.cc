// The outbox against the real redis-server and the real webhook sink of the test stack
// (tests/harness/webhook_sink.py): RedisDeliveryStore's queue semantics (idempotent enqueue,
// leases, rescheduling, finishing), and NotificationLogic sending department webhooks through a
// real WebhookSender: retries with backoff scheduled in Redis, a hanging endpoint that holds up
// only its own host, dead-lettering, a manual retry, and a refusal that is never retried.
// Time is a FakeClock: due and lease times in Redis are compared with it, so nothing sleeps
// except the one request the hanging endpoint keeps waiting.
#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "libs/clock/clock.h"
#include "libs/events/codec.h"
#include "libs/events/event_log.h"
#include "libs/events/ids.h"
#include "libs/redis/lease_queue.h"
#include "libs/redis/redis.h"
#include "nlohmann/json.hpp"
#include "services/notification/delivery_store.h"
#include "services/notification/notification_logic.h"
#include "services/notification/rules.h"
#include "services/notification/templates.h"
#include "services/notification/webhook.h"
#include "tests/testing/stack.h"
#include "tests/testing/webhook_sink.h"

namespace meldpunt::notification {
namespace {

namespace t = ::meldpunt::types::v1;
using ::testing::HasSubstr;

constexpr char kSecretEnv[] = "OUTBOX_TEST_SECRET";
constexpr char kSecret[] = "outbox-test-secret-0123456789";

// The case log and the dead-letter topic, in memory (Attempt may run on two threads at once).
class FakeLog : public events::EventLog {
 public:
  absl::StatusOr<events::Appended> Append(const events::Envelope& e, absl::Time) override {
    absl::MutexLock lock(&mu_);
    appended_.push_back(e);
    return events::Appended{};
  }
  std::vector<events::Envelope> appended() const {
    absl::MutexLock lock(&mu_);
    return appended_;
  }
  std::vector<events::Envelope> OfType(const std::string& type) const {
    std::vector<events::Envelope> out;
    for (const events::Envelope& e : appended())
      if (e.type() == type) out.push_back(e);
    return out;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<events::Envelope> appended_ ABSL_GUARDED_BY(mu_);
};

// Department letters go by webhook only here: any e-mail is a bug.
class NoMailer : public Mailer {
 public:
  absl::Status Send(const Email& email) override {
    ADD_FAILURE() << "unexpected e-mail to " << email.to;
    return absl::OkStatus();
  }
};

// Joins a thread however the test leaves its scope (a failed ASSERT must not terminate).
class Joiner {
 public:
  explicit Joiner(std::thread& thread) : thread_(thread) {}
  ~Joiner() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::thread& thread_;
};

class OutboxIntegrationTest : public ::testing::Test {
 protected:
  OutboxIntegrationTest() : clock_(absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()))) {}

  void SetUp() override {
    absl::StatusOr<testing::Stack> stack = testing::LoadStack();
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
    ASSERT_FALSE(stack_.redis.empty()) << "no redis in the stack";
    ASSERT_FALSE(stack_.webhook.empty()) << "no webhook sink in the stack";
    port_ = stack_.webhook.substr(stack_.webhook.rfind(':') + 1);

    auto client =
        redis::Client::Create({.address = stack_.redis, .scripts = {redis::LeaseClaimScript()}});
    ASSERT_TRUE(client.ok()) << client.status();
    redis_ = *std::move(client);
    store_ = std::make_unique<RedisDeliveryStore>(*redis_);
    // A partition far from the ones the services use, and one of its own per test and run.
    absl::BitGen random;
    partition_ = 100000 + absl::Uniform<int32_t>(random, 0, 1'000'000'000);

    const char* source = std::getenv("MELDPUNT_SOURCE_DIR");
    auto templates =
        Templates::Load(std::string(source ? source : ".") + "/services/notification/templates");
    ASSERT_TRUE(templates.ok()) << templates.status();
    templates_.emplace(*std::move(templates));

    auto sender = WebhookSender::Create({.allow_private = {"127.0.0.0/8", "::1/128"},
                                         .connect_timeout = absl::Seconds(1),
                                         .timeout = absl::Seconds(2)});
    ASSERT_TRUE(sender.ok()) << sender.status();
    sender_.emplace(*std::move(sender));
  }

  // The sink is shared: leave it answering 200 at once (this also releases a hanging request).
  // And take this test's keys out of Redis.
  void TearDown() override {
    if (!stack_.webhook.empty()) EXPECT_EQ(testing::SinkControl(stack_.webhook, "DELETE"), 200);
    if (redis_ == nullptr) return;
    std::vector<std::string> keys = {RedisDeliveryStore::DueKey(partition_),
                                     RedisDeliveryStore::InflightKey(partition_),
                                     RedisDeliveryStore::QueuedKey(partition_)};
    for (const std::string& c : cases_) {
      keys.push_back(absl::StrCat("mp:notify:jobs:{", c, "}"));
      keys.push_back(absl::StrCat("mp:notify:case:{", c, "}"));
    }
    for (const std::string& key : keys) (void)redis_->Command({"DEL", key});
  }

  void Respond(const std::string& json) {
    ASSERT_EQ(testing::SinkControl(stack_.webhook, "POST", json), 200) << json;
  }

  // A sink path of its own per recipient and test.
  static std::string UniquePath(const std::string& what) {
    return absl::StrCat("/outbox/", testing::UniqueName(what));
  }

  std::string NewCaseId() {
    cases_.push_back(events::CaseIdFor("outbox-test", testing::UniqueName("case")));
    return cases_.back();
  }

  // Rules: a routed case's dispatch letter goes to its department; `departments` maps each
  // department to its webhook URL.
  void Build(const std::map<std::string, std::string>& departments) {
    std::string recipients;
    for (const auto& [dept, url] : departments) {
      absl::StrAppend(&recipients, "department:", dept, ": {webhook: \"", url,
                      "\", secret_env: ", kSecretEnv, "}\n");
    }
    auto rules = ParseRules(YAML::Load("- {on: CaseRouted, to: department, template: dispatch}\n"),
                            YAML::Load(recipients),
                            [](const std::string& name) -> std::optional<std::string> {
                              if (name == kSecretEnv) return std::string(kSecret);
                              return std::nullopt;
                            });
    ASSERT_TRUE(rules.ok()) << rules.status();
    rules_.emplace(*std::move(rules));
    logic_ = std::make_unique<NotificationLogic>(
        *templates_, *rules_, mailer_,
        [this](const WebhookTarget& target, const WebhookMessage& message) {
          return sender_->Send(target, message);
        },
        *store_, case_log_, dead_letters_, clock_,
        NotificationOptions{.max_attempts = 3,
                            .first_backoff = absl::Seconds(2),
                            .max_backoff = absl::Seconds(60),
                            .answer_days = {{"COMPLAINT", 45}},
                            .max_in_flight_per_host = 1});
  }

  events::Envelope Submitted(const std::string& case_id) {
    events::Envelope e = events::NewEnvelope(case_id, "intake", clock_.Now());
    auto* s = e.mutable_case_submitted();
    s->set_reference(events::ReferenceFor(case_id, 2025));
    s->set_submitting_system("outbox-test");
    s->mutable_draft()->set_kind(t::REPORT);
    s->mutable_draft()->set_category("street-lighting");
    s->mutable_draft()->set_description("De straatlamp brandt niet.");
    s->mutable_draft()->mutable_reporter()->set_name("Els Maes");
    s->mutable_draft()->mutable_reporter()->set_email("els@example.org");
    events::Finish(e, events::DeterministicId("submitted", {case_id}));
    return e;
  }

  events::Envelope Routed(const std::string& case_id, const std::string& dept) {
    events::Envelope e = events::NewEnvelope(case_id, "routing", clock_.Now());
    e.mutable_case_routed()->set_department(dept);
    e.mutable_case_routed()->set_priority(t::URGENT);
    events::Finish(e, events::DeterministicId("routed", {case_id, dept}));
    return e;
  }

  // A new case submitted and routed to `dept`: its dispatch letter is queued. Returns the case.
  std::string RouteNewCase(const std::string& dept) {
    const std::string case_id = NewCaseId();
    absl::Status handled = logic_->Handle(Submitted(case_id), partition_);
    EXPECT_TRUE(handled.ok()) << handled;
    handled = logic_->Handle(Routed(case_id, dept), partition_);
    EXPECT_TRUE(handled.ok()) << handled;
    return case_id;
  }

  // The one message of a case, as stored.
  v1::Job OnlyJob(const std::string& case_id) {
    auto jobs = store_->Jobs(case_id);
    EXPECT_TRUE(jobs.ok()) << jobs.status();
    if (!jobs.ok() || jobs->size() != 1) {
      ADD_FAILURE() << "expected one message for " << case_id;
      return v1::Job();
    }
    return (*jobs)[0];
  }

  std::vector<v1::Job> Claim() {
    auto jobs = store_->Claim(partition_, clock_.Now(), absl::Minutes(2), 10);
    EXPECT_TRUE(jobs.ok()) << jobs.status();
    return jobs.ok() ? *jobs : std::vector<v1::Job>();
  }

  // Claims what is due now (exactly one message expected) and makes one attempt at it.
  std::string AttemptDue() {
    std::vector<v1::Job> jobs = Claim();
    if (jobs.size() != 1) {
      ADD_FAILURE() << jobs.size() << " messages due, expected 1";
      return "";
    }
    auto outcome = logic_->Attempt(jobs[0]);
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    return outcome.ok() ? outcome->status : outcome.status().ToString();
  }

  // Sends every message of `case_id` until it is delivered or dead-lettered, moving the clock to
  // each retry's time (and checking it is not claimed before). Returns the outcomes in order.
  std::vector<std::string> SendUntilDone(const std::string& case_id) {
    std::vector<std::string> outcomes;
    for (int round = 0; round < 10; ++round) {
      const std::string outcome = AttemptDue();
      outcomes.push_back(outcome);
      if (outcome != "retrying") break;
      const v1::Job job = OnlyJob(case_id);
      const absl::Time next = events::GetTime(job.delivery().next_attempt_at());
      EXPECT_GT(next, clock_.Now());
      EXPECT_TRUE(Claim().empty()) << "claimed before its next attempt";
      clock_.Set(next);
    }
    return outcomes;
  }

  testing::Stack stack_;
  std::string port_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<RedisDeliveryStore> store_;
  int32_t partition_ = 0;
  std::vector<std::string> cases_;
  std::optional<Templates> templates_;
  std::optional<WebhookSender> sender_;
  std::optional<NotificationRules> rules_;
  NoMailer mailer_;
  FakeLog case_log_;
  FakeLog dead_letters_;
  clock::FakeClock clock_;
  std::unique_ptr<NotificationLogic> logic_;
};

v1::Job MakeJob(const std::string& case_id, const std::string& key, int32_t partition,
                const std::string& subject) {
  v1::Job job;
  job.mutable_delivery()->set_case_id(case_id);
  job.mutable_delivery()->set_idempotency_key(key);
  job.mutable_delivery()->set_status("pending");
  job.mutable_delivery()->set_channel("webhook");
  job.set_subject(subject);
  job.set_partition(partition);
  return job;
}

TEST_F(OutboxIntegrationTest, StoreQueuesOnceLeasesReschedulesAndFinishes) {
  const std::string case_id = NewCaseId();
  const absl::Time t0 = absl::FromUnixMillis(1'763'800'000'000);
  const v1::Job job = MakeJob(case_id, "key-1", partition_, "first");
  const std::string member = absl::StrCat(case_id, "|key-1");

  // Enqueue is idempotent by key: the second changes nothing.
  auto added = store_->Enqueue(job, t0);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_TRUE(*added);
  added = store_->Enqueue(MakeJob(case_id, "key-1", partition_, "second"), t0 - absl::Hours(1));
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_FALSE(*added);
  EXPECT_EQ(*store_->Waiting(partition_), 1);
  auto stored = store_->Job(case_id, "key-1");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->subject(), "first");
  auto score = redis_->Command({"ZSCORE", RedisDeliveryStore::DueKey(partition_), member});
  ASSERT_TRUE(score.ok());
  EXPECT_EQ(score->str, absl::StrCat(absl::ToUnixMillis(t0))) << "still due at the first time";

  // Not due yet; then claimed under a lease; not again while the lease runs; again after it.
  EXPECT_TRUE(
      store_->Claim(partition_, t0 - absl::Milliseconds(1), absl::Seconds(30), 10)->empty());
  auto claimed = store_->Claim(partition_, t0, absl::Seconds(30), 10);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].delivery().idempotency_key(), "key-1");
  EXPECT_EQ((*claimed)[0].subject(), "first");
  EXPECT_EQ(*store_->Waiting(partition_), 1) << "in flight still counts as waiting";
  EXPECT_TRUE(store_->Claim(partition_, t0 + absl::Seconds(29), absl::Seconds(30), 10)->empty());
  claimed = store_->Claim(partition_, t0 + absl::Seconds(30), absl::Seconds(30), 10);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->size(), 1u) << "the lease ran out: claimed again";
  // A second Enqueue while it is claimed does not put it in the due set as well.
  EXPECT_FALSE(*store_->Enqueue(job, t0));
  EXPECT_EQ(*store_->Waiting(partition_), 1);

  // Reschedule: written, out of flight, due at the given time.
  v1::Job retry = (*claimed)[0];
  retry.mutable_delivery()->set_status("retrying");
  retry.mutable_delivery()->set_attempts(1);
  const absl::Time later = t0 + absl::Minutes(5);
  ASSERT_TRUE(store_->Reschedule(retry, later).ok());
  EXPECT_EQ(*store_->Waiting(partition_), 1);
  score = redis_->Command({"ZSCORE", RedisDeliveryStore::DueKey(partition_), member});
  EXPECT_EQ(score->str, absl::StrCat(absl::ToUnixMillis(later)));
  score = redis_->Command({"ZSCORE", RedisDeliveryStore::InflightKey(partition_), member});
  EXPECT_TRUE(score->is_nil());
  EXPECT_TRUE(
      store_->Claim(partition_, later - absl::Milliseconds(1), absl::Seconds(30), 10)->empty());
  claimed = store_->Claim(partition_, later, absl::Seconds(30), 10);
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].delivery().status(), "retrying");
  EXPECT_EQ((*claimed)[0].delivery().attempts(), 1);

  // Save writes a claimed job and leaves it in flight.
  v1::Job done = (*claimed)[0];
  done.mutable_delivery()->set_status("delivered");
  done.mutable_delivery()->set_attempts(2);
  ASSERT_TRUE(store_->Save(done).ok());
  EXPECT_EQ(*store_->Waiting(partition_), 1);
  // Finish: out of the queue for good; the record stays.
  ASSERT_TRUE(store_->Finish(done).ok());
  EXPECT_EQ(*store_->Waiting(partition_), 0);
  EXPECT_TRUE(store_->Claim(partition_, later + absl::Hours(24), absl::Seconds(30), 10)->empty());
  auto jobs = store_->Jobs(case_id);
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].delivery().status(), "delivered");
  EXPECT_EQ((*jobs)[0].delivery().attempts(), 2);
  stored = store_->Job(case_id, "key-1");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->delivery().status(), "delivered");
  EXPECT_FALSE(store_->Job(case_id, "no-such-key")->has_value());
  // The event again, after it was delivered: nothing queued.
  EXPECT_FALSE(*store_->Enqueue(job, t0));
  EXPECT_EQ(*store_->Waiting(partition_), 0);
}

TEST_F(OutboxIntegrationTest, StoreRepairsAMessageThatNeverReachedTheQueueAndClaimsInOrder) {
  const std::string case_id = NewCaseId();
  const absl::Time t0 = absl::FromUnixMillis(1'763'800'000'000);
  ASSERT_TRUE(store_->Enqueue(MakeJob(case_id, "a", partition_, "a"), t0 + absl::Seconds(2)).ok());
  ASSERT_TRUE(store_->Enqueue(MakeJob(case_id, "b", partition_, "b"), t0).ok());
  ASSERT_TRUE(store_->Enqueue(MakeJob(case_id, "c", partition_, "c"), t0 + absl::Seconds(1)).ok());
  EXPECT_EQ(*store_->Waiting(partition_), 3);
  // A crash between the record and the queue entry: the next Enqueue of the event repairs it.
  ASSERT_TRUE(
      redis_->Command({"ZREM", RedisDeliveryStore::DueKey(partition_), case_id + "|a"}).ok());
  EXPECT_EQ(*store_->Waiting(partition_), 2);
  EXPECT_FALSE(*store_->Enqueue(MakeJob(case_id, "a", partition_, "a"), t0 + absl::Seconds(2)));
  EXPECT_EQ(*store_->Waiting(partition_), 3);
  // Earliest first, at most `limit`.
  auto claimed = store_->Claim(partition_, t0 + absl::Seconds(5), absl::Seconds(30), 2);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->size(), 2u);
  EXPECT_EQ((*claimed)[0].delivery().idempotency_key(), "b");
  EXPECT_EQ((*claimed)[1].delivery().idempotency_key(), "c");
  claimed = store_->Claim(partition_, t0 + absl::Seconds(5), absl::Seconds(30), 2);
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].delivery().idempotency_key(), "a");
}

TEST_F(OutboxIntegrationTest, StoreKnowsWhenItsOldestWaitingMessageWasQueued) {
  const std::string case_id = NewCaseId();
  const absl::Time t0 = absl::FromUnixMillis(1'763'800'000'000);
  EXPECT_EQ(*store_->OldestQueued(partition_), std::nullopt);
  v1::Job old = MakeJob(case_id, "old", partition_, "old");
  events::SetTime(old.mutable_delivery()->mutable_at(), t0);  // queued then
  v1::Job young = MakeJob(case_id, "young", partition_, "young");
  events::SetTime(young.mutable_delivery()->mutable_at(), t0 + absl::Hours(1));
  ASSERT_TRUE(store_->Enqueue(young, t0 + absl::Hours(1)).ok());
  ASSERT_TRUE(store_->Enqueue(old, t0 + absl::Hours(2)).ok());  // due later, queued earlier
  EXPECT_EQ(*store_->OldestQueued(partition_), std::optional<absl::Time>(t0));
  // Claimed and retried later: still queued since t0.
  auto claimed = store_->Claim(partition_, t0 + absl::Hours(3), absl::Seconds(30), 10);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->size(), 2u);
  EXPECT_EQ(*store_->OldestQueued(partition_), std::optional<absl::Time>(t0));
  ASSERT_TRUE(store_->Reschedule(old, t0 + absl::Hours(4)).ok());
  EXPECT_EQ(*store_->OldestQueued(partition_), std::optional<absl::Time>(t0));
  ASSERT_TRUE(store_->Finish(old).ok());
  EXPECT_EQ(*store_->OldestQueued(partition_), std::optional<absl::Time>(t0 + absl::Hours(1)));
  ASSERT_TRUE(store_->Finish(young).ok());
  EXPECT_EQ(*store_->OldestQueued(partition_), std::nullopt);
  // Retried by hand: back in the queue, as of the retry.
  events::SetTime(old.mutable_delivery()->mutable_at(), t0 + absl::Hours(5));
  ASSERT_TRUE(store_->Reschedule(old, t0 + absl::Hours(5)).ok());
  EXPECT_EQ(*store_->OldestQueued(partition_), std::optional<absl::Time>(t0 + absl::Hours(5)));
  ASSERT_TRUE(store_->Finish(old).ok());
  // An entry left behind (a message finished by a release without the set) is dropped.
  ASSERT_TRUE(redis_
                  ->Command({"ZADD", RedisDeliveryStore::QueuedKey(partition_),
                             absl::StrCat(absl::ToUnixMillis(t0 - absl::Hours(1))), "x|gone"})
                  .ok());
  v1::Job other = MakeJob(case_id, "other", partition_, "other");
  events::SetTime(other.mutable_delivery()->mutable_at(), t0 + absl::Hours(6));
  ASSERT_TRUE(store_->Enqueue(other, t0 + absl::Hours(6)).ok());
  EXPECT_EQ(*store_->OldestQueued(partition_), std::optional<absl::Time>(t0 + absl::Hours(6)));
  auto stale = redis_->Command({"ZSCORE", RedisDeliveryStore::QueuedKey(partition_), "x|gone"});
  ASSERT_TRUE(stale.ok());
  EXPECT_TRUE(stale->is_nil()) << "the stale entry is gone";
}

// The outbox rebuild reads the messages its outcomes name in one pipeline: a missing one as
// nothing; an unreadable record is left out (read alone, it fails only what needs it).
TEST_F(OutboxIntegrationTest, StoreReadsManyMessagesAtOnce) {
  const std::string case_id = NewCaseId();
  const std::string other = NewCaseId();
  const absl::Time t0 = absl::FromUnixMillis(1'763'800'000'000);
  ASSERT_TRUE(store_->Enqueue(MakeJob(case_id, "a", partition_, "a"), t0).ok());
  ASSERT_TRUE(store_->Enqueue(MakeJob(other, "b", partition_, "b"), t0).ok());
  auto jobs = store_->JobsOf({{other, "b"}, {case_id, "missing"}, {case_id, "a"}, {other, "b"}});
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 3u);
  ASSERT_TRUE(jobs->at({other, "b"}).has_value());
  EXPECT_EQ(jobs->at({other, "b"})->subject(), "b");
  EXPECT_FALSE(jobs->at({case_id, "missing"}).has_value());
  ASSERT_TRUE(jobs->at({case_id, "a"}).has_value());
  EXPECT_EQ(jobs->at({case_id, "a"})->subject(), "a");
  ASSERT_TRUE(
      redis_->Command({"HSET", "mp:notify:jobs:{" + case_id + "}", "bad", "\xff\xff"}).ok());
  jobs = store_->JobsOf({{case_id, "a"}, {case_id, "bad"}});
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(jobs->count({case_id, "bad"}), 0u) << "left out";
  EXPECT_TRUE(jobs->at({case_id, "a"}).has_value());
  EXPECT_TRUE(absl::IsDataLoss(store_->Job(case_id, "bad").status()));
  EXPECT_TRUE(store_->JobsOf({})->empty());
}

// Finishing several messages at once: their records, then each queue in one ZREM for all of its
// messages; a message whose record holds it already (`written`) only leaves the queues.
TEST_F(OutboxIntegrationTest, StoreFinishesManyMessagesAtOnce) {
  const absl::Time t0 = absl::FromUnixMillis(1'763'800'000'000);
  const int32_t other = partition_ + 3;
  const std::string case_id = NewCaseId();
  std::vector<v1::Job> jobs = {MakeJob(case_id, "a", partition_, "a"),
                               MakeJob(case_id, "b", other, "b"),
                               MakeJob(NewCaseId(), "c", partition_, "c")};
  for (const v1::Job& job : jobs) ASSERT_TRUE(*store_->Enqueue(job, t0));
  ASSERT_EQ(store_->Claim(partition_, t0, absl::Seconds(30), 1)->size(), 1u);  // one in flight
  for (v1::Job& job : jobs) job.set_subject(job.subject() + " finished");
  jobs[2].set_subject("written before");
  ASSERT_TRUE(store_->Save(jobs[2]).ok());
  jobs[2].set_subject("not written again");
  ASSERT_TRUE(store_->FinishAll(jobs, {false, false, true}).ok());
  EXPECT_EQ(*store_->Waiting(partition_), 0);
  EXPECT_EQ(*store_->Waiting(other), 0);
  EXPECT_EQ(*store_->OldestQueued(partition_), std::nullopt);
  EXPECT_EQ(*store_->OldestQueued(other), std::nullopt);
  EXPECT_EQ((*store_->Job(case_id, "a"))->subject(), "a finished");
  EXPECT_EQ((*store_->Job(case_id, "b"))->subject(), "b finished");
  EXPECT_EQ((*store_->Job(jobs[2].delivery().case_id(), "c"))->subject(), "written before");
}

TEST_F(OutboxIntegrationTest, StoreClaimsSeveralPartitionsAtOnce) {
  const absl::Time t0 = absl::FromUnixMillis(1'763'800'000'000);
  const int32_t other = partition_ + 1;
  const int32_t empty = partition_ + 2;
  const std::string case_id = NewCaseId();
  for (const std::string key : {"a", "b", "c"})
    ASSERT_TRUE(*store_->Enqueue(MakeJob(case_id, key, partition_, key), t0));
  const std::string other_case = NewCaseId();
  ASSERT_TRUE(*store_->Enqueue(MakeJob(other_case, "d", other, "d"), t0));
  const std::string gone_case = NewCaseId();
  ASSERT_TRUE(*store_->Enqueue(MakeJob(gone_case, "e", other, "e"), t0));
  // A record deleted by hand: its queue entry is dropped, not handed out.
  ASSERT_TRUE(redis_->Command({"DEL", absl::StrCat("mp:notify:jobs:{", gone_case, "}")}).ok());

  std::vector<absl::StatusOr<std::vector<v1::Job>>> got =
      store_->ClaimMany({{partition_, 2}, {other, 5}, {empty, 5}}, t0, absl::Seconds(30));
  ASSERT_EQ(got.size(), 3u);
  for (const auto& g : got) ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(got[0]->size(), 2u);
  std::set<std::string> subjects = {(*got[0])[0].subject(), (*got[0])[1].subject()};
  ASSERT_EQ(got[1]->size(), 1u);
  EXPECT_EQ((*got[1])[0].subject(), "d");
  EXPECT_TRUE(got[2]->empty());
  EXPECT_EQ(*store_->Waiting(other), 1) << "the entry without a record is gone from the queue";
  // What is left: the third of the first partition; none twice while their leases run.
  got = store_->ClaimMany({{partition_, 5}, {other, 5}}, t0, absl::Seconds(30));
  ASSERT_EQ(got.size(), 2u);
  ASSERT_TRUE(got[0].ok() && got[1].ok());
  ASSERT_EQ(got[0]->size(), 1u);
  EXPECT_TRUE(got[1]->empty());
  subjects.insert((*got[0])[0].subject());
  EXPECT_EQ(subjects, (std::set<std::string>{"a", "b", "c"}));
  for (int32_t p : {other, empty}) {
    for (const std::string& key :
         {RedisDeliveryStore::DueKey(p), RedisDeliveryStore::InflightKey(p),
          RedisDeliveryStore::QueuedKey(p)})
      (void)redis_->Command({"DEL", key});
  }
}

TEST_F(OutboxIntegrationTest, StoreKeepsSubmissionAndDepartment) {
  const std::string case_id = NewCaseId();
  EXPECT_FALSE(store_->LoadSubmission(case_id)->has_value());
  EXPECT_EQ(*store_->Department(case_id), "");
  const events::Envelope submitted = Submitted(case_id);
  ASSERT_TRUE(store_->SaveSubmission(submitted).ok());
  auto loaded = store_->LoadSubmission(case_id);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->SerializeAsString(), submitted.SerializeAsString());
  EXPECT_EQ((*loaded)->case_submitted().draft().reporter().name(), "Els Maes");
  ASSERT_TRUE(store_->SetDepartment(case_id, "public-works").ok());
  EXPECT_EQ(*store_->Department(case_id), "public-works");
  ASSERT_TRUE(store_->SetDepartment(case_id, "waste").ok());
  EXPECT_EQ(*store_->Department(case_id), "waste");
  EXPECT_TRUE(store_->LoadSubmission(case_id)->has_value()) << "the department leaves it";
}

TEST_F(OutboxIntegrationTest, StoreWritesARunInOrderQueuesTheNewOnesAndReadsCasesAtOnce) {
  const std::string case_id = NewCaseId();
  const std::string other = NewCaseId();
  const absl::Time t0 = absl::FromUnixMillis(1'763'800'000'000);
  // A message known before, whose queue entry a crash lost: the run queues it again.
  ASSERT_TRUE(store_->Enqueue(MakeJob(case_id, "old", partition_, "old"), t0).ok());
  ASSERT_TRUE(
      redis_->Command({"ZREM", RedisDeliveryStore::DueKey(partition_), case_id + "|old"}).ok());
  // A message known and in flight (claimed by a sender): left where it is.
  ASSERT_TRUE(store_->Enqueue(MakeJob(case_id, "flying", partition_, "flying"), t0).ok());
  ASSERT_EQ(store_->Claim(partition_, t0 + absl::Seconds(1), absl::Minutes(2), 10)->size(), 1u);
  // A message known and delivered, not in any queue: stays out of them.
  v1::Job done = MakeJob(case_id, "done", partition_, "done");
  ASSERT_TRUE(store_->Enqueue(done, t0).ok());
  done.mutable_delivery()->set_status("delivered");
  ASSERT_TRUE(store_->Finish(done).ok());

  const events::Envelope submitted = Submitted(case_id);
  std::vector<DeliveryStore::Write> writes(8);
  writes[0].kind = DeliveryStore::Write::Kind::kSubmission;
  writes[0].submitted = submitted;
  writes[1].kind = DeliveryStore::Write::Kind::kDepartment;
  writes[1].case_id = case_id;
  writes[1].department = "public-works";
  writes[2].kind = DeliveryStore::Write::Kind::kEnqueue;
  writes[2].job = MakeJob(case_id, "new", partition_, "new");
  writes[2].due = t0 + absl::Seconds(1);
  writes[3].kind = DeliveryStore::Write::Kind::kEnqueue;  // the same message again: once
  writes[3].job = MakeJob(case_id, "new", partition_, "again");
  writes[3].due = t0;
  writes[4].kind = DeliveryStore::Write::Kind::kEnqueue;
  writes[4].job = MakeJob(case_id, "old", partition_, "old");
  writes[4].due = t0;
  writes[5].kind = DeliveryStore::Write::Kind::kDepartment;  // the later write wins
  writes[5].case_id = case_id;
  writes[5].department = "waste";
  writes[6].job = MakeJob(case_id, "flying", partition_, "flying");
  writes[6].due = t0;
  writes[7].job = MakeJob(case_id, "done", partition_, "done");
  writes[7].due = t0;
  absl::StatusOr<std::vector<bool>> queued = store_->WriteAll(writes);
  ASSERT_TRUE(queued.ok()) << queued.status();
  EXPECT_EQ(*queued, (std::vector<bool>{false, false, true, false, false, false, false, false}));
  EXPECT_EQ(*store_->Waiting(partition_), 3)
      << "the new message, the repaired one and the one in flight";
  for (const char* key : {"flying", "done"}) {
    EXPECT_TRUE(
        redis_->Command({"ZSCORE", RedisDeliveryStore::DueKey(partition_), case_id + "|" + key})
            ->is_nil())
        << key << " is not due again";
  }
  EXPECT_EQ((*store_->Job(case_id, "new"))->subject(), "new");

  absl::StatusOr<std::map<std::string, DeliveryStore::CaseInfo>> cases =
      store_->LoadCases({case_id, other, case_id});
  ASSERT_TRUE(cases.ok()) << cases.status();
  ASSERT_EQ(cases->size(), 2u);
  const DeliveryStore::CaseInfo& info = cases->at(case_id);
  ASSERT_TRUE(info.submitted.has_value());
  EXPECT_EQ(info.submitted->SerializeAsString(), submitted.SerializeAsString());
  EXPECT_EQ(info.department, "waste");
  EXPECT_FALSE(cases->at(other).submitted.has_value());
  EXPECT_EQ(cases->at(other).department, "");
  EXPECT_TRUE(store_->WriteAll({})->empty());

  // A record that cannot be read is left out, for its own event to fail on; the others are read.
  ASSERT_TRUE(redis_
                  ->Command({"HSET", absl::StrCat("mp:notify:case:{", other, "}"), "submitted",
                             "\nzunreadable"})
                  .ok());
  cases = store_->LoadCases({case_id, other});
  ASSERT_TRUE(cases.ok()) << cases.status();
  EXPECT_EQ(cases->count(other), 0u);
  EXPECT_EQ(cases->at(case_id).department, "waste");
  EXPECT_EQ(store_->LoadSubmission(other).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(OutboxIntegrationTest, DepartmentWebhookIsRetriedThenDeliveredWithOneKeyAndSignature) {
  const std::string path = UniquePath("retried");
  Build({{"public-works", stack_.webhook + path}});
  const std::string case_id = RouteNewCase("public-works");
  const v1::Job queued = OnlyJob(case_id);
  EXPECT_EQ(queued.delivery().status(), "pending");
  EXPECT_EQ(queued.delivery().channel(), "webhook");
  EXPECT_EQ(queued.delivery().recipient(), "department:public-works");
  EXPECT_EQ(queued.address(), stack_.webhook + path);
  EXPECT_EQ(*store_->Waiting(partition_), 1);
  // The event again (a redelivery from Kafka): still one message.
  ASSERT_TRUE(logic_->Handle(Routed(case_id, "public-works"), partition_).ok());
  EXPECT_EQ(*store_->Waiting(partition_), 1);
  const std::string key = queued.delivery().idempotency_key();

  Respond(R"({"status": 500, "count": 2})");
  const absl::Time start = clock_.Now();
  EXPECT_EQ(SendUntilDone(case_id),
            (std::vector<std::string>{"retrying", "retrying", "delivered"}));
  // Backoff 2 s, then 4 s, half of each random: at least 1 + 2 s of (fake) time went by.
  EXPECT_GE(clock_.Now() - start, absl::Seconds(3));
  EXPECT_LE(clock_.Now() - start, absl::Seconds(6));

  const v1::Job done = OnlyJob(case_id);
  EXPECT_EQ(done.delivery().status(), "delivered");
  EXPECT_EQ(done.delivery().attempts(), 3);
  EXPECT_EQ(done.delivery().last_error(), "");
  EXPECT_EQ(*store_->Waiting(partition_), 0);
  EXPECT_TRUE(Claim().empty());

  const std::vector<nlohmann::json> records = testing::SinkRequests(stack_.webhook_dir, path);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].value("status", 0), 500);
  EXPECT_EQ(records[1].value("status", 0), 500);
  EXPECT_EQ(records[2].value("status", 0), 200);
  for (const nlohmann::json& record : records) {
    EXPECT_EQ(record.value("method", ""), "POST");
    EXPECT_EQ(testing::SinkHeader(record, "webhook-id"), key);
    EXPECT_EQ(testing::SinkHeader(record, "X-Meldpunt-Idempotency-Key"), key);
    const std::string timestamp = testing::SinkHeader(record, "webhook-timestamp");
    const std::string signature = testing::SinkHeader(record, "webhook-signature");
    EXPECT_THAT(signature, ::testing::StartsWith("v1,"));
    int64_t seconds = 0;
    ASSERT_TRUE(absl::SimpleAtoi(timestamp, &seconds)) << timestamp;
    EXPECT_EQ(signature, WebhookSender::Sign(kSecret, key, seconds, record.value("body", "")));
    const nlohmann::json body =
        nlohmann::json::parse(record.value("body", ""), nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(body.is_object()) << record.dump();
    EXPECT_EQ(body.value("idempotency_key", ""), key);
    EXPECT_EQ(body.value("case_id", ""), case_id);
    EXPECT_EQ(body.value("template", ""), "dispatch");
    EXPECT_EQ(body.value("recipient", ""), "department:public-works");
    EXPECT_THAT(body.value("body", ""), HasSubstr("public-works"));
  }
  // Each attempt is signed at its own time.
  EXPECT_LT(testing::SinkHeader(records[0], "webhook-timestamp"),
            testing::SinkHeader(records[2], "webhook-timestamp"));

  ASSERT_EQ(case_log_.appended().size(), 1u);
  const events::Envelope delivered = case_log_.appended()[0];
  EXPECT_EQ(delivered.type(), "NotificationDelivered");
  EXPECT_EQ(delivered.case_id(), case_id);
  EXPECT_EQ(delivered.notification_delivered().attempts(), 3);
  EXPECT_EQ(delivered.notification_delivered().idempotency_key(), key);
  EXPECT_EQ(delivered.notification_delivered().channel(), events::v1::WEBHOOK);
  EXPECT_EQ(delivered.notification_delivered().template_name(), "dispatch");
  EXPECT_EQ(delivered.causation_id(), events::DeterministicId("routed", {case_id, "public-works"}));
  EXPECT_TRUE(dead_letters_.appended().empty());
}

TEST_F(OutboxIntegrationTest, HangingEndpointHoldsUpOnlyItsOwnHost) {
  // Two hosts, one sink: "127.0.0.1" hangs; "localhost" is another host to the per-host limit.
  const std::string slow_path = UniquePath("slow");
  const std::string same_host_path = UniquePath("same-host");
  const std::string other_host_path = UniquePath("other-host");
  Build({{"slow", stack_.webhook + slow_path},
         {"slow-too", stack_.webhook + same_host_path},
         {"other", absl::StrCat("http://localhost:", port_, other_host_path)}});
  const std::string slow_case = RouteNewCase("slow");
  const std::string same_host_case = RouteNewCase("slow-too");
  const std::string other_host_case = RouteNewCase("other");
  std::map<std::string, v1::Job> jobs;
  for (const v1::Job& job : Claim()) jobs[job.delivery().case_id()] = job;
  ASSERT_EQ(jobs.size(), 3u);

  // The next request waits far longer than the sender's 2 s timeout.
  Respond(R"({"delay_ms": 30000, "count": 1})");
  std::atomic<bool> slow_done{false};
  absl::StatusOr<AttemptOutcome> slow_outcome = absl::UnknownError("not attempted");
  std::thread slow([&] {
    slow_outcome = logic_->Attempt(jobs[slow_case]);
    slow_done = true;
  });
  Joiner joiner(slow);
  // It is at the sink (recorded before the sink waits), so it is in flight to its host.
  ASSERT_TRUE(testing::Eventually(
      [&] { return !testing::SinkRequests(stack_.webhook_dir, slow_path).empty(); },
      absl::Seconds(10)));

  // Same host: its one sender is taken, so the message waits (not an attempt).
  auto same_host = logic_->Attempt(jobs[same_host_case]);
  ASSERT_TRUE(same_host.ok()) << same_host.status();
  EXPECT_EQ(same_host->status, "deferred");
  // Another host: delivered at once, while the first one still hangs.
  auto other_host = logic_->Attempt(jobs[other_host_case]);
  ASSERT_TRUE(other_host.ok()) << other_host.status();
  EXPECT_EQ(other_host->status, "delivered");
  EXPECT_FALSE(slow_done) << "the hanging attempt finished before the one to another host";
  const std::vector<nlohmann::json> other_records =
      testing::SinkRequests(stack_.webhook_dir, other_host_path);
  ASSERT_EQ(other_records.size(), 1u);
  EXPECT_EQ(testing::SinkHeader(other_records[0], "Host"), absl::StrCat("localhost:", port_));

  const absl::Time joined_at = absl::Now();
  slow.join();
  EXPECT_LT(absl::Now() - joined_at, absl::Seconds(15)) << "the sender's timeout did not apply";
  ASSERT_TRUE(slow_outcome.ok()) << slow_outcome.status();
  EXPECT_EQ(slow_outcome->status, "retrying");
  const v1::Job slow_job = OnlyJob(slow_case);
  EXPECT_EQ(slow_job.delivery().status(), "retrying");
  EXPECT_EQ(slow_job.delivery().attempts(), 1);
  EXPECT_THAT(absl::AsciiStrToLower(slow_job.delivery().last_error()), HasSubstr("timed out"));
  EXPECT_THAT(slow_job.delivery().last_error(), ::testing::Not(HasSubstr(slow_path)))
      << "a path may hold a token";
  EXPECT_EQ(OnlyJob(same_host_case).delivery().attempts(), 0) << "waiting is not an attempt";
  EXPECT_EQ(OnlyJob(same_host_case).delivery().status(), "pending");

  // Later, both go (the sink answers at once again).
  clock_.Advance(absl::Seconds(5));
  std::map<std::string, std::string> outcomes;
  for (const v1::Job& job : Claim()) {
    auto outcome = logic_->Attempt(job);
    ASSERT_TRUE(outcome.ok()) << outcome.status();
    outcomes[job.delivery().case_id()] = outcome->status;
  }
  EXPECT_EQ(outcomes, (std::map<std::string, std::string>{{slow_case, "delivered"},
                                                          {same_host_case, "delivered"}}));
  EXPECT_EQ(OnlyJob(slow_case).delivery().attempts(), 2);
  EXPECT_EQ(OnlyJob(same_host_case).delivery().attempts(), 1);
  EXPECT_EQ(case_log_.OfType("NotificationDelivered").size(), 3u);
  EXPECT_EQ(*store_->Waiting(partition_), 0);
  // The one that timed out arrived twice with the same key: the receiver can drop the repeat.
  const std::vector<nlohmann::json> slow_records =
      testing::SinkRequests(stack_.webhook_dir, slow_path);
  ASSERT_EQ(slow_records.size(), 2u);
  EXPECT_EQ(testing::SinkHeader(slow_records[0], "webhook-id"),
            testing::SinkHeader(slow_records[1], "webhook-id"));
}

TEST_F(OutboxIntegrationTest, AlwaysFailingIsDeadLetteredThenRetriedByHandWithTheSameKey) {
  const std::string path = UniquePath("dead");
  Build({{"parks", stack_.webhook + path}});
  const std::string case_id = RouteNewCase("parks");
  const std::string key = OnlyJob(case_id).delivery().idempotency_key();

  Respond(R"({"status": 500, "count": 1000})");
  EXPECT_EQ(SendUntilDone(case_id),
            (std::vector<std::string>{"retrying", "retrying", "dead_lettered"}));
  const v1::Job dead = OnlyJob(case_id);
  EXPECT_EQ(dead.delivery().status(), "dead_lettered");
  EXPECT_EQ(dead.delivery().attempts(), 3);
  EXPECT_THAT(dead.delivery().last_error(), HasSubstr("HTTP 500"));
  EXPECT_EQ(*store_->Waiting(partition_), 0);
  clock_.Advance(absl::Hours(1));
  EXPECT_TRUE(Claim().empty()) << "not tried again by itself";

  ASSERT_EQ(case_log_.appended().size(), 1u);
  const events::Envelope failed = case_log_.appended()[0];
  EXPECT_EQ(failed.type(), "NotificationFailed");
  EXPECT_EQ(failed.case_id(), case_id);
  EXPECT_TRUE(failed.notification_failed().dead_lettered());
  EXPECT_EQ(failed.notification_failed().attempts(), 3);
  EXPECT_EQ(failed.notification_failed().idempotency_key(), key);
  EXPECT_THAT(failed.notification_failed().last_error(), HasSubstr("HTTP 500"));
  ASSERT_EQ(dead_letters_.appended().size(), 1u);
  EXPECT_EQ(dead_letters_.appended()[0].event_id(), failed.event_id());
  EXPECT_EQ(testing::SinkRequests(stack_.webhook_dir, path).size(), 3u);

  // The receiver is fixed; ops retry it: a fresh round, the same key.
  ASSERT_EQ(testing::SinkControl(stack_.webhook, "DELETE"), 200);
  auto retried = logic_->Retry(case_id, key);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->status(), "retrying");
  EXPECT_EQ(retried->attempts(), 0);
  EXPECT_EQ(retried->retries(), 1);
  EXPECT_EQ(*store_->Waiting(partition_), 1);
  EXPECT_EQ(AttemptDue(), "delivered");
  const v1::Job delivered = OnlyJob(case_id);
  EXPECT_EQ(delivered.delivery().status(), "delivered");
  EXPECT_EQ(delivered.delivery().attempts(), 1);
  EXPECT_EQ(*store_->Waiting(partition_), 0);

  const std::vector<nlohmann::json> records = testing::SinkRequests(stack_.webhook_dir, path);
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[3].value("status", 0), 200);
  for (const nlohmann::json& record : records)
    EXPECT_EQ(testing::SinkHeader(record, "webhook-id"), key);
  const std::vector<events::Envelope> ok = case_log_.OfType("NotificationDelivered");
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].notification_delivered().idempotency_key(), key);
  EXPECT_EQ(ok[0].notification_delivered().attempts(), 1);
  EXPECT_EQ(dead_letters_.appended().size(), 1u);
  EXPECT_EQ(logic_->Retry(case_id, key).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(logic_->Retry(case_id, "no-such-key").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(OutboxIntegrationTest, NotFoundIsDeadLetteredAtOnce) {
  const std::string path = UniquePath("gone");
  Build({{"housing", stack_.webhook + path}});
  const std::string case_id = RouteNewCase("housing");

  Respond(R"({"status": 404, "count": 1})");
  EXPECT_EQ(AttemptDue(), "dead_lettered");
  const v1::Job dead = OnlyJob(case_id);
  EXPECT_EQ(dead.delivery().status(), "dead_lettered");
  EXPECT_EQ(dead.delivery().attempts(), 1);
  EXPECT_THAT(dead.delivery().last_error(), HasSubstr("HTTP 404"));
  EXPECT_EQ(*store_->Waiting(partition_), 0);
  clock_.Advance(absl::Hours(1));
  EXPECT_TRUE(Claim().empty()) << "a refusal is not retried";
  EXPECT_EQ(testing::SinkRequests(stack_.webhook_dir, path).size(), 1u);
  ASSERT_EQ(dead_letters_.appended().size(), 1u);
  ASSERT_EQ(case_log_.appended().size(), 1u);
  EXPECT_EQ(case_log_.appended()[0].type(), "NotificationFailed");
  EXPECT_EQ(case_log_.appended()[0].notification_failed().attempts(), 1);
}

}  // namespace
}  // namespace meldpunt::notification
