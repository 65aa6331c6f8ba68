// The outbox rebuild with the real NotificationLogic over the in-memory outbox, a recording
// mailer and log, fake marks (the marker and the replicas' lock) and a replay of a list of
// events: no Kafka, no Redis. What the log says was delivered is not sent again; held messages
// are released whatever the replay's outcome; one rebuild at a time; the marker only while the
// lock is still this rebuild's; the watcher rebuilds when the marker is gone.
#include "services/notification/outbox_rebuild.h"

#include <atomic>
#include <cstdlib>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "libs/clock/clock.h"
#include "libs/events/ids.h"
#include "libs/status/retry.h"
#include "libs/status/status_macros.h"
#include "services/notification/testing/fakes.h"

namespace meldpunt::notification {
namespace {

namespace t = ::meldpunt::types::v1;

constexpr char kCase[] = "MP-0123456789ABC";
const absl::Time kAt = absl::FromUnixSeconds(1'763'800'000);

class FakeMarks : public OutboxMarks {
 public:
  absl::StatusOr<bool> TryLockRebuild(const std::string& owner, absl::Duration ttl) override {
    if (!holder.empty()) return false;
    holder = owner;
    this->ttl = ttl;
    return true;
  }
  absl::Status UnlockRebuild(const std::string& owner) override {
    if (holder == owner) holder.clear();
    return absl::OkStatus();
  }
  absl::StatusOr<bool> Intact() override { return intact; }
  absl::StatusOr<bool> MarkIntactIfLocked(const std::string& owner) override {
    if (lose_lock) holder.clear();  // Redis lost its data (and the lock) meanwhile
    if (holder != owner) return false;
    intact = true;
    return true;
  }
  std::string holder;
  absl::Duration ttl;
  bool intact = true;
  bool lose_lock = false;
};

Templates LoadTemplates() {
  const char* source = std::getenv("MELDPUNT_SOURCE_DIR");
  auto templates =
      Templates::Load(std::string(source ? source : ".") + "/services/notification/templates");
  EXPECT_TRUE(templates.ok()) << templates.status();
  return *templates;
}

NotificationRules Rules() {
  auto rules = ParseRules(YAML::Load(R"(
- {on: CaseSubmitted, kinds: [COMPLAINT], to: reporter, template: acknowledgement}
- {on: CaseRouted, to: department, template: dispatch}
)"),
                          YAML::Load(R"(
department:waste: {email: afval@gemeente.example}
)"),
                          [](const std::string&) { return std::nullopt; });
  EXPECT_TRUE(rules.ok()) << rules.status();
  return *rules;
}

events::Envelope Submitted(const std::string& case_id = kCase) {
  events::Envelope e = events::NewEnvelope(case_id, "intake", kAt);
  auto* s = e.mutable_case_submitted();
  s->set_reference("MP-2025-7K3QX9M2T");
  s->set_submitting_system("e-loket");
  s->mutable_draft()->set_kind(t::COMPLAINT);
  s->mutable_draft()->set_category("waste-collection");
  s->mutable_draft()->mutable_reporter()->set_name("Els Maes");
  s->mutable_draft()->mutable_reporter()->set_email("els@example.org");
  events::Finish(e, "submitted-" + case_id);
  return e;
}

events::Envelope Routed(const std::string& case_id = kCase) {
  events::Envelope e = events::NewEnvelope(case_id, "routing", kAt + absl::Minutes(1));
  e.mutable_case_routed()->set_department("waste");
  events::Finish(e, "routed-" + case_id);
  return e;
}

class OutboxRebuildTest : public ::testing::Test {
 protected:
  OutboxRebuildTest()
      : templates_(LoadTemplates()),
        rules_(Rules()),
        clock_(kAt + absl::Seconds(1)),
        logic_(templates_, rules_, mailer_,
               [](const WebhookTarget&, const WebhookMessage&) { return absl::OkStatus(); }, store_,
               log_, dead_letters_, clock_, {}),
        guard_(absl::Minutes(30)),
        rebuild_(guard_, marks_, logic_,
                 [this](const events::BatchHandler& handle,
                        const std::function<absl::Status()>&) -> absl::StatusOr<int64_t> {
                   ++replays_;
                   if (during_replay_) during_replay_();
                   // The whole log as one run, as a replay lane hands it over.
                   std::vector<kafka::Record> records(replayed_log_.size());
                   std::vector<events::Batch::Item> items;
                   for (size_t i = 0; i < replayed_log_.size(); ++i)
                     items.push_back({&records[i], replayed_log_[i]});
                   events::Batch run(std::move(items));
                   handle(run);
                   absl::Status error;
                   if (run.Finish(absl::Now() + absl::Seconds(5), &error)) return error;
                   if (!replay_error_.ok()) return replay_error_;
                   return static_cast<int64_t>(replayed_log_.size());
                 }) {}

  // Sends what is due now, as the senders do; the outcomes.
  std::vector<std::string> Pump() {
    std::vector<std::string> outcomes;
    auto jobs = store_.Claim(0, clock_.Now(), absl::Minutes(2), 100);
    EXPECT_TRUE(jobs.ok());
    for (const v1::Job& job : *jobs) {
      auto outcome = logic_.Attempt(job);
      outcomes.push_back(outcome.ok() ? outcome->status : outcome.status().ToString());
    }
    return outcomes;
  }

  // The log as the live service left it: the acknowledgement delivered, the department's letter
  // queued and never recorded (the service stopped between queueing and sending); then Redis
  // lost the outbox.
  void LiveServiceThenRedisLost() {
    ASSERT_TRUE(logic_.Handle(Submitted(), 0).ok());
    EXPECT_EQ(Pump(), (std::vector<std::string>{"delivered"}));
    ASSERT_TRUE(logic_.Handle(Routed(), 0).ok());
    ASSERT_EQ(log_.appended.size(), 1u);
    replayed_log_ = {Submitted(), Routed(), log_.appended[0]};
    store_ = MemoryStore();
    mailer_.sent.clear();
    marks_.intact = false;
  }

  Templates templates_;
  NotificationRules rules_;
  clock::FakeClock clock_;
  FakeMailer mailer_;
  MemoryStore store_;
  FakeLog log_;
  FakeLog dead_letters_;
  NotificationLogic logic_;
  service::RebuildGuard guard_;
  FakeMarks marks_;
  std::vector<events::Envelope> replayed_log_;
  absl::Status replay_error_;
  std::function<void()> during_replay_;
  int replays_ = 0;
  OutboxRebuild rebuild_;
};

TEST_F(OutboxRebuildTest, WhatTheLogSaysWasDeliveredIsNotSentAgain) {
  LiveServiceThenRedisLost();
  absl::StatusOr<v1::RebuildDeliveriesResponse> done = rebuild_.Rebuild();
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->events(), 3);
  EXPECT_EQ(done->sent_again(), 1) << "the department's letter";
  EXPECT_TRUE(marks_.intact);
  EXPECT_TRUE(marks_.holder.empty()) << "the lock is given back";
  EXPECT_EQ(marks_.ttl, absl::Minutes(35)) << "rebuild.timeout and 5 minutes";
  EXPECT_FALSE(guard_.running());
  EXPECT_EQ(Pump(), (std::vector<std::string>{"delivered"}));
  ASSERT_EQ(mailer_.sent.size(), 1u);
  EXPECT_EQ(mailer_.sent[0].to, "afval@gemeente.example");
}

// A run of the replay is read and written at once: three cases' submissions, departments,
// messages and outcomes in four round trips, where the replay record by record made a few per
// event; the release reads the six held messages in one more. The outcomes of one message that
// comes twice apply in order.
TEST_F(OutboxRebuildTest, ARunIsRestoredWithItsReadsAndWritesAtOnce) {
  constexpr const char* kCases[] = {"MP-0123456789ABC", "MP-0123456789ABD", "MP-0123456789ABE"};
  for (const char* id : kCases) ASSERT_TRUE(logic_.Handle(Submitted(id), 0).ok());
  EXPECT_EQ(Pump(), (std::vector<std::string>(3, "delivered")));
  ASSERT_EQ(log_.appended.size(), 3u);
  // The first acknowledgement delivered, then dead-lettered by a later event (a retry by hand
  // that failed): the later event wins.
  events::Envelope dead = log_.appended[0];
  dead.clear_notification_delivered();
  dead.mutable_notification_failed()->set_idempotency_key(
      log_.appended[0].notification_delivered().idempotency_key());
  dead.mutable_notification_failed()->set_dead_lettered(true);
  dead.mutable_notification_failed()->set_last_error("mailbox full");
  events::Finish(dead, "failed-1");
  replayed_log_.clear();
  for (const char* id : kCases) replayed_log_.push_back(Submitted(id));
  for (const char* id : kCases) replayed_log_.push_back(Routed(id));
  for (const auto& e : log_.appended) replayed_log_.push_back(e);
  replayed_log_.push_back(dead);
  store_ = MemoryStore();
  mailer_.sent.clear();
  marks_.intact = false;
  store_.round_trips = 0;
  absl::StatusOr<v1::RebuildDeliveriesResponse> done = rebuild_.Rebuild();
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(store_.round_trips, 5) << "one read, the writes, one read of the messages, one "
                                      "finish, and the release's one read of the held messages";
  EXPECT_EQ(done->sent_again(), 3) << "the three department letters";
  int delivered = 0, dead_lettered = 0;
  for (const auto& [key, job] : store_.jobs) {
    delivered += job.delivery().status() == "delivered";
    dead_lettered += job.delivery().status() == "dead_lettered";
  }
  EXPECT_EQ(delivered, 2);
  EXPECT_EQ(dead_lettered, 1);
  EXPECT_EQ(Pump(), (std::vector<std::string>(3, "delivered")));
  for (const auto& m : mailer_.sent) EXPECT_EQ(m.to, "afval@gemeente.example");
}

TEST_F(OutboxRebuildTest, HeldMessagesAreReleasedWhenTheReplayFails) {
  LiveServiceThenRedisLost();
  replay_error_ = absl::DeadlineExceededError("the replay did not reach the end of the log");
  EXPECT_EQ(rebuild_.Rebuild().status(), replay_error_);
  EXPECT_FALSE(marks_.intact) << "the next check tries again";
  EXPECT_FALSE(Pump().empty()) << "a held message must not wait a year";
}

TEST_F(OutboxRebuildTest, ARedisThatLostTheLockMeanwhileIsRebuiltAgain) {
  LiveServiceThenRedisLost();
  marks_.lose_lock = true;
  EXPECT_EQ(rebuild_.Rebuild().status(),
            absl::AbortedError("Redis lost the rebuild's lock before it ended; rebuilding again"));
  EXPECT_FALSE(marks_.intact);
}

TEST_F(OutboxRebuildTest, OneRebuildAtATime) {
  absl::Status second;
  during_replay_ = [&] { second = rebuild_.Rebuild().status(); };
  ASSERT_TRUE(rebuild_.Rebuild().ok());
  EXPECT_EQ(second, absl::AbortedError("a rebuild is already running"));
  during_replay_ = nullptr;
  marks_.holder = "rebuild-of-another-replica";
  EXPECT_EQ(rebuild_.Rebuild().status(),
            absl::AbortedError("another replica is rebuilding the outbox"));
  EXPECT_EQ(replays_, 1);
}

TEST_F(OutboxRebuildTest, TheWatcherRebuildsOnlyWhenTheMarkerIsGone) {
  rebuild_.CheckOnce();
  EXPECT_EQ(replays_, 0) << "intact";
  LiveServiceThenRedisLost();
  during_replay_ = [&] { rebuild_.CheckOnce(); };  // a check during the rebuild starts none
  rebuild_.CheckOnce();
  EXPECT_EQ(replays_, 1);
  EXPECT_TRUE(marks_.intact);
  // Another replica rebuilding: this one's check passes (ABORTED is not an error here).
  marks_.intact = false;
  marks_.holder = "rebuild-of-another-replica";
  rebuild_.CheckOnce();
  EXPECT_EQ(replays_, 1);
}

TEST(OutboxGate, LiveEventsWaitInPlaceWhileTheOutboxIsNotKnownToBeComplete) {
  FakeMarks marks;
  clock::FakeClock clock(kAt);
  OutboxGate gate(marks, clock);
  EXPECT_TRUE(gate.Open().ok());
  // Redis lost the outbox (or a rebuild elsewhere took the marker): asked again after 100 ms.
  marks.intact = false;
  EXPECT_TRUE(gate.Open().ok()) << "the answer of 100 ms ago";
  clock.Advance(absl::Milliseconds(100));
  absl::Status waiting = gate.Open();
  EXPECT_TRUE(absl::IsUnavailable(waiting)) << waiting;
  EXPECT_EQ(status::RetryOf(waiting), status::Retry::kInPlace);
  EXPECT_EQ(waiting.message(), OutboxGate::kWaitingText);
  marks.intact = true;
  clock.Advance(absl::Milliseconds(100));
  EXPECT_TRUE(gate.Open().ok());
}

TEST_F(OutboxRebuildTest, TheWatcherChecksAtOnceWhenStarted) {
  LiveServiceThenRedisLost();
  std::atomic<int> replays{0};
  OutboxRebuild watcher(
      guard_, marks_, logic_,
      [&](const events::BatchHandler&,
          const std::function<absl::Status()>&) -> absl::StatusOr<int64_t> {
        ++replays;
        return 0;
      },
      /*scan=*/nullptr, /*check_interval=*/absl::Hours(1));
  watcher.Start();
  for (absl::Time end = absl::Now() + absl::Seconds(10); replays == 0 && absl::Now() < end;)
    absl::SleepFor(absl::Milliseconds(1));
  watcher.Stop();  // does not wait an hour
  EXPECT_EQ(replays.load(), 1);
}

// An outcome on the log of the message `template_name` to `recipient` made by the event
// `trigger_id` of `case_id`.
events::Envelope OutcomeEvent(const std::string& case_id, const std::string& trigger_id,
                              const std::string& template_name, const std::string& recipient,
                              bool delivered, int attempts, const std::string& error, absl::Time at,
                              const std::string& event_id) {
  const std::string key =
      events::DeterministicId("notify", {trigger_id, template_name, recipient, "email"});
  events::Envelope e = events::NewEnvelope(case_id, "notification", at);
  if (delivered) {
    auto* d = e.mutable_notification_delivered();
    d->set_template_name(template_name);
    d->set_recipient(recipient);
    d->set_idempotency_key(key);
    d->set_attempts(attempts);
    d->set_language("nl");
  } else {
    auto* f = e.mutable_notification_failed();
    f->set_template_name(template_name);
    f->set_recipient(recipient);
    f->set_idempotency_key(key);
    f->set_attempts(attempts);
    f->set_dead_lettered(true);
    f->set_last_error(error);
  }
  events::Finish(e, event_id);
  return e;
}

// The same log rebuilt without the look-ahead and with it (the scan wholly ahead of the replay,
// half way ahead, or not at all yet; the replay in runs of one record, of three, or the whole log
// in one): the same records, byte for byte, and the same messages sent again. Every path of a
// message is in the log: delivered; dead-lettered and then delivered after a retry by hand (the
// dead letter's error stays on the record); delivered and then dead-lettered; only dead-lettered
// (made the long way: its letter is kept for a retry by hand); never sent (released); its event
// twice, once after its delivery; and a delivery after the reporter's data was erased (made the
// long way: the erasure cancels it on the way).
class OutboxLookAheadTest : public OutboxRebuildTest {
 protected:
  OutboxLookAheadTest() {
    const absl::Time later = kAt + absl::Hours(1);
    const std::string a = "MP-0123456789AAA", b = "MP-0123456789BBB", c = "MP-0123456789CCC",
                      d = "MP-0123456789DDD", e = "MP-0123456789EEE", f = "MP-0123456789FFF";
    auto ack = [&](const std::string& id, bool delivered, int attempts, const std::string& error,
                   int n) {
      return OutcomeEvent(id, "submitted-" + id, "acknowledgement", "reporter", delivered, attempts,
                          error, later + absl::Minutes(n), absl::StrCat("outcome-", n));
    };
    auto dispatch = [&](const std::string& id, int n) {
      return OutcomeEvent(id, "routed-" + id, "dispatch", "department:waste", true, 1, "",
                          later + absl::Minutes(n), absl::StrCat("outcome-", n));
    };
    events::Envelope erased = events::NewEnvelope(f, "intake", later);
    erased.mutable_reporter_data_erased()->set_reason("request of the reporter");
    events::Finish(erased, "erased-" + f);
    log_of_all_ = {Submitted(a),
                   Submitted(b),
                   Routed(a),
                   Submitted(c),
                   ack(a, true, 1, "", 1),
                   Routed(b),
                   ack(b, false, 7, "mailbox full", 2),
                   Submitted(d),
                   dispatch(a, 3),
                   Submitted(e),
                   ack(c, true, 2, "", 4),
                   ack(c, false, 3, "bounced later", 5),
                   ack(b, true, 1, "", 6),
                   Submitted(d),
                   ack(d, false, 9, "no such user", 7),
                   Submitted(f),
                   erased,
                   ack(f, true, 1, "", 8),
                   ack(e, true, 1, "", 9),
                   Submitted(e),
                   Routed(c)};
  }

