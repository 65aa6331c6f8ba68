// What a case's events do to the retention index of reporters' personal data, mp:retention (a
// sorted set of case ids scored by when their data falls due, in ms): a case that is no longer
// open and holds sealed personal data goes in, due its kind's term after the event that closed
// it; a reopening or an erasure takes it out. The projection's store writes these changes in the
// same atomic step as the case they follow (RedisCaseStore: the live fold's script, the replay's
// transaction), so the index never misses a change of a case the projection holds, whatever
// fails in between.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "libs/events/codec.h"
#include "meldpunt/types/v1/case.pb.h"

namespace meldpunt::intake {

inline constexpr char kRetentionIndexKey[] = "mp:retention";

// The term of a case kind (its CaseKind name): IntakeConfig::RetentionOf.
using RetentionTerm = std::function<absl::Duration(const std::string& kind)>;

// One change of the index: the case added, due at `due` unless it is in already, or removed
// (`due` empty).
struct RetentionChange {
  std::string case_id;
  std::optional<absl::Time> due;
};

// The change an applied event makes to the index, `after` being the case it left; none when it
// makes none.
std::optional<RetentionChange> RetentionChangeOf(const events::Envelope& envelope,
                                                 const types::v1::Case& after,
                                                 const RetentionTerm& term);

// The changes of one case in a run as one write: what an addition that keeps an earlier term
// (ZADD NX) and a removal (ZREM), made in their order, leave.
class RetentionStep {
 public:
  enum class Op {
    kNone,
    kAddUnlessIn,  // ZADD NX: the case's term, unless it has one
    kSet,          // removed, then added: ZADD
    kRemove,       // ZREM
  };
  void Then(const RetentionChange& change);
  Op op() const { return op_; }
  absl::Time due() const { return due_; }

 private:
  Op op_ = Op::kNone;
  absl::Time due_;
};

}  // namespace meldpunt::intake
