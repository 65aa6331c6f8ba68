// What deadline-watch does with a case event read from the log (and with a dead letter's
// replay): DeadlineLogic applies it to the case's clocks, and the clock events it gives
// (ClocksStarted, ClockPaused, ...) are appended before the event is committed: a crash in between
// handles the event again, which gives the same clock events (same ids) again. Also appends the
// team's clock changes for the gRPC service.
//
//   DeadlineHandler handler(logic, rebuild, sink, metrics, config.produce_timeout);
//   EventConsumer loop(..., events::BatchHandler([&](events::Batch& b) { handler.Handle(b); }),
//                      ..., {.one_record_per_case = true});
//
// Safe to call from several consumer lanes at once (DeadlineLogic is, per case). A batch reads
// the records of its cases in one Redis round trip and writes what its records changed in one
// more (BufferedTimerStore); then the clock events of every record are in flight at once and the
// batch waits once for all.
#pragma once

#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/events/batch.h"
#include "libs/events/codec.h"
#include "libs/kafka/consumer.h"
#include "libs/service/record_sink.h"
#include "services/deadline_watch/deadline_logic.h"
#include "services/deadline_watch/metrics.h"
#include "services/deadline_watch/timer_rebuild.h"

namespace meldpunt::deadline {

class DeadlineHandler {
 public:
  DeadlineHandler(DeadlineLogic& logic, const TimerRebuild& rebuild, service::RecordSink& sink,
                  DeadlineMetrics& metrics, absl::Duration produce_timeout)
      : logic_(logic),
        rebuild_(rebuild),
        sink_(sink),
        metrics_(metrics),
        produce_timeout_(produce_timeout) {}

  // UNAVAILABLE in place while another replica rebuilds the timers: handled now, the event could
  // reach a case the replay has not rebuilt yet.
  // Given `batch`, the clock events are left in flight for the batch to wait for, as item
  // `index`; without, Handle waits for them itself.
  absl::Status Handle(const events::Envelope& envelope, const kafka::Record& record,
                      events::Batch* batch = nullptr, size_t index = 0);
  // The consumer's batch handler: each record in order; the first that fails ends the batch.
  void Handle(events::Batch& batch);
  // Appends events to the case log and waits until every one is acknowledged; counted by type.
  absl::Status Append(const std::vector<events::Envelope>& envelopes);

 private:
  DeadlineLogic& logic_;
  const TimerRebuild& rebuild_;
  service::RecordSink& sink_;
  DeadlineMetrics& metrics_;
  const absl::Duration produce_timeout_;
};

}  // namespace meldpunt::deadline
