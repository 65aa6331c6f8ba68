// The acknowledgements of records a handler sent, and one wait for all of them.
//
//   events::Acks acks;
//   RETURN_IF_ERROR(acks.Send(producer, record));
//   RETURN_IF_ERROR(acks.Wait(absl::Now() + timeout));  // or batch.Await(i, std::move(acks), then)
//
// A batch handler leaves the wait to its batch (libs/events/batch.h): one wait for the lane's run
// of records instead of one per record.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
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

// What must happen only once a record's acknowledgements are in (Batch::After, Batch::Await).
using AfterAcks = std::function<absl::Status()>;

}  // namespace meldpunt::events
