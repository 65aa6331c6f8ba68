// What notification does with the case events the consumer reads: NotificationLogic puts the
// messages each one calls for in the outbox. A lane's run of records at once: what the letters of
// its cases need is read in one Redis round trip, and their records and messages are written at
// the end (BufferedDeliveryStore); a later event of a case in the run sees what an earlier one
// wrote. Every replica waits while the outbox is being rebuilt (OutboxGate).
//
//   NotificationHandler handler(logic, gate);
//   EventConsumer loop(..., events::BatchHandler([&](events::Batch& b) { handler.Handle(b); }));
//
// Safe to call from several consumer lanes at once (each batch has its own view; the logic is).
#pragma once

#include "absl/status/status.h"
#include "libs/events/batch.h"
#include "libs/events/codec.h"
#include "libs/kafka/consumer.h"
#include "services/notification/notification_logic.h"
#include "services/notification/outbox_rebuild.h"

namespace meldpunt::notification {

class NotificationHandler {
 public:
  NotificationHandler(NotificationLogic& logic, OutboxGate& gate) : logic_(logic), gate_(gate) {}

  // The consumer's batch handler. A record that fails ends the run there: what the records before
  // it wrote is written, and it comes again with the ones after it.
  void Handle(events::Batch& batch);
  // One record (a dead letter's replay), straight to the store.
  absl::Status Handle(const events::Envelope& envelope, const kafka::Record& record);

 private:
  NotificationLogic& logic_;
  OutboxGate& gate_;
};

}  // namespace meldpunt::notification
