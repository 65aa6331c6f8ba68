// The consume-handle-commit loop against librdkafka's mock cluster: failures of the record's
// surroundings are retried on the same record, records that cannot succeed go to the dead-letter
// topic, and only handled or set-aside records are committed.
#include "libs/events/event_consumer.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "libs/events/acks.h"
#include "libs/events/dead_letters.h"
#include "libs/events/event_log.h"
#include "libs/events/topics.h"
#include "libs/kafka/producer.h"
#include "libs/status/retry.h"
#include "prometheus/registry.h"

namespace meldpunt::events {
namespace {

// A batch handler that keeps each batch it is given, as `field` of each of its envelopes.
BatchHandler KeepBatches(std::mutex& mu, std::vector<std::vector<std::string>>& batches,
                         std::string (*field)(const Envelope&)) {
  return [&mu, &batches, field](Batch& batch) {
    std::lock_guard<std::mutex> lock(mu);
    batches.emplace_back();
    for (size_t i = 0; i < batch.size(); ++i) batches.back().push_back(field(batch.envelope(i)));
  };
}

class EventConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char error[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", error, sizeof error);
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    ASSERT_NE(handle_, nullptr);
    cluster_ = rd_kafka_mock_cluster_new(handle_, 1);
    brokers_ = rd_kafka_mock_cluster_bootstraps(cluster_);
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, "events", 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, kCaseEventsDeadLetterTopic, 1, 1),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    auto producer = kafka::Producer::Create({.brokers = brokers_});
    ASSERT_TRUE(producer.ok());
    producer_ = std::move(*producer);
  }
  void TearDown() override {
    producer_.reset();
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(handle_);
  }

  void Append(const std::string& case_id, const std::string& event_id) {
    Envelope e = NewEnvelope(case_id, "test", absl::Now());
    e.mutable_case_closed();
    Finish(e, event_id);
    ASSERT_TRUE(producer_->Send(ToRecord("events", e), absl::Now() + absl::Seconds(10)).ok());
  }

  // Everything on the dead-letter topic so far.
  std::vector<v1::DeadLetterRecord> DeadLetters(size_t expected) {
    auto consumer = kafka::Consumer::Create({.brokers = brokers_,
                                             .group_id = absl::StrCat("dlq-reader-", ++readers_),
                                             .topics = {kCaseEventsDeadLetterTopic}});
    EXPECT_TRUE(consumer.ok());
    std::vector<v1::DeadLetterRecord> out;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (out.size() < expected && absl::Now() < deadline) {
      auto record = (*consumer)->Poll(absl::Milliseconds(200));
      if (!record.ok() || !record->has_value()) continue;
      v1::DeadLetterRecord entry;
      EXPECT_TRUE(entry.ParseFromString((*record)->value));
      EXPECT_EQ((*record)->key, entry.dead_letter().dead_letter_id());
      out.push_back(entry);
    }
    (*consumer)->Close();
    return out;
  }

  std::unique_ptr<kafka::Consumer> NewConsumer() {
    auto consumer =
        kafka::Consumer::Create({.brokers = brokers_, .group_id = "loop", .topics = {"events"}});
    EXPECT_TRUE(consumer.ok());
    return std::move(*consumer);
  }

  // Whether a new member of the group gets the event `event_id` (it was not committed).
  bool TheNextMemberHandles(const std::string& event_id);

  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string brokers_;
  std::unique_ptr<kafka::Producer> producer_;
  int readers_ = 0;
};

