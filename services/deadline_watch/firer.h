// The firing path shared by the service and its benchmark: claim a page of due timers, append
// their events to the case log (all in flight at once, then wait for every acknowledgement),
// then complete the timers; page after page until nothing is due.
//
//   ASSIGN_OR_RETURN(int fired, FireDue(logic, producer, partition, options, observe));
#pragma once

#include <atomic>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/events/acks.h"
#include "libs/events/codec.h"
#include "libs/kafka/producer.h"
#include "libs/service/record_sink.h"
#include "services/deadline_watch/deadline_logic.h"

namespace meldpunt::deadline {

// Appends the events to meldpunt.case-events.v1 and waits until the broker acknowledged every
// one (UNAVAILABLE after `timeout`).
absl::Status AppendAll(service::RecordSink& sink, const std::vector<events::Envelope>& envelopes,
                       absl::Duration timeout);
absl::Status AppendAll(kafka::Producer& producer, const std::vector<events::Envelope>& envelopes,
                       absl::Duration timeout);
// Sends the events, all in flight at once; the caller waits on what it returns.
events::Acks Send(service::RecordSink& sink, const std::vector<events::Envelope>& envelopes);

struct FireOptions {
  absl::Duration produce_timeout = absl::Seconds(10);
  int claim_limit = 500;
  int max_pages = 1000;
  const std::atomic<bool>* stop = nullptr;
};

// Told of every timer whose event is durable, with the time its append was acknowledged.
using FiredObserver = std::function<void(const Firing& firing, absl::Time appended)>;

// Fires what is due in one partition; returns the events appended.
absl::StatusOr<int> FireDue(DeadlineLogic& logic, service::RecordSink& sink, int32_t partition,
                            const FireOptions& options, const FiredObserver& observe);
absl::StatusOr<int> FireDue(DeadlineLogic& logic, kafka::Producer& producer, int32_t partition,
                            const FireOptions& options, const FiredObserver& observe);

}  // namespace meldpunt::deadline
