// A lane's run of records for a batch handler (EventConsumer with a BatchHandler), and what
// handling them did, said explicitly instead of through a thread's mode:
//
//   void Handle(events::Batch& batch) {
//     // one Redis round trip to read what every record needs, one to write the results ...
//     for (size_t i = 0; i < batch.size(); ++i) {
//       if (!ok) return batch.Fail(i, error);       // i and the records after it: again
//       RETURN_IF_ERROR(batch.Send(i, producer, record));  // acknowledged before the commit
//       batch.After(i, [..] { return SaveAfterAcks(); });  // once i's sends are durable
//     }
//     batch.AfterAll([..](size_t done) { return SaveTheFirst(done); });  // one write for many
//   }
//
// The loop then waits once for every acknowledgement, runs each record's `After` steps in record
// order, then the `AfterAll` steps with the number of leading records that got that far, and
// commits the records before the first that failed. A record that failed (by Fail, by
// an acknowledgement or by an `After` step) is handled again together with the records after it,
// or set aside on the dead-letter topic, as its error's retry class says (libs/status/retry.h):
// handlers give the same event ids when they see an event again, and drop what they folded
// before, so a record handled twice is harmless.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/events/acks.h"
#include "libs/events/codec.h"
#include "libs/kafka/consumer.h"
#include "libs/kafka/producer.h"

namespace meldpunt::events {

class Batch {
 public:
  struct Item {
    const kafka::Record* record;
    Envelope envelope;
    // An envelope kept elsewhere, used instead of `envelope` when set (a replay's lane decodes a
    // run onto an arena it frees at once, and hands the envelopes over without moving them).
    const Envelope* decoded = nullptr;
  };

  explicit Batch(std::vector<Item> items);
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  size_t size() const { return items_.size(); }
  const Item& item(size_t index) const { return items_[index]; }
  const Envelope& envelope(size_t index) const {
    const Item& item = items_[index];
    return item.decoded != nullptr ? *item.decoded : item.envelope;
  }
  const kafka::Record& record(size_t index) const { return *items_[index].record; }

  // Sends a record for item `index` and tracks its acknowledgement; a refused enqueue is
  // returned (and fails the item at the loop's wait as well).
  absl::Status Send(size_t index, kafka::Producer& producer, const kafka::Message& message);
  // Runs once every record sent for item `index` (and for the items before it) is acknowledged.
  void After(size_t index, AfterAcks then);
  // Records the handler sent for item `index` itself (events::Acks::Send, service::SendTracked),
  // waited for as Send's; `then` (optional) as After's.
  void Await(size_t index, Acks acks, AfterAcks then = nullptr);
  // What many items share after their acknowledgements (one Redis pipeline for all their saves):
  // runs once, after the `After` steps, with `done`, the number of leading items whose
  // acknowledgements and `After` steps succeeded; it must do its part for those items only. It
  // answers nullopt, or the lowest item whose part failed with its error in `*error`: that item
  // and the ones after it are handled again, the ones before it are committed.
  using Shared = std::function<std::optional<size_t>(size_t done, absl::Status* error)>;
  void AfterAll(Shared step);
  // Item `index` could not be handled. The first failure (the lowest index) counts; what the
  // handler did for later items stays undone (no `After` runs for them) until they are handled
  // again.
  void Fail(size_t index, absl::Status error);

  // For the loop: waits (until `deadline`) for every acknowledgement and runs the `After` steps
  // of the items before the first failure, in item order. nullopt: all done; else the first item
  // that failed, with its error in `error`.
  std::optional<size_t> Finish(absl::Time deadline, absl::Status* error);

 private:
  struct Entry {
    std::vector<Acks> acks;
    std::vector<AfterAcks> then;
  };
  std::vector<Item> items_;
  std::vector<Entry> entries_;
  std::vector<Shared> shared_;
  std::optional<size_t> failed_;
  absl::Status failure_;
};

using BatchHandler = std::function<void(Batch&)>;

}  // namespace meldpunt::events