bool WaitFor(const std::function<bool()>& check) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    if (check()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

bool EventConsumerTest::TheNextMemberHandles(const std::string& event_id) {
  std::atomic<int> handled{0};
  EventConsumer next(NewConsumer(), [&](const Envelope& e, const kafka::Record&) {
    if (e.event_id() == event_id) ++handled;
    return absl::OkStatus();
  });
  next.Start();
  const bool seen = WaitFor([&] { return handled.load() == 1; });
  next.Stop();
  return seen;
}

TEST_F(EventConsumerTest, RetriesInPlaceSetsAsideWhatCannotSucceedAndCommitsOnlyWhatIsDone) {
  Append("MP-1", "ev-1");
  ASSERT_TRUE(
      producer_->Send({"events", "MP-2", "not an envelope", {}}, absl::Now() + absl::Seconds(10))
          .ok());
  Append("MP-3", "ev-3");
  Append("MP-5", "ev-5");
  Append("MP-6", "ev-6");

  std::mutex mu;
  std::vector<std::string> seen;
  std::atomic<int> outage_left{4};
  KafkaDeadLetters sink(*producer_, "test", "loop");
  EventConsumer loop(NewConsumer(),
                     [&](const Envelope& e, const kafka::Record&) -> absl::Status {
                       std::lock_guard<std::mutex> lock(mu);
                       seen.push_back(e.event_id());
                       // An outage marked as one is retried for as long as it lasts, past
                       // max_attempts, even though its code is INTERNAL.
                       if (e.event_id() == "ev-1" && outage_left.fetch_sub(1) > 0) {
                         return status::InPlace(absl::InternalError("redis: LOADING"));
                       }
                       // A handler's own refusal cannot be retried: set aside at once.
                       if (e.event_id() == "ev-3")
                         return absl::FailedPreconditionError("not allowed");
                       // An error that says nothing: a few attempts, then set aside.
                       if (e.event_id() == "ev-5") return absl::InternalError("who knows");
                       return absl::OkStatus();
                     },
                     nullptr, "", {.dead_letters = &sink, .max_attempts = 3});
  loop.Start();
  ASSERT_TRUE(WaitFor([&] { return loop.stats().handled + loop.stats().dead_lettered == 5; }));
  loop.Stop();
  EXPECT_EQ(loop.stats().handled, 2);
  EXPECT_EQ(loop.stats().dead_lettered, 3);  // undecodable bytes, the refused and the unknown
  EXPECT_EQ(loop.stats().retries, 4 + 2);
  EXPECT_EQ(seen, (std::vector<std::string>{"ev-1", "ev-1", "ev-1", "ev-1", "ev-1", "ev-3", "ev-5",
                                            "ev-5", "ev-5", "ev-6"}));

  // Each set-aside record is on the dead-letter topic with what the operator needs.
  std::vector<v1::DeadLetterRecord> dead = DeadLetters(3);
  ASSERT_EQ(dead.size(), 3u);
  const v1::DeadLetter& bytes = dead[0].dead_letter();
  EXPECT_EQ(bytes.dead_letter_id(), "loop/events/0/1");
  EXPECT_EQ(bytes.reason(), kCannotBeDecoded);
  EXPECT_EQ(bytes.case_id(), "MP-2");
  EXPECT_EQ(bytes.record_value(), "not an envelope");
  EXPECT_EQ(bytes.error_code(), "INVALID_ARGUMENT");
  const v1::DeadLetter& refused = dead[1].dead_letter();
  EXPECT_EQ(refused.reason(), kCannotBeRetried);
  EXPECT_EQ(refused.event_id(), "ev-3");
  EXPECT_EQ(refused.event_type(), "CaseClosed");
  EXPECT_EQ(refused.service(), "test");
  EXPECT_EQ(refused.consumer_group(), "loop");
  EXPECT_EQ(refused.source_topic(), "events");
  EXPECT_EQ(refused.source_partition(), 0);
  EXPECT_EQ(refused.source_offset(), 2);
  EXPECT_EQ(refused.attempts(), 1);
  EXPECT_EQ(refused.error(), "not allowed");
  EXPECT_EQ(refused.retry(), "give_up");
  absl::StatusOr<Envelope> original = Decode(refused.record_value());
  ASSERT_TRUE(original.ok());
  EXPECT_EQ(original->event_id(), "ev-3");
  const v1::DeadLetter& unknown = dead[2].dead_letter();
  EXPECT_EQ(unknown.reason(), kFailedAfterRetries);
  EXPECT_EQ(unknown.attempts(), 3);
  EXPECT_EQ(unknown.retry(), "unclassified");

  // Everything was committed: a new member of the group starts after the last record.
  Append("MP-4", "ev-4");
  std::vector<std::string> second;
  EventConsumer next(NewConsumer(), [&](const Envelope& e, const kafka::Record&) {
    std::lock_guard<std::mutex> lock(mu);
    second.push_back(e.event_id());
    return absl::OkStatus();
  });
  next.Start();
  ASSERT_TRUE(WaitFor([&] { return next.stats().handled == 1; }));
  next.Stop();
  EXPECT_EQ(second, (std::vector<std::string>{"ev-4"}));
}

// The same failures with a batch handler: a record that fails ends the batch there; the records
// before it are done, it and those after it are handled again (an outage) or it is set aside.
TEST_F(EventConsumerTest, ABatchHandlerRetriesFromTheFailedRecordAndSetsAsideWhatCannotSucceed) {
  Append("MP-1", "ev-1");
  ASSERT_TRUE(
      producer_->Send({"events", "MP-2", "not an envelope", {}}, absl::Now() + absl::Seconds(10))
          .ok());
  Append("MP-3", "ev-3");
  Append("MP-5", "ev-5");
  Append("MP-6", "ev-6");

  std::mutex mu;
  std::vector<std::string> seen;
  std::vector<std::string> after;
  std::atomic<int> outage_left{2};
  KafkaDeadLetters sink(*producer_, "test", "loop");
  EventConsumer loop(
      NewConsumer(), BatchHandler([&](Batch& batch) {
        std::lock_guard<std::mutex> lock(mu);
        for (size_t i = 0; i < batch.size(); ++i) {
          const std::string id = batch.envelope(i).event_id();
          seen.push_back(id);
          if (id == "ev-1" && outage_left.fetch_sub(1) > 0) {
            return batch.Fail(i, status::InPlace(absl::InternalError("redis: LOADING")));
          }
          if (id == "ev-3") return batch.Fail(i, absl::FailedPreconditionError("not allowed"));
          if (id == "ev-5") return batch.Fail(i, absl::InternalError("who knows"));
          // Sent for this record, and a step once it is durable.
          Envelope out = NewEnvelope(batch.envelope(i).case_id(), "test", absl::Now());
          out.mutable_case_closed();
          Finish(out, "out-" + id);
          EXPECT_TRUE(batch.Send(i, *producer_, ToRecord("events-out", out)).ok());
          batch.After(i, [&, id] {
            after.push_back(id);
            return absl::OkStatus();
          });
        }
      }),
      nullptr, "", {.dead_letters = &sink, .max_attempts = 3});
  ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, "events-out", 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  loop.Start();
  ASSERT_TRUE(WaitFor([&] { return loop.stats().handled + loop.stats().dead_lettered == 5; }));
  loop.Stop();
  EXPECT_EQ(loop.stats().handled, 2);
  EXPECT_EQ(loop.stats().dead_lettered, 3);  // undecodable bytes, the refused and the unknown
  EXPECT_EQ(loop.stats().retries, 2 + 2);
  // Each record once in order, except where a batch ended: from there again. The undecodable
  // record never reaches the handler.
  std::vector<std::string> expected = {"ev-1", "ev-1", "ev-1", "ev-3",
                                       "ev-5", "ev-5", "ev-5", "ev-6"};
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(after, (std::vector<std::string>{"ev-1", "ev-6"})) << "steps of done records only";
  std::vector<v1::DeadLetterRecord> dead = DeadLetters(3);
  ASSERT_EQ(dead.size(), 3u);
  EXPECT_EQ(dead[0].dead_letter().reason(), kCannotBeDecoded);
  EXPECT_EQ(dead[1].dead_letter().event_id(), "ev-3");
  EXPECT_EQ(dead[1].dead_letter().reason(), kCannotBeRetried);
  EXPECT_EQ(dead[2].dead_letter().event_id(), "ev-5");
  EXPECT_EQ(dead[2].dead_letter().attempts(), 3);

  // Everything was committed: a new member of the group starts after the last record.
  Append("MP-4", "ev-4");
  std::vector<std::string> second;
  EventConsumer next(NewConsumer(), BatchHandler([&](Batch& batch) {
                       std::lock_guard<std::mutex> lock(mu);
                       for (size_t i = 0; i < batch.size(); ++i) {
                         second.push_back(batch.envelope(i).event_id());
                       }
                     }));
  next.Start();
  ASSERT_TRUE(WaitFor([&] { return next.stats().handled == 1; }));
  next.Stop();
  EXPECT_EQ(second, (std::vector<std::string>{"ev-4"}));
}

TEST_F(EventConsumerTest, OneRecordPerCaseEndsABatchBeforeACasesSecondRecord) {
  int n = 0;
  for (const char* c : {"MP-A", "MP-B", "MP-A", "MP-C", "MP-A"})
    Append(c, absl::StrCat("ev-", ++n));
  std::mutex mu;
  std::vector<std::vector<std::string>> batches;
  EventConsumer loop(NewConsumer(),
                     KeepBatches(mu, batches, [](const Envelope& e) { return e.case_id(); }),
                     nullptr, "", {.one_record_per_case = true});
  loop.Start();
  ASSERT_TRUE(WaitFor([&] { return loop.stats().handled == 5; }));
  loop.Stop();
  std::vector<std::string> all;
  for (const auto& batch : batches) {
    std::set<std::string> distinct(batch.begin(), batch.end());
    EXPECT_EQ(distinct.size(), batch.size()) << "a case twice in one batch";
    all.insert(all.end(), batch.begin(), batch.end());
  }
  EXPECT_EQ(all, (std::vector<std::string>{"MP-A", "MP-B", "MP-A", "MP-C", "MP-A"}));
}

// A record the handler drops (`inert`) goes into the run beside its case's other record; the
// case's next record that counts still waits for the next run.
TEST_F(EventConsumerTest, AnInertRecordOfACaseSharesItsBatch) {
  // One produce request: the three records come in one fetch, so in one poll.
  for (const char* id : {"ev-1", "ev-2", "ev-3"}) {
    Envelope e = NewEnvelope("MP-A", "test", absl::Now());
    if (std::string(id) == "ev-2") {
      e.mutable_clocks_started();
    } else {
      e.mutable_case_closed();
    }
    Finish(e, id);
    ASSERT_TRUE(producer_->SendAsync(ToRecord("events", e), [](auto) {}).ok());
  }
  ASSERT_TRUE(producer_->Flush(absl::Seconds(10)).ok());
  std::mutex mu;
  std::vector<std::vector<std::string>> batches;
  EventConsumer loop(
      NewConsumer(), KeepBatches(mu, batches, [](const Envelope& e) { return e.event_id(); }),
      nullptr, "", {.lanes = 2, .one_record_per_case = true, .inert = [](const Envelope& e) {
                      return e.has_clocks_started();
                    }});
  loop.Start();
  ASSERT_TRUE(WaitFor([&] { return loop.stats().handled == 3; }));
  loop.Stop();
  EXPECT_EQ(batches, (std::vector<std::vector<std::string>>{{"ev-1", "ev-2"}, {"ev-3"}}));
}

TEST(Batch, AFailedAcknowledgementEndsTheBatchAtItsRecord) {
  kafka::Record records[3];
  std::vector<Batch::Item> items;
  for (auto& r : records) items.push_back({&r, Envelope()});
  Batch batch(std::move(items));
  std::vector<int> ran;
  batch.After(0, [&] {
    ran.push_back(0);
    return absl::OkStatus();
  });
  batch.After(1, [&] {
    ran.push_back(1);
    return absl::UnavailableError("redis down");
  });
  batch.After(2, [&] {
    ran.push_back(2);
    return absl::OkStatus();
  });
  absl::Status error;
  std::optional<size_t> failed = batch.Finish(absl::Now() + absl::Seconds(1), &error);
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(*failed, 1u);
  EXPECT_EQ(error.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ran, (std::vector<int>{0, 1}));
  // The lowest Fail counts.
  std::vector<Batch::Item> more;
  for (auto& r : records) more.push_back({&r, Envelope()});
  Batch other(std::move(more));
  other.Fail(2, absl::InternalError("late"));
  other.Fail(1, absl::InternalError("first"));
  other.Fail(2, absl::InternalError("later"));
  failed = other.Finish(absl::Now(), &error);
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(*failed, 1u);
  EXPECT_EQ(error.message(), "first");
}

// A step shared by many items (Batch::AfterAll) runs once, after the items' own steps, for the
// items that got that far; the item it names as failed ends the batch there.
TEST(Batch, ASharedStepRunsOnceForTheItemsThatGotThatFar) {
  kafka::Record records[4];
  auto make = [&] {
    std::vector<Batch::Item> items;
    for (auto& r : records) items.push_back({&r, Envelope()});
    return items;
  };
  Batch batch(make());
  std::vector<std::string> ran;
  batch.After(1, [&] {
    ran.push_back("after 1");
    return absl::OkStatus();
  });
  batch.AfterAll([&](size_t done, absl::Status*) -> std::optional<size_t> {
    ran.push_back(absl::StrCat("shared ", done));
    return std::nullopt;
  });
  absl::Status error;
  EXPECT_EQ(batch.Finish(absl::Now() + absl::Seconds(1), &error), std::nullopt);
  EXPECT_EQ(ran, (std::vector<std::string>{"after 1", "shared 4"}));

  // Item 2's own step fails: the shared step does its part for items 0 and 1 only.
  Batch failing(make());
  failing.After(2, [] { return absl::UnavailableError("redis down"); });
  size_t shared_done = 99;
  failing.AfterAll([&](size_t done, absl::Status*) -> std::optional<size_t> {
    shared_done = done;
    return std::nullopt;
  });
  EXPECT_EQ(failing.Finish(absl::Now() + absl::Seconds(1), &error), std::optional<size_t>(2));
  EXPECT_EQ(shared_done, 2u);
  EXPECT_EQ(error.code(), absl::StatusCode::kUnavailable);

  // The shared step's failure at item 1 comes before Fail(3): item 1 counts.
  Batch shared_fails(make());
  shared_fails.Fail(3, absl::InternalError("late"));
  shared_fails.AfterAll([&](size_t done, absl::Status* e) -> std::optional<size_t> {
    EXPECT_EQ(done, 3u);
    *e = absl::InvalidArgumentError("WRONGTYPE");
    return 1;
  });
  EXPECT_EQ(shared_fails.Finish(absl::Now() + absl::Seconds(1), &error), std::optional<size_t>(1));
  EXPECT_EQ(error.message(), "WRONGTYPE");
}

// A dead-letter topic that cannot take the record yet: the loop holds the record (it is neither
// committed nor passed) until the topic takes it.
class FlakySink : public DeadLetterSink {
 public:
  absl::Status Put(const kafka::Record&, const Envelope*, const absl::Status&, int,
                   absl::string_view) override {
    if (failures_left.fetch_sub(1) > 0) return absl::UnavailableError("kafka down");
    ++taken;
    return absl::OkStatus();
  }
  std::atomic<int> failures_left{3};
  std::atomic<int> taken{0};
};

TEST_F(EventConsumerTest, ARecordIsNotPassedUntilTheDeadLetterTopicHasIt) {
  for (int lanes : {1, 3}) {
    SCOPED_TRACE(absl::StrCat("lanes ", lanes));
    Append(absl::StrCat("MP-bad-", lanes), "ev-bad");
    Append(absl::StrCat("MP-next-", lanes), "ev-next");
    FlakySink sink;
    std::mutex mu;
    std::vector<std::string> seen;
    EventConsumer loop(NewConsumer(),
                       [&](const Envelope& e, const kafka::Record&) -> absl::Status {
                         std::lock_guard<std::mutex> lock(mu);
                         seen.push_back(e.event_id());
                         if (e.event_id() == "ev-bad")
                           return status::GiveUp(absl::InternalError("template"));
                         // The next record comes only after the bad one is on the dead-letter
                         // topic.
                         EXPECT_EQ(sink.taken.load(), 1);
                         return absl::OkStatus();
                       },
                       nullptr, "", {.lanes = lanes, .dead_letters = &sink});
    loop.Start();
    ASSERT_TRUE(WaitFor([&] { return loop.stats().handled == 1; }));
    loop.Stop();
    EXPECT_EQ(loop.stats().dead_lettered, 1);
    EXPECT_EQ(sink.taken.load(), 1);
    EXPECT_EQ(seen, (std::vector<std::string>{"ev-bad", "ev-next"}));
  }
}

// What a batch handler left to run after a record's acknowledgements (Batch::Await) can fail for
// good too: that record is set aside and the loop goes on with the next one, instead of handling
// it again for ever.
TEST_F(EventConsumerTest, ABatchSetsAsideARecordWhoseStepAfterTheAcksCanNeverSucceed) {
  Append("MP-then-bad", "ev-then-bad");
  Append("MP-then-next", "ev-then-next");
  FlakySink sink;
  sink.failures_left = 0;
  std::atomic<int> bad_calls{0};
  EventConsumer loop(NewConsumer(), BatchHandler([&](Batch& batch) {
                       for (size_t i = 0; i < batch.size(); ++i) {
                         if (batch.envelope(i).event_id() != "ev-then-bad") continue;
                         ++bad_calls;
                         batch.Await(i, Acks(), [] {
                           return status::GiveUp(absl::InternalError("the state cannot be saved"));
                         });
                       }
                     }),
                     nullptr, "", {.lanes = 3, .dead_letters = &sink});
  loop.Start();
  ASSERT_TRUE(WaitFor([&] { return sink.taken.load() == 1 && loop.stats().handled >= 1; }));
  loop.Stop();
  EXPECT_EQ(loop.stats().dead_lettered, 1);
  EXPECT_EQ(bad_calls.load(), 1) << "a give-up is not handled again";
}

TEST_F(EventConsumerTest, StopDuringRetriesLeavesTheRecordUncommitted) {
  Append("MP-1", "ev-1");
  std::atomic<int> calls{0};
  {
    EventConsumer loop(NewConsumer(), [&](const Envelope&, const kafka::Record&) {
      ++calls;
      return absl::UnavailableError("still down");
    });
    loop.Start();
    ASSERT_TRUE(WaitFor([&] { return calls.load() >= 2; }));
    loop.Stop();
  }
  // Not committed: the next member of the group handles it.
  EXPECT_TRUE(TheNextMemberHandles("ev-1"));
}

// Durability that fails its first `failures` confirmations, and counts what it was asked.
class FlakyDurability : public Durability {
 public:
  explicit FlakyDurability(int failures) : failures_(failures) {}
  int64_t Mark() override { return ++marks_; }
  absl::Status Confirm(int64_t mark) override {
    last_confirmed_ = mark;
    if (confirms_.fetch_add(1) < failures_) {
      return absl::UnavailableError("1 replica of 1 did not acknowledge");
    }
    return absl::OkStatus();
  }
  std::atomic<int> confirms_{0};
  std::atomic<int64_t> marks_{0};
  std::atomic<int64_t> last_confirmed_{0};

 private:
  const int failures_;
};

TEST_F(EventConsumerTest, RecordsWhoseWritesAreNotDurableAreHandledAgainBeforeTheCommit) {
  for (bool batches : {false, true}) {
    SCOPED_TRACE(batches ? "batch handler" : "record handler");
    const std::string id = batches ? "durable-batch" : "durable-record";
    Append("MP-1", id);
    FlakyDurability durability(2);
    std::atomic<int> handled{0};
    {
      EventConsumerOptions options{.dead_letters = nullptr, .durability = &durability};
      std::unique_ptr<EventConsumer> loop;
      if (batches) {
        loop = std::make_unique<EventConsumer>(NewConsumer(), BatchHandler([&](Batch& b) {
                                                 for (size_t i = 0; i < b.size(); ++i)
                                                   if (b.envelope(i).event_id() == id) ++handled;
                                               }),
                                               nullptr, "", options);
      } else {
        loop = std::make_unique<EventConsumer>(
            NewConsumer(),
            [&](const Envelope& e, const kafka::Record&) {
              if (e.event_id() == id) ++handled;
              return absl::OkStatus();
            },
            nullptr, "", options);
      }
      loop->Start();
      // Handled, not durable, handled again, not durable, handled again, durable.
      ASSERT_TRUE(WaitFor([&] { return durability.confirms_.load() == 3; }));
      loop->Stop();
      EXPECT_EQ(handled.load(), 3);
      // Each confirmation covers the mark taken before its own handling.
      EXPECT_EQ(durability.last_confirmed_.load(), durability.marks_.load());
    }
    // Committed once durable: a new member does not see the record again.
    Append("MP-2", id + "-next");
    std::vector<std::string> seen;
    absl::Mutex mu;
    EventConsumer next(NewConsumer(), [&](const Envelope& e, const kafka::Record&) {
      absl::MutexLock lock(&mu);
      seen.push_back(e.event_id());
      return absl::OkStatus();
    });
    next.Start();
    ASSERT_TRUE(WaitFor([&] {
      absl::MutexLock lock(&mu);
      return !seen.empty();
    }));
    next.Stop();
    EXPECT_EQ(seen, std::vector<std::string>{id + "-next"});
  }
}

TEST_F(EventConsumerTest, StopBeforeTheWritesAreDurableLeavesTheRecordUncommitted) {
  Append("MP-1", "ev-1");
  FlakyDurability never(1 << 30);
  {
    EventConsumer loop(NewConsumer(),
                       [&](const Envelope&, const kafka::Record&) { return absl::OkStatus(); },
                       nullptr, "", {.durability = &never});
    loop.Start();
    ASSERT_TRUE(WaitFor([&] { return never.confirms_.load() >= 2; }));
    loop.Stop();
  }
  // Not committed: the next member of the group handles it.
  EXPECT_TRUE(TheNextMemberHandles("ev-1"));
}

TEST_F(EventConsumerTest, LanesKeepEachPartitionsOrderAndCommitWhatIsDone) {
  ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, "many", 4, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  // 40 cases of 5 events each, spread over the 4 partitions by key.
  for (int c = 0; c < 40; ++c) {
    for (int n = 0; n < 5; ++n) {
      Envelope e = NewEnvelope(absl::StrCat("MP-", c), "test", absl::Now());
      e.mutable_case_closed();
      Finish(e, absl::StrCat("ev-", c, "-", n));
      ASSERT_TRUE(producer_->SendAsync(ToRecord("many", e), [](auto) {}).ok());
    }
  }
  ASSERT_TRUE(producer_->Flush(absl::Seconds(10)).ok());
  auto consumer = [&] {
    auto c =
        kafka::Consumer::Create({.brokers = brokers_, .group_id = "lanes", .topics = {"many"}});
    EXPECT_TRUE(c.ok());
    return std::move(*c);
  };

  std::mutex mu;
  std::map<std::string, std::vector<int>> order;  // case -> event numbers in handling order
  std::atomic<int> inside{0};
  std::atomic<int> most_inside{0};
  std::atomic<int> failures_left{3};
  EventConsumer loop(
      consumer(),
      [&](const Envelope& e, const kafka::Record&) -> absl::Status {
        const int now_inside = ++inside;
        int seen = most_inside.load();
        while (now_inside > seen && !most_inside.compare_exchange_weak(seen, now_inside)) {
        }
        absl::SleepFor(absl::Milliseconds(2));  // long enough for the lanes to overlap
        --inside;
        // A retriable failure is retried on the same record, in its place.
        if (e.event_id() == "ev-7-2" && failures_left.fetch_sub(1) > 0) {
          return absl::UnavailableError("redis down");
        }
        std::lock_guard<std::mutex> lock(mu);
        const std::string& id = e.event_id();
        order[e.case_id()].push_back(id.back() - '0');
        return absl::OkStatus();
      },
      nullptr, "", {.lanes = 4, .lane_min_records = 1});
  loop.Start();
  ASSERT_TRUE(WaitFor([&] { return loop.stats().handled == 200; }));
  loop.Stop();
  EXPECT_EQ(loop.stats().retries, 3);
  EXPECT_GT(most_inside.load(), 1);  // the partitions were handled in parallel
  ASSERT_EQ(order.size(), 40u);
  for (const auto& [case_id, events] : order) {
    EXPECT_EQ(events, (std::vector<int>{0, 1, 2, 3, 4})) << case_id;
  }

  // Everything handled was committed: the next member sees only what comes after.
  Envelope e = NewEnvelope("MP-1", "test", absl::Now());
  e.mutable_case_closed();
  Finish(e, "ev-late");
  ASSERT_TRUE(producer_->Send(ToRecord("many", e), absl::Now() + absl::Seconds(10)).ok());
  std::vector<std::string> second;
  EventConsumer next(consumer(),
                     [&](const Envelope& e, const kafka::Record&) {
                       std::lock_guard<std::mutex> lock(mu);
                       second.push_back(e.event_id());
                       return absl::OkStatus();
                     },
                     nullptr, "", {.lanes = 4});
  next.Start();
  ASSERT_TRUE(WaitFor([&] { return next.stats().handled == 1; }));
  next.Stop();
  EXPECT_EQ(second, (std::vector<std::string>{"ev-late"}));
}

// A lane's run costs its round trips and its wait for acknowledgements whatever it holds, so a
// poll of a few records is one run on the loop's own thread, whatever partitions it spans; with
// lane_min_records 1, or runs that end at a case's second record, each partition has a lane of its
// own. (How a lane's runs take its partitions: lane_runs_test.cc.)
TEST_F(EventConsumerTest, AFewRecordsPolledAtOnceAreOneRunWhateverPartitionsTheySpan) {
  ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, "few", 4, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  for (int c = 0; c < 16; ++c) {
    Envelope e = NewEnvelope(absl::StrCat("MP-few-", c), "test", absl::Now());
    e.mutable_case_closed();
    Finish(e, absl::StrCat("ev-few-", c));
    ASSERT_TRUE(producer_->SendAsync(ToRecord("few", e), [](auto) {}).ok());
  }
  ASSERT_TRUE(producer_->Flush(absl::Seconds(10)).ok());
  struct Seen {
    std::mutex mu;
    std::set<int32_t> partitions;
    std::set<std::thread::id> threads;
    std::vector<std::set<int32_t>> runs;  // the partitions of each run
  };
  auto run = [&](const std::string& group, EventConsumerOptions options, Seen& seen) {
    auto consumer =
        kafka::Consumer::Create({.brokers = brokers_, .group_id = group, .topics = {"few"}});
    ASSERT_TRUE(consumer.ok());
    EventConsumer loop(std::move(*consumer), BatchHandler([&](Batch& batch) {
                         std::lock_guard<std::mutex> lock(seen.mu);
                         seen.threads.insert(std::this_thread::get_id());
                         std::set<int32_t>& partitions = seen.runs.emplace_back();
                         for (size_t i = 0; i < batch.size(); ++i) {
                           partitions.insert(batch.record(i).partition);
                           seen.partitions.insert(batch.record(i).partition);
                         }
                       }),
                       nullptr, "", options);
    loop.Start();
    ASSERT_TRUE(WaitFor([&] { return loop.stats().handled == 16; }));
    loop.Stop();
  };
  // What one poll holds depends on when the partitions' fetched records reach the consumer's
  // queue: on a busy machine a poll may find one partition's alone. So up to five consumers in
  // new groups read the topic; the loop that splits a poll by partition never passes.
  bool spanned = false;
  for (int attempt = 0; attempt < 5 && !spanned; ++attempt) {
    Seen few;
    run(absl::StrCat("few-one-run-", attempt), {.lanes = 4}, few);
    ASSERT_GT(few.partitions.size(), 1u) << "the cases' keys cover more than one partition";
    EXPECT_EQ(few.threads.size(), 1u);
    spanned = std::any_of(few.runs.begin(), few.runs.end(),
                          [](const std::set<int32_t>& p) { return p.size() > 1; });
  }
  EXPECT_TRUE(spanned) << "one run holds records of several partitions";

  Seen spread;
  run("few-spread", {.lanes = 4, .lane_min_records = 1}, spread);
  for (const std::set<int32_t>& partitions : spread.runs) EXPECT_EQ(partitions.size(), 1u);

  // Runs that end at a case's second record take a small batch on one lane as well.
  Seen per_case;
  run("few-per-case", {.lanes = 4, .one_record_per_case = true}, per_case);
  EXPECT_EQ(per_case.threads.size(), 1u);
}

// A batch handler's acknowledgement waits (Batch::Await) are the loop's: the handler goes on with
// the next records while they are outstanding, each `then` runs once its records are durable, in
// order, a case's next record waits for the next batch (one_record_per_case), and a record whose
// append failed is handled again with the ones after it.
TEST_F(EventConsumerTest, BatchesWaitForTheAcknowledgementsOfTheirRunOnceAndRedoWhatFailed) {
  ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, "acked", 2, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  for (int c = 0; c < 20; ++c) {
    for (int n = 0; n < 4; ++n) {
      Envelope e = NewEnvelope(absl::StrCat("MP-", c), "test", absl::Now());
      e.mutable_case_closed();
      Finish(e, absl::StrCat("ev-", c, "-", n));
      ASSERT_TRUE(producer_->SendAsync(ToRecord("acked", e), [](auto) {}).ok());
    }
  }
  ASSERT_TRUE(producer_->Flush(absl::Seconds(10)).ok());
  auto consumer = [&] {
    auto c =
        kafka::Consumer::Create({.brokers = brokers_, .group_id = "acked", .topics = {"acked"}});
    EXPECT_TRUE(c.ok());
    return std::move(*c);
  };

  // The "broker": acknowledges what the handlers sent 3 ms later; the first append of ev-3-1
  // fails.
  struct Sent {
    kafka::DeliveryCallback done;
    absl::Time at;
    bool fail;
    int32_t partition;
  };
  absl::Mutex mu;
  std::vector<Sent> sent;
  std::map<std::string, std::vector<int>> durable;  // case -> event numbers whose `then` ran
  std::map<std::string, int> handled;               // event id -> handler calls
  std::map<int32_t, int> outstanding;               // partition -> sent, not acknowledged
  int handled_while_outstanding = 0;  // while its own partition's sends were outstanding
  int overlapping_a_case = 0;         // a case's event handled before its previous one was durable
  bool failed_once = false;
  std::atomic<bool> quit{false};
  std::thread broker([&] {
    while (!quit.load()) {
      std::vector<Sent> due;
      {
        absl::MutexLock lock(&mu);
        const absl::Time now = absl::Now();
        for (auto it = sent.begin(); it != sent.end();) {
          if (it->at <= now) {
            due.push_back(std::move(*it));
            --outstanding[it->partition];
            it = sent.erase(it);
          } else {
            ++it;
          }
        }
      }
      for (Sent& s : due) {
        if (s.fail) {
          s.done(absl::UnavailableError("broker gone"));
        } else {
          s.done(kafka::Delivered{0, 0});
        }
      }
      absl::SleepFor(absl::Milliseconds(1));
    }
  });
  EventConsumer loop(consumer(), BatchHandler([&](Batch& batch) {
                       for (size_t i = 0; i < batch.size(); ++i) {
                         const Envelope& e = batch.envelope(i);
                         const std::string id = e.event_id();
                         const std::string case_id = e.case_id();
                         const int n = id.back() - '0';
                         Acks acks;
                         {
                           absl::MutexLock lock(&mu);
                           ++handled[id];
                           if (outstanding[batch.record(i).partition] > 0)
                             ++handled_while_outstanding;
                           if (static_cast<int>(durable[case_id].size()) < n) ++overlapping_a_case;
                           const bool fail = id == "ev-3-1" && !failed_once;
                           failed_once |= fail;
                           sent.push_back({acks.Track(), absl::Now() + absl::Milliseconds(3), fail,
                                           batch.record(i).partition});
                           ++outstanding[batch.record(i).partition];
                         }
                         batch.Await(i, std::move(acks), [&, case_id, n] {
                           absl::MutexLock lock(&mu);
                           durable[case_id].push_back(n);
                           return absl::OkStatus();
                         });
                       }
                     }),
                     nullptr, "", {.lanes = 2, .one_record_per_case = true});
  loop.Start();
  ASSERT_TRUE(WaitFor([&] {
    absl::MutexLock lock(&mu);
    int done = 0;
    for (const auto& [c, events] : durable) done += static_cast<int>(events.size());
    return done == 80;
  }));
  loop.Stop();
  quit = true;
  broker.join();
  absl::MutexLock lock(&mu);
  ASSERT_EQ(durable.size(), 20u);
  for (const auto& [case_id, events] : durable) {
    EXPECT_EQ(events, (std::vector<int>{0, 1, 2, 3})) << case_id;  // once each, in order
  }
  EXPECT_EQ(handled["ev-3-1"], 2);  // handled again after its append failed
  EXPECT_EQ(loop.stats().retries, 1);
  EXPECT_GT(handled_while_outstanding, 0);  // the batch did not wait record by record
  EXPECT_EQ(overlapping_a_case, 0);
  for (const auto& [id, calls] : handled) {
    // Only the failed record and the records after it in its batch were handled twice.
    EXPECT_LE(calls, 2) << id;
  }

  // What was durable was committed: the next member sees only what comes after.
  Envelope e = NewEnvelope("MP-1", "test", absl::Now());
  e.mutable_case_closed();
  Finish(e, "ev-late");
  ASSERT_TRUE(producer_->Send(ToRecord("acked", e), absl::Now() + absl::Seconds(10)).ok());
  std::vector<std::string> second;
  EventConsumer next(consumer(),
                     [&](const Envelope& e, const kafka::Record&) {
                       second.push_back(e.event_id());
                       return absl::OkStatus();
                     },
                     nullptr, "", {.lanes = 2});
  next.Start();
  ASSERT_TRUE(WaitFor([&] { return next.stats().handled == 1; }));
  next.Stop();
  EXPECT_EQ(second, (std::vector<std::string>{"ev-late"}));
}

// Acks: OK once every tracked record is acknowledged; the first error; UNAVAILABLE at the deadline.
TEST(Acks, WaitsForEveryRecordAndSaysWhatFailed) {
  Acks ok;
  kafka::DeliveryCallback done = ok.Track();
  std::thread later([&] {
    absl::SleepFor(absl::Milliseconds(20));
    done(kafka::Delivered{0, 1});
  });
  EXPECT_TRUE(ok.Wait(absl::Now() + absl::Seconds(10)).ok());
  later.join();

  Acks failed;
  failed.Track()(absl::UnavailableError("broker gone"));
  EXPECT_EQ(failed.Wait(absl::Now() + absl::Seconds(10)).code(), absl::StatusCode::kUnavailable);

  Acks refused;
  refused.Refused(absl::ResourceExhaustedError("queue full"));
  EXPECT_EQ(refused.Wait(absl::Now() + absl::Seconds(1)).code(),
            absl::StatusCode::kResourceExhausted);

  Acks never;
  kafka::DeliveryCallback hang = never.Track();
  EXPECT_EQ(never.Wait(absl::Now() + absl::Milliseconds(50)).code(),
            absl::StatusCode::kUnavailable);
  hang(kafka::Delivered{0, 2});  // after the wait gave up: harmless
}

// The series `name`{group} in `registry`: a counter's or a gauge's value, or a histogram's sample
// count and sum; nullopt when there is none.
std::optional<std::pair<double, double>> Series(prometheus::Registry& registry,
                                                const std::string& name, const std::string& group) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      for (const auto& label : metric.label) {
        if (label.name != "group" || label.value != group) continue;
        switch (family.type) {
          case prometheus::MetricType::Histogram:
            return std::make_pair(static_cast<double>(metric.histogram.sample_count),
                                  metric.histogram.sample_sum);
          case prometheus::MetricType::Gauge:
            return std::make_pair(metric.gauge.value, 0.0);
          default:
            return std::make_pair(metric.counter.value, 0.0);
        }
      }
    }
  }
  return std::nullopt;
}

