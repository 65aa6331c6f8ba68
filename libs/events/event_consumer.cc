#include "libs/events/event_consumer.h"

#include "absl/time/clock.h"
#include "libs/observability/log.h"

namespace meldpunt::events {

EventConsumer::EventConsumer(std::unique_ptr<kafka::Consumer> consumer, EventHandler handler,
                             prometheus::Registry* registry, const std::string& group)
    : consumer_(std::move(consumer)), handler_(std::move(handler)) {
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
  thread_ = std::thread([this] { Run(); });
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
    absl::StatusOr<Envelope> envelope = Decode(record.value);
    absl::Status status = envelope.ok() ? absl::OkStatus() : envelope.status();
    absl::Duration backoff = absl::Milliseconds(100);
    // A record polled just as Stop() came is left unhandled and uncommitted: committing it
    // without handling would lose it (the next owner starts after the committed offset).
    if (envelope.ok() && stop_.load()) return;
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
    if (stop_.load() && !status.ok() && IsRetriable(status))
      return;  // not handled: the next owner will
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
    if (absl::Status commit = consumer_->Commit(record); !commit.ok()) {
      log::Warning("offset commit failed", {{"error", commit.ToString()}});
    }
  }
}

}  // namespace meldpunt::events
