#include "services/intake/retention_rule.h"

#include "libs/domain/case_state.h"

namespace meldpunt::intake {

std::optional<RetentionChange> RetentionChangeOf(const events::Envelope& envelope,
                                                 const types::v1::Case& after,
                                                 const RetentionTerm& term) {
  if (envelope.has_case_reopened() || envelope.has_reporter_data_erased()) {
    return RetentionChange{after.case_id(), std::nullopt};
  }
  const types::v1::Reporter& reporter = after.draft().reporter();
  if (domain::IsOpen(after.state()) || reporter.sealed().empty() || reporter.erased()) {
    return std::nullopt;
  }
  return RetentionChange{after.case_id(), events::GetTime(after.updated_at()) +
                                              term(types::v1::CaseKind_Name(after.draft().kind()))};
}

void RetentionStep::Then(const RetentionChange& change) {
  if (!change.due) {
    op_ = Op::kRemove;
    return;
  }
  // An addition keeps what is in: after a removal in this run that is nothing, so it sets.
  if (op_ == Op::kNone) {
    op_ = Op::kAddUnlessIn;
    due_ = *change.due;
  } else if (op_ == Op::kRemove) {
    op_ = Op::kSet;
    due_ = *change.due;
  }
}

}  // namespace meldpunt::intake
