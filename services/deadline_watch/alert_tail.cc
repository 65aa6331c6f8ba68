#include "services/deadline_watch/alert_tail.h"

#include "absl/time/clock.h"
#include "libs/observability/log.h"
#include "libs/observability/thread_name.h"

namespace meldpunt::deadline {

namespace {

class ConsumerSource final : public AlertTail::Source {
 public:
  explicit ConsumerSource(std::unique_ptr<kafka::Consumer> consumer)
      : consumer_(std::move(consumer)) {}
  absl::StatusOr<std::optional<kafka::Record>> Poll(absl::Duration timeout) override {
    return consumer_->Poll(timeout);
  }
  bool Assigned() override { return !consumer_->Assignment().empty(); }
  void Close() override { consumer_->Close(); }

 private:
  std::unique_ptr<kafka::Consumer> consumer_;
};

}  // namespace

std::unique_ptr<AlertTail::Source> AlertTail::FromConsumer(
    std::unique_ptr<kafka::Consumer> consumer) {
  return std::make_unique<ConsumerSource>(std::move(consumer));
}

void AlertTail::Start() {
  thread_ = std::thread([this] {
    observability::NameThread("mp-alert-tail");
    while (!stop_.load()) PollOnce();
  });
}

void AlertTail::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (!closed_ && source_) {
    closed_ = true;
    source_->Close();
  }
}

void AlertTail::PollOnce() {
  absl::StatusOr<std::optional<kafka::Record>> record = source_->Poll(absl::Milliseconds(200));
  if (!record.ok()) {
    log::Warning("alert stream consumer failed", {{"error", record.status().ToString()}});
    absl::SleepFor(error_backoff_);
    return;
  }
  if (!assigned_.load() && source_->Assigned()) assigned_ = true;
  if (!record->has_value()) return;
  absl::StatusOr<events::Envelope> envelope = events::Decode((*record)->value);
  if (!envelope.ok()) return;
  if (std::optional<v1::DeadlineAlert> alert = AlertFor(*envelope)) hub_.Publish(*alert);
}

}  // namespace meldpunt::deadline
