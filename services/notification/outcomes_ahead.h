// What a rebuild of the outbox knows of the log ahead of its replay: the outcomes on the log
// (NotificationDelivered, a dead-lettered NotificationFailed) of the messages it is about to make
// again, and the case's erasures. A scan of the log notes them (OutboxRebuild runs it beside the
// replay, a few times faster); the replay asks before it makes a message. A message whose last
// outcome known is a delivery, with no erasure of its case in between, is made at once as its
// final record (NotificationLogic::Handle with `ahead`): no letter filled, rendered or sealed,
// nothing queued; and the replay passes over the outcomes that record holds (Covered). What the
// scan has not reached yet is made as before, and its outcomes applied when the replay meets them.
//
//   OutcomesAhead ahead;
//   scan thread:  for each record: if (!ahead.Note(envelope, partition, offset)) stop;
//   replay lane:  known = ahead.Delivered(case_id, partition, trigger_offset, key);
//                 ... its final record written new: ahead.Made(key);
//                 outcome event: if (ahead.Covered(key, offset)) pass it over;
//                 a run done: ahead.Passed(partition, last_offset);
//   end:          ahead.Close();
//
// Bounded: at most `capacity` messages noted at once; the scan waits in Note for the replay to
// use some (or for Close) before it notes another. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/timestamp.pb.h"
#include "libs/events/codec.h"

namespace meldpunt::notification {

// One outcome of a message on the log, as a rebuild applies it (NotificationLogic::ApplyOutcome).
struct KnownOutcome {
  int32_t partition = -1;  // its event's
  int64_t offset = -1;
  bool delivered = false;
  int32_t attempts = 0;
  std::string last_error;          // a dead letter's
  google::protobuf::Timestamp at;  // its event's occurred_at
};

class OutcomesAhead {
 public:
  // About 100 bytes a message noted: at most some 10 MB.
  static constexpr size_t kCapacity = 100'000;

  explicit OutcomesAhead(size_t capacity = kCapacity) : capacity_(capacity) {}

  // The scan: notes `e` at `offset` of `partition` if it is an outcome or an erasure (anything
  // else is ignored, and so is an outcome the replay has passed already: Passed). Waits while
  // `capacity` messages are noted; false once closed.
  bool Note(const events::Envelope& e, int32_t partition, int64_t offset);
  // No more waiting in Note, and no more noting (the replay ended).
  void Close();

  // The outcomes of message `key` of `case_id` that come after the event that makes it (at
  // `offset` of `partition`), in log order, when the last of them is a delivery and no erasure of
  // the case lies between the event and it: what its final record is made of. Empty otherwise,
  // and also when any of them or any erasure of the case is on another partition (a topic whose
  // partitions were added to: offsets of two partitions say nothing of their order). Once a
  // message is handed out, later calls hand out no outcome past the same last one (a message made
  // twice is made the same).
  std::vector<KnownOutcome> Delivered(const std::string& case_id, int32_t partition, int64_t offset,
                                      const std::string& key);
  // Its final record was written anew (it was not in the outbox): the replay passes over its
  // outcomes up to the last one handed out.
  void Made(const std::string& key);
  // Whether the outcome of message `key` at `offset` is in a final record made (pass it over).
  // The replay meeting the last outcome noted of a message forgets the message.
  bool Covered(const std::string& key, int64_t offset);
  // The replay has handled `partition` up to `offset`: outcomes the scan meets there later are of
  // messages made already, and are not noted (they would never be used, nor forgotten).
  void Passed(int32_t partition, int64_t offset);

  size_t size();

 private:
  struct Message {
    std::vector<KnownOutcome> outcomes;  // in log order; dropped once made
    int32_t partition = -1;              // of its outcomes; -2 when they are on several
    int64_t last = -1;                   // the last outcome's offset
    int64_t handed = -1;                 // the last outcome handed out (Delivered), if any
    bool made = false;
  };

  const size_t capacity_;
  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, Message> messages_ ABSL_GUARDED_BY(mu_);  // by key
  // case id -> the partitions and offsets of its ReporterDataErased (rare)
  absl::flat_hash_map<std::string, std::vector<std::pair<int32_t, int64_t>>> erasures_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int32_t, int64_t> passed_ ABSL_GUARDED_BY(mu_);  // partition -> offset
};

// The idempotency key of the message whose outcome `e` states (NotificationDelivered, a
// dead-lettered NotificationFailed); null when it states none.
const std::string* OutcomeKeyOf(const events::Envelope& e);

// The outcome `e` states, if it is one (OutcomeKeyOf), at `offset` of `partition`.
std::optional<KnownOutcome> OutcomeOf(const events::Envelope& e, int32_t partition, int64_t offset);

// Whether the encoded envelope `bytes` may be an outcome or an erasure: its fields read without
// decoding them (a scan reads every record of the log and decodes only these).
bool MayBeOutcomeOrErasure(const std::string& bytes);

}  // namespace meldpunt::notification
