#include "libs/events/event_consumer.h"

#include <algorithm>
#include <cstddef>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "libs/events/dead_letters.h"
#include "libs/events/lane_runs.h"
#include "libs/observability/log.h"
#include "libs/observability/thread_name.h"
#include "libs/status/retry.h"

namespace meldpunt::events {

EventConsumer::EventConsumer(std::unique_ptr<kafka::Consumer> consumer, BatchHandler handler,
                             prometheus::Registry* registry, const std::string& group,
                             EventConsumerOptions options)
    : EventConsumer(std::move(consumer), EventHandler(), registry, group, options) {
  batch_handler_ = std::move(handler);
}

EventConsumer::EventConsumer(std::unique_ptr<kafka::Consumer> consumer, EventHandler handler,
                             prometheus::Registry* registry, const std::string& group,
                             EventConsumerOptions options)
    : consumer_(std::move(consumer)), handler_(std::move(handler)), options_(options) {
  if (registry != nullptr) {
    auto& family =
        prometheus::BuildCounter()
            .Name("meldpunt_events_consumed_total")
            .Help("Case events taken from the log, by outcome (handled, dead_lettered, retried)")
            .Register(*registry);
    handled_metric_ = &family.Add({{"group", group}, {"outcome", "handled"}});
    dead_lettered_metric_ = &family.Add({{"group", group}, {"outcome", "dead_lettered"}});
    retried_metric_ = &family.Add({{"group", group}, {"outcome", "retried"}});
    lag_metric_ = &prometheus::BuildGauge()
                       .Name("meldpunt_kafka_consumer_lag")
                       .Help(
                           "Records behind the end of the log on the partitions this replica "
                           "holds, by consumer group")
                       .Register(*registry)
                       .Add({{"group", group}});
    batch_metric_ = &prometheus::BuildHistogram()
                         .Name("meldpunt_events_batch_records")
                         .Help(
                             "Records a poll of the case-event loop took at once (what the broker "
                             "had fetched), by consumer group")
                         .Register(*registry)
                         .Add({{"group", group}}, prometheus::Histogram::BucketBoundaries{
                                                      1, 2, 4, 8, 16, 32, 64, 128, 256, 512});
    runs_metric_ = &prometheus::BuildCounter()
                        .Name("meldpunt_events_runs_total")
                        .Help(
                            "Runs of records handed to a batch handler at once, each with its own "
                            "Redis round trips and one wait for its acknowledgements, by consumer "
                            "group")
                        .Register(*registry)
                        .Add({{"group", group}});
  }
}

EventConsumer::~EventConsumer() { Stop(); }

void EventConsumer::Start() {
  running_ = true;
  for (int i = 1; i < options_.lanes; ++i) {
    lane_threads_.emplace_back([this] {
      observability::NameThread("mp-lane");
      while (true) {
        size_t lane = 0;
        const std::function<void(size_t)>* run = nullptr;
        {
          absl::MutexLock lock(&work_.mu);
          work_.mu.Await(absl::Condition(
              +[](LaneWork* w)
                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu) { return w->quit || !w->pending.empty(); },
              &work_));
          if (work_.quit) return;
          lane = work_.pending.back();
          work_.pending.pop_back();
          run = work_.run;
          ++work_.busy;
        }
        (*run)(lane);
        absl::MutexLock lock(&work_.mu);
        --work_.busy;
      }
    });
  }
  thread_ = std::thread([this] {
    observability::NameThread("mp-consume");
    if (options_.lanes > 1 || batch_handler_) {
      RunLanes();
    } else {
      Run();
    }
  });
}

void EventConsumer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  {
    absl::MutexLock lock(&work_.mu);
    work_.quit = true;
  }
  for (std::thread& t : lane_threads_) t.join();
  lane_threads_.clear();
  if (consumer_) consumer_->Close();
  // A stopped loop holds no partitions: its share of the group's lag goes with it.
  if (lag_metric_ != nullptr) lag_metric_->Decrement(static_cast<double>(lag_reported_));
  lag_reported_ = 0;
  running_ = false;
}

void EventConsumer::MaybeReportLag() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_lag_sample_) return;
  next_lag_sample_ = now + std::chrono::seconds(1);
  const int64_t lag = consumer_->Lag();
  lag_metric_->Increment(static_cast<double>(lag - lag_reported_));
  lag_reported_ = lag;
}

