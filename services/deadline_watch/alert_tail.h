// The alert stream's reader: follows every partition of meldpunt.case-events.v1 from the end,
// whichever this replica owns, and publishes each warning, breach or escalation it reads to the
// AlertHub (the WatchDeadlines streams), so a dashboard connected to any replica sees every
// alert. Nothing is committed: a group per process, from the end.
//
//   AlertTail tail(AlertTail::FromConsumer(std::move(consumer)), hub);
//   tail.Start();
//   bool ready = tail.assigned();  // a stream opened from now on misses nothing
//   tail.Stop();
//
// Owns one thread, the reader; the source is used by that thread only (and closed by Stop).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/kafka/consumer.h"
#include "services/deadline_watch/alert_hub.h"

namespace meldpunt::deadline {

class AlertTail {
 public:
  // What the tail reads: a Kafka consumer of every partition from the end (FromConsumer), a list
  // of records in a test.
  class Source {
   public:
    virtual ~Source() = default;
    // The next record, or none within `timeout`.
    virtual absl::StatusOr<std::optional<kafka::Record>> Poll(absl::Duration timeout) = 0;
    // Partitions are assigned: the source follows the log.
    virtual bool Assigned() = 0;
    virtual void Close() = 0;
  };
  static std::unique_ptr<Source> FromConsumer(std::unique_ptr<kafka::Consumer> consumer);

  // `error_backoff`: the wait after a failed poll.
  AlertTail(std::unique_ptr<Source> source, AlertHub& hub,
            absl::Duration error_backoff = absl::Seconds(1))
      : source_(std::move(source)), hub_(hub), error_backoff_(error_backoff) {}
  ~AlertTail() { Stop(); }

  void Start();
  // Joins the reader (within a poll, 200 ms) and closes the source. Once.
  void Stop();
  // The source held its partitions at a poll: the stream follows the log.
  bool assigned() const { return assigned_.load(); }

  // One poll: what the reader does again and again (tests call it directly).
  void PollOnce();

 private:
  std::unique_ptr<Source> source_;
  AlertHub& hub_;
  const absl::Duration error_backoff_;
  std::atomic<bool> assigned_{false};
  std::atomic<bool> stop_{false};
  bool closed_ = false;
  std::thread thread_;
};

}  // namespace meldpunt::deadline
