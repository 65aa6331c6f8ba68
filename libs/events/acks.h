// The acknowledgements of records a handler appended, and who waits for them.
//
//   events::Acks acks;
//   RETURN_IF_ERROR(acks.Send(producer, record));
//   return events::AwaitAcks(std::move(acks), absl::Now() + timeout,
//                            [&] { return store.Save(...); });  // after the records are durable
//
// Outside an EventConsumer lane AwaitAcks waits at once and then runs `then`. A handler called by
// an EventConsumer with lanes leaves both to its lane: the lane handles its next records while the
// broker acknowledges, and before it commits (or handles another record of the same case) it
// waits for every acknowledgement and runs every `then`, in record order. A record whose
// acknowledgement or `then` failed is handled again, with the records after it: handlers give
// the same records (the same event ids) when they see an event again, so nothing is lost and
// consumers drop what comes twice. One wait for many records instead of one per record.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/kafka/producer.h"

namespace meldpunt::events {

class Acks {
 public:
  Acks();
  // Sends the record (Producer::SendAsync) and tracks its acknowledgement; a refused enqueue is
  // returned, and Wait returns it too.
  absl::Status Send(kafka::Producer& producer, const kafka::Message& message);
  // The delivery callback of one SendAsync; call it once per record sent.
  kafka::DeliveryCallback Track();
  // A record that could not be enqueued (SendAsync refused it): Wait returns this error.
  void Refused(const absl::Status& status);
  // Every tracked record acknowledged: OK; the first error; UNAVAILABLE at `deadline`.
  absl::Status Wait(absl::Time deadline) const;

 private:
  struct State {
    absl::Mutex mu;
    int64_t left ABSL_GUARDED_BY(mu) = 0;
    absl::Status error ABSL_GUARDED_BY(mu);
  };
  std::shared_ptr<State> state_;
};

using AfterAcks = std::function<absl::Status()>;

// Waits for `acks` until `deadline` and then runs `then` (when set), or inside an EventConsumer
// lane leaves both to the lane (see above) and returns OK.
absl::Status AwaitAcks(Acks acks, absl::Time deadline, AfterAcks then = nullptr);

namespace internal {

// What a lane defers while it handles a run of records (EventConsumer; one per lane thread).
class DeferredAcks {
 public:
  // Makes this the current thread's target of AwaitAcks until Wait or destruction.
  DeferredAcks();
  ~DeferredAcks();
  DeferredAcks(const DeferredAcks&) = delete;
  DeferredAcks& operator=(const DeferredAcks&) = delete;

  // The record being handled now: its index in the lane's run, and its key, which must outlive
  // this object (the lane's records do).
  void At(size_t index, absl::string_view key);
  // Whether a deferred wait belongs to a record with this key.
  bool Holds(absl::string_view key) const;
  bool empty() const { return entries_.empty(); }
  // Waits for every deferred acknowledgement and runs every `then`, in record order, and forgets
  // them all. nullopt: all done; else the index of the first record that failed (its error in
  // `error`): that record and the ones after it must be handled again.
  std::optional<size_t> Wait(absl::Status* error);

  void Add(Acks acks, absl::Time deadline, AfterAcks then);
  static DeferredAcks* Current();

 private:
  struct Entry {
    size_t index;
    absl::string_view key;
    Acks acks;
    absl::Time deadline;
    AfterAcks then;
  };
  std::vector<Entry> entries_;
  size_t index_ = 0;
  absl::string_view key_;
};

}  // namespace internal
}  // namespace meldpunt::events
