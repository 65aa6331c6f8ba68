// The live consumer of the case log, as a rebuild stops it and starts a new one: the intake's
// projection and deadline-watch's clocks stop folding while the state is cleared and replayed,
// then follow the log again with a fresh consumer of the same group.
//
//   service::ConsumerSlot consumer([&] { return MakeLoop(); });  // a new EventConsumer
//   RETURN_IF_ERROR(consumer.Start());
//   bool ready = consumer.Ready();  // running and holding its partitions
#pragma once

#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/events/event_consumer.h"

namespace meldpunt::service {

// What a rebuild needs of the live consumer: stopped before the state is cleared, started again
// after. A fake in a rebuild's unit test.
class LiveConsumer {
 public:
  virtual ~LiveConsumer() = default;
  // Makes a new consumer and starts it.
  virtual absl::Status Start() = 0;
  // Stops the consumer (its lanes drained, what it handled committed) and drops it. No-op when
  // none runs.
  virtual void Stop() = 0;
};

// Holds the one EventConsumer at a time; a mutex guards the slot (held while a consumer is
// replaced, so Ready waits for that). The consumer's own threads are EventConsumer's.
class ConsumerSlot final : public LiveConsumer {
 public:
  using Make = std::function<absl::StatusOr<std::unique_ptr<events::EventConsumer>>()>;
  explicit ConsumerSlot(Make make) : make_(std::move(make)) {}
  ~ConsumerSlot() override { Stop(); }

  absl::Status Start() override;
  void Stop() override;
  // A consumer runs and the group gave it its partitions.
  bool Ready() const;
  // Waits until `deadline` for the consumer to hold its partitions; true when it does, or when
  // none runs (nothing to wait for).
  bool AwaitJoined(absl::Time deadline) const;

 private:
  Make make_;
  mutable absl::Mutex mu_;
  std::unique_ptr<events::EventConsumer> consumer_ ABSL_GUARDED_BY(mu_);
};

}  // namespace meldpunt::service