// meldpunt_kafka_consumer_lag{group}, or -1 when the registry does not have the series.
double LagGauge(prometheus::Registry& registry, const std::string& group) {
  const auto lag = Series(registry, "meldpunt_kafka_consumer_lag", group);
  return lag ? lag->first : -1;
}

TEST_F(EventConsumerTest, ExportsTheLagOfItsGroupWhileBehindAndNoneOnceCaughtUpOrStopped) {
  for (int i = 0; i < 60; ++i) Append(absl::StrCat("MP-", i), absl::StrCat("ev-", i));
  prometheus::Registry registry;
  std::mutex mu;
  std::set<std::string> handled;
  // Handles slowly until `fast` is notified, so the loop samples the lag (once a second) while
  // records wait.
  auto handler = [&](absl::Notification& fast) {
    return [&](const Envelope& e, const kafka::Record&) {
      if (!fast.HasBeenNotified()) absl::SleepFor(absl::Milliseconds(50));
      std::lock_guard<std::mutex> lock(mu);
      handled.insert(e.event_id());
      return absl::OkStatus();
    };
  };
  auto handled_count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return handled.size();
  };

  absl::Notification never;
  {
    EventConsumer slow(NewConsumer(), handler(never), &registry, "loop");
    EXPECT_EQ(LagGauge(registry, "loop"), 0);
    slow.Start();
    EXPECT_TRUE(WaitFor([&] { return LagGauge(registry, "loop") > 0; }));
    EXPECT_LT(LagGauge(registry, "loop"), 60);  // some are handled by the time it samples
    slow.Stop();
    // A stopped loop holds no partitions.
    EXPECT_EQ(LagGauge(registry, "loop"), 0);
  }
  ASSERT_LT(handled_count(), 60u);

  // The next member (lanes this time) takes over what was left, and its lag falls to 0.
  absl::Notification fast;
  EventConsumer next(NewConsumer(), handler(fast), &registry, "loop", {.lanes = 2});
  next.Start();
  // Not asserted here that its lag shows above 0 first: the loop samples between batches, and a
  // first batch that blocks from the start may leave no sample before it (a stale gauge while a
  // batch is held up; see libs/kafka/README.md).
  fast.Notify();
  EXPECT_TRUE(WaitFor([&] { return handled_count() == 60 && LagGauge(registry, "loop") == 0; }))
      << handled_count() << " handled, lag " << LagGauge(registry, "loop");
  next.Stop();
  EXPECT_EQ(LagGauge(registry, "loop"), 0);
}