  struct Result {
    std::map<std::string, std::string> records;  // key -> the record's bytes
    std::map<std::string, absl::Time> queued;    // key -> due
    int64_t sent_again = 0;
    int made_final = 0;  // records written by AddFinished
  };

  static constexpr int kNoScan = -1;
  static constexpr int kSideBySide = -2;  // the scan and the replay at once, neither waiting

  // `scan_ahead`: how many records the scan reads before the replay starts (or kNoScan,
  // kSideBySide). `fresh`: the outbox lost (else rebuilt over what the last rebuild left).
  // `failing_writes`: the outbox's first writes that fail (an outage: the run is handled again
  // from the record that failed, as the replay does).
  Result Rebuild(int scan_ahead, size_t run, bool fresh = true, int failing_writes = 0) {
    if (fresh) store_ = MemoryStore();
    store_.finished_adds = 0;
    store_.failing_writes = failing_writes;
    log_.appended.clear();
    marks_.intact = false;
    absl::Notification scanned, replayed;
    service::CaseLogScan scan;
    if (scan_ahead != kNoScan) {
      scan = [&](const service::ScanVisitor& visit,
                 const std::function<bool()>& stopped) -> absl::StatusOr<int64_t> {
        int64_t read = 0;
        for (size_t i = 0; i < log_of_all_.size() && !stopped(); ++i) {
          if (static_cast<int>(i) == scan_ahead) {
            scanned.Notify();
            replayed.WaitForNotification();
          }
          kafka::Record record;
          record.partition = 0;
          record.offset = static_cast<int64_t>(i);
          record.value = events::Encode(log_of_all_[i]);
          ++read;
          if (!visit(record)) break;
        }
        if (!scanned.HasBeenNotified()) scanned.Notify();
        return read;
      };
    }
    OutboxRebuild rebuild(
        guard_, marks_, logic_,
        [&](const events::BatchHandler& handle,
            const std::function<absl::Status()>&) -> absl::StatusOr<int64_t> {
          if (scan_ahead >= 0) scanned.WaitForNotification();
          std::vector<kafka::Record> records(log_of_all_.size());
          for (size_t i = 0; i < log_of_all_.size(); ++i) {
            records[i].partition = 0;
            records[i].offset = static_cast<int64_t>(i);
          }
          for (size_t from = 0; from < log_of_all_.size();) {
            const size_t end = std::min(from + run, log_of_all_.size());
            for (int attempt = 0;; ++attempt) {
              std::vector<events::Batch::Item> items;
              for (size_t i = from; i < end; ++i) items.push_back({&records[i], log_of_all_[i]});
              events::Batch batch(std::move(items));
              handle(batch);
              absl::Status error;
              const std::optional<size_t> failed =
                  batch.Finish(absl::Now() + absl::Seconds(5), &error);
              if (!failed) break;
              if (attempt == 5) return error;
              from += *failed;  // the records before it are done
            }
            from = end;
          }
          replayed.Notify();
          return static_cast<int64_t>(log_of_all_.size());
        },
        std::move(scan));
    absl::StatusOr<v1::RebuildDeliveriesResponse> done = rebuild.Rebuild();
    EXPECT_TRUE(done.ok()) << done.status();
    EXPECT_EQ(store_.failing_writes, 0) << "every failing write was met";
    Result result;
    if (done.ok()) result.sent_again = done->sent_again();
    for (const auto& [key, job] : store_.jobs) result.records[key] = job.SerializeAsString();
    result.queued = store_.DueTimes();
    result.made_final = store_.finished_adds;
    return result;
  }