std::optional<std::optional<kafka::Record>> EventConsumer::PollNext() {
  if (lag_metric_ != nullptr) MaybeReportLag();
  absl::StatusOr<std::optional<kafka::Record>> polled = consumer_->Poll(absl::Milliseconds(200));
  if (polled.ok()) return *std::move(polled);
  log::Error("event consumer stopped on a fatal Kafka error",
             {{"error", polled.status().ToString()}});
  running_ = false;
  return std::nullopt;
}

void EventConsumer::Run() {
  while (!stop_.load()) {
    std::optional<std::optional<kafka::Record>> polled = PollNext();
    if (!polled) return;
    if (!polled->has_value()) continue;
    const kafka::Record& record = **polled;
    // Not handled (or not durably): the next owner will.
    if (!HandleDurably([&] { return Process(record); })) return;
    if (absl::Status commit = consumer_->Commit(record); !commit.ok()) {
      log::Warning("offset commit failed", {{"error", commit.ToString()}});
    }
  }
}

void EventConsumer::RunLanes() {
  const size_t lanes = static_cast<size_t>(std::max(1, options_.lanes));
  while (!stop_.load()) {
    std::optional<std::optional<kafka::Record>> polled = PollNext();
    if (!polled) return;
    if (!polled->has_value()) continue;
    // What the consumer already holds joins the batch; nothing waits for more.
    const int64_t generation = consumer_->rebalances();
    std::vector<kafka::Record> batch;
    batch.push_back(*std::move(*polled));
    while (batch.size() < static_cast<size_t>(options_.max_batch)) {
      absl::StatusOr<std::optional<kafka::Record>> more = consumer_->Poll(absl::ZeroDuration());
      if (!more.ok() || !more->has_value()) break;
      batch.push_back(*std::move(*more));
    }
    // A rebalance inside those polls may have taken partitions away: their records are the next
    // owner's now, and handling them here would race with it.
    const bool moved = consumer_->rebalances() != generation;
    if (batch_metric_ != nullptr) batch_metric_->Observe(static_cast<double>(batch.size()));
    const std::vector<kafka::TopicPartition> owned =
        moved ? consumer_->Assignment() : std::vector<kafka::TopicPartition>();
    // One lane for every lane_min_records records: a lane's run costs its round trips and its
    // wait whatever it holds, so a small batch goes to one lane, whose runs take its partitions
    // side by side (LaneRuns). Also when a case is taken once per run (one_record_per_case): a
    // partition cut at a case's second record goes on in the lane's next run, once the first
    // run's acknowledgements are in, as it would on a lane of its own.
    const size_t spread = std::clamp<size_t>(
        batch.size() / static_cast<size_t>(std::max(1, options_.lane_min_records)), 1, lanes);
    std::vector<std::vector<kafka::Record>> by_lane(spread);
    for (kafka::Record& record : batch) {
      if (moved &&
          std::find(owned.begin(), owned.end(),
                    kafka::TopicPartition{record.topic, record.partition}) == owned.end()) {
        continue;
      }
      by_lane[static_cast<size_t>(record.partition) % spread].push_back(std::move(record));
    }
    // Each lane handles each partition's records in order and stops at the first one Stop() left
    // unhandled; done[lane][i] says whether its record i is finished (handled or set aside for
    // good), a prefix of each partition.
    std::vector<std::vector<char>> done(spread);
    auto run_lane = [&](size_t lane) {
      if (batch_handler_) {
        done[lane] = RunBatchLane(by_lane[lane]);
        return;
      }
      const size_t finished = RunLane(by_lane[lane]);
      done[lane].assign(by_lane[lane].size(), 0);
      std::fill(done[lane].begin(), done[lane].begin() + static_cast<ptrdiff_t>(finished), 1);
    };
    std::vector<size_t> busy_lanes;
    for (size_t lane = 0; lane < spread; ++lane) {
      if (!by_lane[lane].empty()) busy_lanes.push_back(lane);
    }
    const bool durable = HandleDurably([&] {
      RunOnLanes(busy_lanes, run_lane);
      return true;
    });
    if (!durable) return;  // Stop() came before the writes were durable: nothing is committed
    // A lane finished a prefix of each partition's records: each partition is committed up to
    // its last record in that prefix.
    std::map<std::pair<std::string, int32_t>, const kafka::Record*> last;
    bool all_done = true;
    for (size_t lane = 0; lane < spread; ++lane) {
      for (size_t i = 0; i < by_lane[lane].size(); ++i) {
        if (!done[lane][i]) {
          all_done = false;
          continue;
        }
        const kafka::Record& record = by_lane[lane][i];
        last[{record.topic, record.partition}] = &record;
      }
    }
    for (const auto& [key, record] : last) {
      if (absl::Status commit = consumer_->Commit(*record); !commit.ok()) {
        log::Warning("offset commit failed", {{"error", commit.ToString()}});
      }
    }
    if (!all_done) return;  // Stop() came: the rest is the next owner's
  }
}

