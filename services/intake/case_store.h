// The case projection: each case's state, folded from its events, kept in Redis.
//
// Keys (the case id as hash tag, so Redis Cluster keeps a case's keys together):
//   mp:case:{<id>}          hash: pb = serialized meldpunt.types.v1.Case, ver = events folded
//   mp:case:{<id>}:events   set of the event ids folded (repeats are dropped)
//   mp:case:{<id>}:history  list of the encoded envelopes, in fold order
//
// Apply() folds with optimistic concurrency (a Lua compare-and-set on ver), so the intake's own
// write after a submit and the projection consumer may race safely.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "libs/events/codec.h"
#include "libs/redis/redis.h"
#include "meldpunt/types/v1/case.pb.h"

namespace meldpunt::intake {

using Case = ::meldpunt::types::v1::Case;

enum class ApplyOutcome { kApplied, kDuplicate };

class CaseStore {
 public:
  virtual ~CaseStore() = default;
  virtual absl::StatusOr<std::optional<Case>> Get(const std::string& case_id) = 0;
  // FAILED_PRECONDITION when the case's state does not allow the event (nothing is written).
  virtual absl::StatusOr<ApplyOutcome> Apply(const events::Envelope& envelope) = 0;
};

class RedisCaseStore final : public CaseStore {
 public:
  explicit RedisCaseStore(redis::Client& redis) : redis_(redis) {}

  absl::StatusOr<std::optional<Case>> Get(const std::string& case_id) override;
  absl::StatusOr<ApplyOutcome> Apply(const events::Envelope& envelope) override;

  // The scripts this store needs loaded on every Redis connection.
  static redis::Script CasScript();
  static std::string CaseKey(const std::string& case_id);

 private:
  redis::Client& redis_;
};

}  // namespace meldpunt::intake