  std::vector<events::Envelope> log_of_all_;
};

TEST_F(OutboxLookAheadTest, TheRecordsAreTheSameWithTheLookAheadAsWithout) {
  const Result without = Rebuild(kNoScan, /*run=*/1);
  ASSERT_EQ(without.records.size(), 9u) << "six acknowledgements and three department letters";
  EXPECT_EQ(without.made_final, 0);
  EXPECT_EQ(without.sent_again, 2) << "b's and c's department letters";
  EXPECT_EQ(without.queued.size(), 2u) << "the two sent again";
  for (size_t run : {size_t{1}, size_t{3}, size_t{100}}) {
    for (int ahead : {0, 10, static_cast<int>(log_of_all_.size()), kSideBySide}) {
      SCOPED_TRACE(absl::StrCat("runs of ", run, ", the scan ", ahead, " records ahead"));
      const Result with = Rebuild(ahead, run);
      EXPECT_EQ(with.records, without.records);
      EXPECT_EQ(with.queued, without.queued);
      EXPECT_EQ(with.sent_again, without.sent_again);
      if (ahead == static_cast<int>(log_of_all_.size())) {
        // a's two letters, b's acknowledgement (dead-lettered, then delivered) and e's (its
        // event twice): not c's nor d's (dead-lettered last), nor f's (erased on the way), nor
        // those never sent.
        EXPECT_EQ(with.made_final, 4);
      }
    }
  }
}

// The scan and the replay side by side, in whatever order the two threads go: the same.
TEST_F(OutboxLookAheadTest, TheScanRacingTheReplayChangesNothing) {
  const Result without = Rebuild(kNoScan, /*run=*/2);
  for (int round = 0; round < 30; ++round) {
    SCOPED_TRACE(round);
    const Result with = Rebuild(kSideBySide, /*run=*/1 + round % 4);
    EXPECT_EQ(with.records, without.records);
    EXPECT_EQ(with.queued, without.queued);
    EXPECT_EQ(with.sent_again, without.sent_again);
  }
}

// A rebuild over the outbox the last one left (an operator's, with nothing lost): the records
// the outbox has are left as they are and their outcomes applied as they come, as without the
// scan; and a write that fails part way (the run handled again from there) changes nothing.
TEST_F(OutboxLookAheadTest, AnOutboxThatHasTheRecordsAndWritesThatFailChangeNothing) {
  const int all = static_cast<int>(log_of_all_.size());
  Rebuild(kNoScan, /*run=*/3);
  const Result without = Rebuild(kNoScan, /*run=*/3, /*fresh=*/false);
  Rebuild(kNoScan, /*run=*/3);
  const Result with = Rebuild(all, /*run=*/3, /*fresh=*/false);
  EXPECT_EQ(with.records, without.records);
  EXPECT_EQ(with.queued, without.queued);
  EXPECT_EQ(with.sent_again, without.sent_again);
  EXPECT_EQ(with.made_final, 0) << "each record was there already";

  const Result fresh = Rebuild(kNoScan, /*run=*/4);
  for (int failing : {1, 2, 3}) {
    SCOPED_TRACE(absl::StrCat(failing, " writes fail"));
    const Result failed = Rebuild(all, /*run=*/4, /*fresh=*/true, failing);
    EXPECT_EQ(failed.records, fresh.records);
    EXPECT_EQ(failed.queued, fresh.queued);
    EXPECT_EQ(failed.sent_again, fresh.sent_again);
  }
}

// The scan waits while the look-ahead holds as many messages as it may, until the replay forgets
// one or the rebuild closes it; an erasure is noted whatever the count.
TEST(OutcomesAhead, TheScanWaitsWhileItIsFullAndStopsWhenClosed) {
  OutcomesAhead ahead(/*capacity=*/1);
  const absl::Time at = kAt + absl::Hours(1);
  const events::Envelope first =
      OutcomeEvent(kCase, "submitted-1", "acknowledgement", "reporter", true, 1, "", at, "o-1");
  const events::Envelope second =
      OutcomeEvent(kCase, "submitted-2", "acknowledgement", "reporter", true, 1, "", at, "o-2");
  ASSERT_TRUE(ahead.Note(first, 0, 5));
  events::Envelope erased = events::NewEnvelope(kCase, "intake", at);
  erased.mutable_reporter_data_erased();
  events::Finish(erased, "erased-1");
  ASSERT_TRUE(ahead.Note(erased, 0, 6)) << "not counted";
  absl::Notification noted;
  bool more = false;
  std::thread scan([&] {
    more = ahead.Note(second, 0, 7);
    noted.Notify();
  });
  EXPECT_FALSE(noted.WaitForNotificationWithTimeout(absl::Milliseconds(50))) << "full";
  const std::string key = first.notification_delivered().idempotency_key();
  EXPECT_TRUE(ahead.Delivered(kCase, 0, 6, key).empty()) << "the erasure lies between";
  EXPECT_TRUE(ahead.Delivered(kCase, 1, 1, key).empty()) << "offsets of another partition";
  ASSERT_EQ(ahead.Delivered(kCase, 0, 1, key).size(), 1u);
  ahead.Made(key);
  EXPECT_TRUE(ahead.Covered(key, 5)) << "its outcome is in the record made";
  noted.WaitForNotification();  // the replay met it: forgotten, room for the next
  EXPECT_TRUE(more);
  EXPECT_EQ(ahead.size(), 1u);
  scan.join();
  std::thread blocked([&] {
    more = ahead.Note(
        OutcomeEvent(kCase, "submitted-3", "acknowledgement", "reporter", true, 1, "", at, "o-3"),
        0, 9);
  });
  absl::SleepFor(absl::Milliseconds(20));
  ahead.Close();
  blocked.join();
  EXPECT_FALSE(more) << "closed: the scan stops";
}

// Offsets of two partitions say nothing of their order (a topic whose partitions were added
// to): outcomes or an erasure of the case on another partition send the message the long way.
// An outcome the replay has passed already is not noted.
TEST(OutcomesAhead, OtherPartitionsAndWhatTheReplayPassedAreLeftAlone) {
  const absl::Time at = kAt + absl::Hours(1);
  auto delivered = [&](const std::string& trigger, const std::string& case_id) {
    return OutcomeEvent(case_id, trigger, "acknowledgement", "reporter", true, 1, "", at,
                        "o-" + trigger);
  };
  OutcomesAhead ahead;
  const events::Envelope mixed = delivered("submitted-1", kCase);
  const std::string mixed_key = mixed.notification_delivered().idempotency_key();
  ASSERT_TRUE(ahead.Note(mixed, 0, 10));
  ASSERT_TRUE(ahead.Note(mixed, 1, 20));
  EXPECT_TRUE(ahead.Delivered(kCase, 0, 1, mixed_key).empty()) << "outcomes on two partitions";

  const std::string other = "MP-0123456789XYZ";
  const events::Envelope after_erasure = delivered("submitted-2", other);
  events::Envelope erased = events::NewEnvelope(other, "intake", at);
  erased.mutable_reporter_data_erased();
  events::Finish(erased, "erased-2");
  ASSERT_TRUE(ahead.Note(erased, 1, 3));
  ASSERT_TRUE(ahead.Note(after_erasure, 0, 30));
  EXPECT_TRUE(ahead.Delivered(other, 0, 1, after_erasure.notification_delivered().idempotency_key())
                  .empty())
      << "an erasure of the case on another partition";

  ahead.Passed(2, 100);
  const size_t before = ahead.size();
  ASSERT_TRUE(ahead.Note(delivered("submitted-3", "MP-0123456789QQQ"), 2, 90));
  EXPECT_EQ(ahead.size(), before) << "passed: not noted";
  const events::Envelope ahead_of_it = delivered("submitted-4", "MP-0123456789RRR");
  ASSERT_TRUE(ahead.Note(ahead_of_it, 2, 101));
  EXPECT_EQ(ahead.size(), before + 1);
  EXPECT_EQ(ahead
                .Delivered("MP-0123456789RRR", 2, 95,
                           ahead_of_it.notification_delivered().idempotency_key())
                .size(),
            1u);
}

TEST(OutcomesAhead, OnlyOutcomesAndErasuresAreDecoded) {
  EXPECT_FALSE(MayBeOutcomeOrErasure(events::Encode(Submitted())));
  EXPECT_FALSE(MayBeOutcomeOrErasure(events::Encode(Routed())));
  EXPECT_TRUE(MayBeOutcomeOrErasure(events::Encode(OutcomeEvent(
      kCase, "submitted-1", "acknowledgement", "reporter", false, 1, "x", kAt, "o-1"))));
  EXPECT_TRUE(MayBeOutcomeOrErasure("\xff\xff not an envelope")) << "decoding says what it is";
}

}  // namespace
}  // namespace meldpunt::notification
