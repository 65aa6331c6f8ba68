#include "services/intake/intake_logic.h"

#include "absl/strings/str_cat.h"
#include "libs/domain/case_state.h"
#include "libs/domain/validation.h"
#include "libs/events/ids.h"
#include "libs/grpc/status.h"
#include "libs/observability/log.h"
#include "libs/status/status_macros.h"

namespace meldpunt::intake {

absl::StatusOr<SubmitResult> IntakeLogic::Submit(const v1::SubmitCaseRequest& request,
                                                 absl::Time deadline) {
  RETURN_IF_ERROR(domain::ValidateSubmission(request.submitting_system(), request.request_key(),
                                             request.draft()));
  if (request.correlation_id().size() > 128) {
    return grpc_util::FieldError("correlation_id", "must be at most 128 characters");
  }
  const std::string case_id = events::CaseIdFor(request.submitting_system(), request.request_key());

  // The same key from the same system: the first case, and nothing new in the log.
  ASSIGN_OR_RETURN(std::optional<Case> existing, store_.Get(case_id));
  if (existing.has_value()) return SubmitResult{*std::move(existing), false};

  const absl::Time now = clock_.Now();
  events::Envelope envelope = events::NewEnvelope(case_id, "intake", now);
  envelope.set_correlation_id(request.correlation_id().empty() ? events::RandomId("trace")
                                                               : request.correlation_id());
  envelope.mutable_actor()->set_id(absl::StrCat("system:", request.submitting_system()));
  auto* submitted = envelope.mutable_case_submitted();
  *submitted->mutable_draft() = request.draft();
  submitted->set_submitting_system(request.submitting_system());
  submitted->set_request_key(request.request_key());
  submitted->set_reference(case_id);
  // Deterministic: a retry after a lost answer appends the same event id, which consumers drop.
  events::Finish(envelope, events::DeterministicId("submitted", {case_id}));

  const absl::Time append_deadline = std::min(deadline, now + options_.append_timeout);
  ASSIGN_OR_RETURN(events::Appended appended, log_.Append(envelope, append_deadline));

  // Read-your-writes: fold the event now rather than wait for the projection consumer. If Redis
  // fails here the consumer still folds it from the log; the answer stays OK because it is durable.
  Case c;
  if (absl::Status folded = domain::Apply(c, envelope); !folded.ok()) return folded;
  absl::StatusOr<ApplyOutcome> stored = store_.Apply(envelope);
  if (!stored.ok()) {
    log::Warning("projection write after submit failed; the consumer will fold it",
                 {{"case_id", case_id}, {"error", stored.status().ToString()}});
  }
  log::Info("case submitted", {{"case_id", case_id},
                               {"trace_id", envelope.correlation_id()},
                               {"partition", appended.partition},
                               {"offset", appended.offset}});
  return SubmitResult{std::move(c), true};
}

absl::StatusOr<Case> IntakeLogic::Get(const std::string& case_id) {
  if (!events::IsCaseId(case_id)) {
    return grpc_util::FieldError("case_id", "is not a case id (MP- followed by 13 characters)");
  }
  ASSIGN_OR_RETURN(std::optional<Case> c, store_.Get(case_id));
  if (!c.has_value()) return absl::NotFoundError(absl::StrCat("case ", case_id, " not found"));
  return *std::move(c);
}

}  // namespace meldpunt::intake