bool EventConsumer::HandleDurably(const std::function<bool()>& handle) {
  Durability* durability = options_.durability;
  int64_t mark = durability != nullptr ? durability->Mark() : 0;
  if (!handle()) return false;
  if (durability == nullptr) return true;
  absl::Duration backoff = absl::Milliseconds(100);
  while (true) {
    absl::Status confirmed = durability->Confirm(mark);
    if (confirmed.ok()) return true;
    log::Warning("the writes of handled records are not durable yet; handling them again",
                 {{"error", confirmed.ToString()}});
    stats_.retries.fetch_add(1);
    if (retried_metric_ != nullptr) retried_metric_->Increment();
    const absl::Time until = absl::Now() + backoff;
    while (absl::Now() < until) {
      if (stop_.load()) return false;
      absl::SleepFor(absl::Milliseconds(20));
    }
    backoff = std::min(backoff * 2, absl::Seconds(5));
    mark = durability->Mark();
    if (!handle()) return false;
  }
}

size_t EventConsumer::RunLane(const std::vector<kafka::Record>& records) {
  for (size_t i = 0; i < records.size(); ++i) {
    if (!Process(records[i])) return i;  // Stop() came: the rest is the next owner's
  }
  return records.size();
}

std::vector<char> EventConsumer::RunBatchLane(const std::vector<kafka::Record>& records) {
  LaneRuns runs(records, options_.one_record_per_case);
  size_t last_failed = records.size();  // the record that failed last, and how often
  int failed_attempts = 0;
  absl::Duration backoff = absl::Milliseconds(100);
  auto done = [&] { return runs.done_flags(); };
  while (!runs.finished()) {
    if (stop_.load()) return done();  // the next owner handles the rest
    // From every partition its next records, each up to the next one that does not decode,
    // which no handler can use: that one is set aside once it comes first in its partition.
    std::vector<Batch::Item> items;
    std::vector<std::pair<size_t, absl::Status>> undecodable;
    // One record decoded at a time: `inert` and then `take` ask of the same record, and the
    // second finds what the first decoded.
    std::optional<std::pair<size_t, absl::StatusOr<Envelope>>> decoded;
    auto decode = [&](size_t i) -> absl::StatusOr<Envelope>& {
      if (!decoded || decoded->first != i) decoded.emplace(i, Decode(records[i].value));
      return decoded->second;
    };
    std::function<bool(size_t)> inert;  // LaneRuns asks it only with one_record_per_case
    if (options_.inert) {
      inert = [&](size_t i) {
        // A record that does not decode is not inert: `take` sets it aside.
        const absl::StatusOr<Envelope>& envelope = decode(i);
        return envelope.ok() && options_.inert(*envelope);
      };
    }
    const std::vector<size_t> run = runs.Next(
        [&](size_t i, bool head) {
          absl::StatusOr<Envelope>& envelope = decode(i);
          if (!envelope.ok()) {
            if (head) undecodable.emplace_back(i, envelope.status());
            return false;
          }
          items.push_back({&records[i], *std::move(envelope)});
          decoded.reset();
          return true;
        },
        inert);
    for (const auto& [i, error] : undecodable) {
      if (!SetAside(records[i], nullptr, error, 0, kCannotBeDecoded)) return done();
      runs.Done(i);
    }
    if (items.empty()) continue;
    Batch batch(std::move(items));
    if (runs_metric_ != nullptr) runs_metric_->Increment();
    batch_handler_(batch);
    absl::Status error;
    const std::optional<size_t> failed = batch.Finish(absl::Now() + options_.ack_timeout, &error);
    // The run is partition by partition, each in log order: what comes before the failed record
    // is done, and so is a prefix of each partition.
    const size_t handled = failed.value_or(batch.size());
    for (size_t k = 0; k < handled; ++k) runs.Done(run[k]);
    stats_.handled += static_cast<int64_t>(handled);
    if (handled_metric_) handled_metric_->Increment(static_cast<double>(handled));
    if (!failed) continue;
    const size_t at = run[*failed];
    if (stop_.load()) return done();
    const status::Retry retry = status::RetryOf(error);
    if (at == last_failed) {
      ++failed_attempts;
    } else {
      last_failed = at;
      failed_attempts = 1;
    }
    if (retry == status::Retry::kGiveUp ||
        (retry == status::Retry::kUnclassified && failed_attempts >= options_.max_attempts)) {
      if (!SetAside(records[at], &batch.envelope(*failed), error, failed_attempts,
                    retry == status::Retry::kGiveUp ? kCannotBeRetried : kFailedAfterRetries)) {
        return done();
      }
      runs.Done(at);
      continue;
    }
    stats_.retries++;
    if (retried_metric_) retried_metric_->Increment();
    log::Warning("event handling failed, handling it again",
                 {{"topic", records[at].topic},
                  {"partition", records[at].partition},
                  {"offset", records[at].offset},
                  {"case_id", batch.envelope(*failed).case_id()},
                  {"event_id", batch.envelope(*failed).event_id()},
                  {"retry", status::RetryName(retry)},
                  {"attempt", failed_attempts},
                  {"error", error.ToString()}});
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
  return done();
}

void EventConsumer::RunOnLanes(const std::vector<size_t>& lanes,
                               const std::function<void(size_t)>& lane) {
  if (lanes.size() > 1) {
    absl::MutexLock lock(&work_.mu);
    work_.run = &lane;
    work_.pending.assign(lanes.begin() + 1, lanes.end());
  }
  if (!lanes.empty()) lane(lanes[0]);
  if (lanes.size() > 1) {
    // Take back what no lane thread picked up yet, then wait for the rest.
    while (true) {
      size_t mine = 0;
      {
        absl::MutexLock lock(&work_.mu);
        if (work_.pending.empty()) {
          work_.mu.Await(absl::Condition(
              +[](LaneWork* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu) {
                return w->pending.empty() && w->busy == 0;
              },
              &work_));
          work_.run = nullptr;
          return;
        }
        mine = work_.pending.back();
        work_.pending.pop_back();
      }
      lane(mine);
    }
  }
}

bool EventConsumer::Process(const kafka::Record& record) {
  absl::StatusOr<Envelope> envelope = Decode(record.value);
  // A record polled just as Stop() came is left unhandled and uncommitted: committing it
  // without handling would lose it (the next owner starts after the committed offset).
  if (stop_.load()) return false;
  if (!envelope.ok()) return SetAside(record, nullptr, envelope.status(), 0, kCannotBeDecoded);
  absl::Duration backoff = absl::Milliseconds(100);
  for (int attempts = 1;; ++attempts) {
    const absl::Status status = handler_(*envelope, record);
    if (status.ok()) {
      stats_.handled++;
      if (handled_metric_) handled_metric_->Increment();
      return true;
    }
    const status::Retry retry = status::RetryOf(status);
    if (retry == status::Retry::kGiveUp) {
      return SetAside(record, &*envelope, status, attempts, kCannotBeRetried);
    }
    if (retry == status::Retry::kUnclassified && attempts >= options_.max_attempts) {
      return SetAside(record, &*envelope, status, attempts, kFailedAfterRetries);
    }
    if (stop_.load()) return false;  // the next owner tries again
    stats_.retries++;
    if (retried_metric_) retried_metric_->Increment();
    log::Warning("event handling failed, retrying", {{"case_id", envelope->case_id()},
                                                     {"event_id", envelope->event_id()},
                                                     {"retry", status::RetryName(retry)},
                                                     {"attempt", attempts},
                                                     {"error", status.ToString()}});
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

bool EventConsumer::SetAside(const kafka::Record& record, const Envelope* envelope,
                             const absl::Status& error, int attempts, absl::string_view reason) {
  const std::string case_id = envelope != nullptr ? envelope->case_id() : record.key;
  if (options_.dead_letters == nullptr) {
    log::Error("event skipped (this loop has no dead-letter topic)",
               {{"topic", record.topic},
                {"partition", record.partition},
                {"offset", record.offset},
                {"case_id", case_id},
                {"reason", reason},
                {"error", error.ToString()}});
  } else {
    absl::Duration backoff = absl::Milliseconds(100);
    while (true) {
      absl::Status put = options_.dead_letters->Put(record, envelope, error, attempts, reason);
      if (put.ok()) break;
      if (stop_.load()) return false;
      log::Warning("setting an event aside failed, trying again",
                   {{"case_id", case_id}, {"error", put.ToString()}});
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(5));
    }
    log::Error("event set aside on the dead-letter topic",
               {{"topic", record.topic},
                {"partition", record.partition},
                {"offset", record.offset},
                {"case_id", case_id},
                {"event_id", envelope != nullptr ? envelope->event_id() : ""},
                {"reason", reason},
                {"attempts", attempts},
                {"error", error.ToString()}});
  }
  stats_.dead_lettered++;
  if (dead_lettered_metric_) dead_lettered_metric_->Increment();
  return true;
}

}  // namespace meldpunt::events
