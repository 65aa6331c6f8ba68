#include "libs/events/event_consumer.h"

#include <map>
#include <vector>

#include "absl/time/clock.h"
#include "libs/observability/log.h"

namespace meldpunt::events {

EventConsumer::EventConsumer(std::unique_ptr<kafka::Consumer> consumer, EventHandler handler,
                             prometheus::Registry* registry, const std::string& group,
                             EventConsumerOptions options)
    : consumer_(std::move(consumer)), handler_(std::move(handler)), options_(options) {
  if (registry != nullptr) {
    auto& family =
        prometheus::BuildCounter()
            .Name("meldpunt_events_consumed_total")
            .Help("Case events taken from the log, by outcome (handled, skipped, retried)")
            .Register(*registry);
    handled_metric_ = &family.Add({{"group", group}, {"outcome", "handled"}});
    skipped_metric_ = &family.Add({{"group", group}, {"outcome", "skipped"}});
    retried_metric_ = &family.Add({{"group", group}, {"outcome", "retried"}});
  }
}

EventConsumer::~EventConsumer() { Stop(); }

void EventConsumer::Start() {
  running_ = true;
  thread_ = std::thread([this] {
    if (options_.lanes > 1) {
      RunLanes();
    } else {
      Run();
    }
  });
}

void EventConsumer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (consumer_) consumer_->Close();
  running_ = false;
}

bool EventConsumer::IsRetriable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kUnknown:
      return true;
    default:
      return false;
  }
}

void EventConsumer::Run() {
  while (!stop_.load()) {
    absl::StatusOr<std::optional<kafka::Record>> polled = consumer_->Poll(absl::Milliseconds(200));
    if (!polled.ok()) {
      log::Error("event consumer stopped on a fatal Kafka error",
                 {{"error", polled.status().ToString()}});
      running_ = false;
      return;
    }
    if (!polled->has_value()) continue;
    const kafka::Record& record = **polled;
    if (!Process(record)) return;  // not handled: the next owner will
    if (absl::Status commit = consumer_->Commit(record); !commit.ok()) {
      log::Warning("offset commit failed", {{"error", commit.ToString()}});
    }
  }
}

void EventConsumer::RunLanes() {
  const size_t lanes = static_cast<size_t>(options_.lanes);
  while (!stop_.load()) {
    absl::StatusOr<std::optional<kafka::Record>> polled = consumer_->Poll(absl::Milliseconds(200));
    if (!polled.ok()) {
      log::Error("event consumer stopped on a fatal Kafka error",
                 {{"error", polled.status().ToString()}});
      running_ = false;
      return;
    }
    if (!polled->has_value()) continue;
    // What the consumer already holds joins the batch; nothing waits for more.
    std::vector<std::vector<kafka::Record>> by_lane(lanes);
    size_t taken = 1;
    by_lane[static_cast<size_t>((**polled).partition) % lanes].push_back(*std::move(*polled));
    while (taken < static_cast<size_t>(options_.max_batch)) {
      absl::StatusOr<std::optional<kafka::Record>> more = consumer_->Poll(absl::ZeroDuration());
      if (!more.ok() || !more->has_value()) break;
      by_lane[static_cast<size_t>((**more).partition) % lanes].push_back(*std::move(*more));
      ++taken;
    }
    // Each lane handles its records in order and stops at the first one Stop() left unhandled;
    // done[lane] counts the records it finished (handled or skipped for good).
    std::vector<size_t> done(lanes, 0);
    auto run_lane = [&](size_t lane) {
      for (const kafka::Record& record : by_lane[lane]) {
        if (!Process(record)) return;
        ++done[lane];
      }
    };
    std::vector<std::thread> helpers;
    size_t inline_lane = lanes;
    for (size_t lane = 0; lane < lanes; ++lane) {
      if (by_lane[lane].empty()) continue;
      if (inline_lane == lanes) {
        inline_lane = lane;
      } else {
        helpers.emplace_back(run_lane, lane);
      }
    }
    if (inline_lane < lanes) run_lane(inline_lane);
    for (std::thread& helper : helpers) helper.join();
    // A partition's records are committed up to the last one finished in order.
    std::map<std::pair<std::string, int32_t>, const kafka::Record*> last;
    bool all_done = true;
    for (size_t lane = 0; lane < lanes; ++lane) {
      if (done[lane] < by_lane[lane].size()) all_done = false;
      std::map<std::pair<std::string, int32_t>, bool> stopped;
      for (size_t i = 0; i < by_lane[lane].size(); ++i) {
        const kafka::Record& record = by_lane[lane][i];
        const auto key = std::make_pair(record.topic, record.partition);
        if (i >= done[lane]) stopped[key] = true;
        if (!stopped[key]) last[key] = &record;
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

bool EventConsumer::Process(const kafka::Record& record) {
  absl::StatusOr<Envelope> envelope = Decode(record.value);
  absl::Status status = envelope.ok() ? absl::OkStatus() : envelope.status();
  absl::Duration backoff = absl::Milliseconds(100);
  // A record polled just as Stop() came is left unhandled and uncommitted: committing it
  // without handling would lose it (the next owner starts after the committed offset).
  if (envelope.ok() && stop_.load()) return false;
  while (envelope.ok() && !stop_.load()) {
    status = handler_(*envelope, record);
    if (status.ok() || !IsRetriable(status)) break;
    stats_.retries++;
    if (retried_metric_) retried_metric_->Increment();
    log::Warning("event handling failed, retrying", {{"case_id", envelope->case_id()},
                                                     {"event_id", envelope->event_id()},
                                                     {"error", status.ToString()}});
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
  if (stop_.load() && !status.ok() && IsRetriable(status)) return false;
  if (status.ok()) {
    stats_.handled++;
    if (handled_metric_) handled_metric_->Increment();
  } else {
    stats_.skipped++;
    if (skipped_metric_) skipped_metric_->Increment();
    log::Error("event skipped", {{"topic", record.topic},
                                 {"partition", record.partition},
                                 {"offset", record.offset},
                                 {"case_id", envelope.ok() ? envelope->case_id() : record.key},
                                 {"error", status.ToString()}});
  }
  return true;
}

}  // namespace meldpunt::events