TEST_F(EventConsumerTest, ExportsTheRecordsOfEachPollAndTheRunsItsHandlerWasGiven) {
  for (int i = 0; i < 40; ++i) Append(absl::StrCat("MP-b", i), absl::StrCat("ev-b", i));
  prometheus::Registry registry;
  std::atomic<int> calls{0};
  std::atomic<int> records{0};
  EventConsumer loop(NewConsumer(), BatchHandler([&](Batch& batch) {
                       calls.fetch_add(1);
                       records.fetch_add(static_cast<int>(batch.size()));
                     }),
                     &registry, "batches", {.lanes = 2});
  loop.Start();
  ASSERT_TRUE(WaitFor([&] { return loop.stats().handled == 40; }));
  loop.Stop();
  const auto polls = Series(registry, "meldpunt_events_batch_records", "batches");
  ASSERT_TRUE(polls.has_value());
  EXPECT_GE(polls->first, 1);  // polls
  EXPECT_LE(polls->first, 40);
  EXPECT_EQ(polls->second, 40);  // every record in one poll's count
  const auto runs = Series(registry, "meldpunt_events_runs_total", "batches");
  ASSERT_TRUE(runs.has_value());
  EXPECT_EQ(runs->first, calls.load());
  EXPECT_EQ(records.load(), 40);
}

TEST(AddTraceHeader, AddsTheCorrelationIdAfterTheOtherHeadersOnce) {
  Envelope e = NewEnvelope("MP-1", "test", absl::Now());
  e.mutable_case_closed();
  Finish(e, "ev-1");
  kafka::Message record = ToRecord("events", e);
  const auto without = record.headers;
  AddTraceHeader(e, record.headers);
  EXPECT_EQ(record.headers, without);  // no correlation_id: no header

  e.set_correlation_id("trace-1");
  record = ToRecord("events", e);
  AddTraceHeader(e, record.headers);
  AddTraceHeader(e, record.headers);  // idempotent
  auto expected = without;
  expected.emplace_back("trace-id", "trace-1");
  EXPECT_EQ(record.headers, expected);
}

TEST_F(EventConsumerTest, AProducedRecordCarriesTheTraceIdHeader) {
  Envelope e = NewEnvelope("MP-1", "test", absl::Now());
  e.mutable_case_closed();
  e.set_correlation_id("4bf92f3577b34da6a3ce929d0e0e4736");
  Finish(e, "ev-traced");
  kafka::Message record = ToRecord("events", e);
  AddTraceHeader(e, record.headers);
  ASSERT_TRUE(producer_->Send(record, absl::Now() + absl::Seconds(10)).ok());

  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> headers;
  EventConsumer loop(NewConsumer(), [&](const Envelope&, const kafka::Record& r) {
    std::lock_guard<std::mutex> lock(mu);
    headers = r.headers;
    return absl::OkStatus();
  });
  loop.Start();
  ASSERT_TRUE(WaitFor([&] { return loop.stats().handled == 1; }));
  loop.Stop();
  EXPECT_EQ(headers, (std::vector<std::pair<std::string, std::string>>{
                         {"event-id", "ev-traced"},
                         {"event-type", "CaseClosed"},
                         {"trace-id", "4bf92f3577b34da6a3ce929d0e0e4736"}}));
}

}  // namespace
}  // namespace meldpunt::events
