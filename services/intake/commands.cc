#include "services/intake/commands.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/catalog/slug.h"
#include "libs/domain/validation.h"
#include "libs/grpc/status.h"
#include "libs/status/status_macros.h"

namespace meldpunt::intake {
namespace {

namespace t = ::meldpunt::types::v1;
using grpc_util::FieldError;

absl::Status CheckCommandId(const std::string& id) {
  if (id.size() > 128) return FieldError("command_id", "must be at most 128 characters");
  for (char c : id) {
    if (c < 0x21 || c > 0x7e)
      return FieldError("command_id", "must be printable ASCII without spaces");
  }
  return absl::OkStatus();
}

absl::Status CheckActor(const events::v1::Actor& actor) {
  if (actor.id().size() > 128) return FieldError("actor.id", "must be at most 128 characters");
  for (char c : actor.id()) {
    if (c < 0x21 || c > 0x7e)
      return FieldError("actor.id", "must be printable ASCII without spaces");
  }
  return domain::CheckText("actor.display_name", actor.display_name(), 200, false, false);
}

// Fields every command shares. The actor a request names is only what it says of itself: the
// gRPC adapter records the authenticated caller (IntakeService's SetActor) and keeps this as the
// display name; `default_actor` stands when the request names none.
template <typename Request>
absl::StatusOr<Command> Base(const std::string& name, const Request& r,
                             const std::string& default_actor) {
  if (r.case_id().empty()) return FieldError("case_id", "is required (a case id or reference)");
  if (r.case_id().size() > 64) return FieldError("case_id", "is not a case id or reference");
  RETURN_IF_ERROR(CheckCommandId(r.command_id()));
  RETURN_IF_ERROR(CheckActor(r.actor()));
  Command c;
  c.name = name;
  c.case_ref = r.case_id();
  c.command_id = r.command_id();
  c.actor = r.actor();
  if (c.actor.id().empty()) c.actor.set_id(default_actor);
  c.check = [](const t::Case&, absl::Time) { return absl::OkStatus(); };
  return c;
}

}  // namespace

absl::StatusOr<Command> ProvideInformationCommand(const v1::ProvideInformationRequest& r) {
  ASSIGN_OR_RETURN(Command c, Base("ProvideInformation", r, "reporter"));
  RETURN_IF_ERROR(domain::CheckText("text", r.text(), domain::kMaxDescriptionChars, true, true));
  if (r.attachments_size() > domain::kMaxAttachments) {
    return FieldError("attachments",
                      absl::StrCat("at most ", domain::kMaxAttachments, " attachments"));
  }
  for (int i = 0; i < r.attachments_size(); ++i) {
    RETURN_IF_ERROR(
        domain::CheckAttachment(absl::StrCat("attachments[", i, "]"), r.attachments(i)));
  }
  c.payload = [r](events::Envelope& e) {
    e.mutable_information_provided()->set_text(r.text());
    *e.mutable_information_provided()->mutable_attachments() = r.attachments();
  };
  return c;
}

absl::StatusOr<Command> WithdrawCommand(const v1::WithdrawCaseRequest& r) {
  ASSIGN_OR_RETURN(Command c, Base("WithdrawCase", r, "reporter"));
  RETURN_IF_ERROR(domain::CheckText("reason", r.reason(), 1000, true, false));
  c.payload = [r](events::Envelope& e) { e.mutable_case_withdrawn()->set_reason(r.reason()); };
  return c;
}

absl::StatusOr<Command> ReopenCommand(const v1::ReopenCaseRequest& r, const CommandRules& rules) {
  ASSIGN_OR_RETURN(Command c, Base("ReopenCase", r, "reporter"));
  RETURN_IF_ERROR(domain::CheckText("reason", r.reason(), 1000, true, true));
  c.payload = [r](events::Envelope& e) { e.mutable_case_reopened()->set_reason(r.reason()); };
  c.check = [window = rules.reopen_window](const t::Case& current, absl::Time now) -> absl::Status {
    if (current.draft().kind() == t::COMPLIMENT) {
      return absl::FailedPreconditionError("a compliment cannot be reopened");
    }
    const auto& since = current.has_closed_at() ? current.closed_at() : current.answered_at();
    if ((current.has_closed_at() || current.has_answered_at()) &&
        now - events::GetTime(since) > window) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the reopen window of ", absl::FormatDuration(window), " after the answer has passed"));
    }
    return absl::OkStatus();
  };
  return c;
}

absl::StatusOr<Command> AcceptCommand(const v1::AcceptCaseRequest& r) {
  ASSIGN_OR_RETURN(Command c, Base("AcceptCase", r, ""));
  RETURN_IF_ERROR(domain::CheckText("assignee", r.assignee(), 128, false, false));
  c.payload = [r](events::Envelope& e) { e.mutable_case_accepted()->set_assignee(r.assignee()); };
  return c;
}

absl::StatusOr<Command> BounceCommand(const v1::BounceCaseRequest& r) {
  ASSIGN_OR_RETURN(Command c, Base("BounceCase", r, ""));
  RETURN_IF_ERROR(domain::CheckText("reason", r.reason(), 1000, true, true));
  c.payload = [r](events::Envelope& e) { e.mutable_case_bounced()->set_reason(r.reason()); };
  c.check = [](const t::Case& current, absl::Time) {
    return absl::OkStatus();  // the department bouncing is the one the case is with
  };
  return c;
}

absl::StatusOr<Command> RequestInformationCommand(const v1::RequestInformationRequest& r) {
  ASSIGN_OR_RETURN(Command c, Base("RequestInformation", r, ""));
  RETURN_IF_ERROR(domain::CheckText("question", r.question(), 2000, true, true));
  c.payload = [r](events::Envelope& e) {
    e.mutable_information_requested()->set_question(r.question());
  };
  c.check = [](const t::Case& current, absl::Time) -> absl::Status {
    if (current.draft().reporter().anonymous()) {
      return absl::FailedPreconditionError(
          "the reporter is anonymous and cannot be asked anything");
    }
    return absl::OkStatus();
  };
  return c;
}

absl::StatusOr<Command> AnswerCommand(const v1::AnswerCaseRequest& r) {
  ASSIGN_OR_RETURN(Command c, Base("AnswerCase", r, ""));
  RETURN_IF_ERROR(domain::CheckText("answer", r.answer(), 10000, true, true));
  if (!events::v1::ComplaintOutcome_IsValid(r.outcome()))
    return FieldError("outcome", "unknown outcome");
  RETURN_IF_ERROR(domain::CheckText("ombudsnorm", r.ombudsnorm(), 200, false, false));
  c.payload = [r](events::Envelope& e) {
    auto* a = e.mutable_case_answered();
    a->set_answer(r.answer());
    a->set_outcome(r.outcome());
    a->set_ombudsnorm(r.ombudsnorm());
  };
  c.check = [r](const t::Case& current, absl::Time) -> absl::Status {
    const bool complaint = current.draft().kind() == t::COMPLAINT;
    if (complaint && r.outcome() == events::v1::COMPLAINT_OUTCOME_UNSPECIFIED) {
      return FieldError("outcome",
                        "a complaint's answer needs FOUNDED, PARTLY_FOUNDED or UNFOUNDED");
    }
    if (!complaint && r.outcome() != events::v1::COMPLAINT_OUTCOME_UNSPECIFIED) {
      return FieldError("outcome", "only a complaint's answer has an outcome");
    }
    if (!complaint && !r.ombudsnorm().empty()) {
      return FieldError("ombudsnorm", "only a complaint's answer has an ombudsnorm");
    }
    return absl::OkStatus();
  };
  return c;
}

absl::StatusOr<Command> CloseCommand(const v1::CloseCaseRequest& r) {
  ASSIGN_OR_RETURN(Command c, Base("CloseCase", r, ""));
  RETURN_IF_ERROR(domain::CheckText("reason", r.reason(), 1000, true, false));
  c.payload = [r](events::Envelope& e) { e.mutable_case_closed()->set_reason(r.reason()); };
  return c;
}

absl::StatusOr<Command> ReassignCommand(const v1::ReassignCaseRequest& r) {
  ASSIGN_OR_RETURN(Command c, Base("ReassignCase", r, ""));
  if (!catalog::IsSlug(r.department())) {
    return FieldError("department", absl::StrCat("a department id ", catalog::kSlugRule));
  }
  if (!r.team().empty() && !catalog::IsSlug(r.team())) {
    return FieldError("team", absl::StrCat("a team id ", catalog::kSlugRule));
  }
  RETURN_IF_ERROR(domain::CheckText("assignee", r.assignee(), 128, false, false));
  RETURN_IF_ERROR(domain::CheckText("reason", r.reason(), 1000, true, false));
  c.payload = [r](events::Envelope& e) {
    auto* a = e.mutable_case_reassigned();
    a->set_department(r.department());
    a->set_team(r.team());
    a->set_assignee(r.assignee());
    a->set_reason(r.reason());
  };
  return c;
}

absl::StatusOr<Command> ChangePriorityCommand(const v1::ChangePriorityRequest& r) {
  ASSIGN_OR_RETURN(Command c, Base("ChangePriority", r, ""));
  if (!t::Priority_IsValid(r.priority()) || r.priority() == t::PRIORITY_UNSPECIFIED) {
    return FieldError("priority", "is required: LOW, NORMAL, HIGH or URGENT");
  }
  RETURN_IF_ERROR(domain::CheckText("reason", r.reason(), 1000, /*multiline=*/true,
                                    /*required=*/true));
  c.check = [priority = r.priority()](const t::Case& current, absl::Time) -> absl::Status {
    if (current.priority() == priority) {
      return absl::FailedPreconditionError(
          absl::StrCat("priority: the case is ", t::Priority_Name(priority), " already"));
    }
    return absl::OkStatus();
  };
  c.payload = [r](events::Envelope& e) {
    auto* p = e.mutable_priority_changed();
    p->set_priority(r.priority());
    p->set_reason(r.reason());
  };
  return c;
}

absl::StatusOr<Command> DecideAdmissibilityCommand(const v1::DecideAdmissibilityRequest& r) {
  ASSIGN_OR_RETURN(Command c, Base("DecideAdmissibility", r, ""));
  if (!events::v1::InadmissibilityGround_IsValid(r.ground()))
    return FieldError("ground", "unknown ground");
  if (r.admissible() && r.ground() != events::v1::INADMISSIBILITY_GROUND_UNSPECIFIED) {
    return FieldError("ground", "an admissible complaint has no inadmissibility ground");
  }
  if (!r.admissible() && r.ground() == events::v1::INADMISSIBILITY_GROUND_UNSPECIFIED) {
    return FieldError("ground", "an inadmissible complaint needs its legal ground");
  }
  RETURN_IF_ERROR(domain::CheckText("motivation", r.motivation(), 4000, true, !r.admissible()));
  c.payload = [r](events::Envelope& e) {
    auto* d = e.mutable_admissibility_decided();
    d->set_admissible(r.admissible());
    d->set_ground(r.ground());
    d->set_motivation(r.motivation());
  };
  return c;
}

absl::StatusOr<Command> MergeCommand(const v1::MergeCaseRequest& r) {
  ASSIGN_OR_RETURN(Command c, Base("MergeCase", r, ""));
  if (r.master_case_id().empty()) return FieldError("master_case_id", "is required");
  // The caller resolves the master to its id and sets the payload.
  return c;
}

absl::StatusOr<Command> ReferCommand(const v1::ReferExternallyRequest& r) {
  ASSIGN_OR_RETURN(Command c, Base("ReferExternally", r, ""));
  RETURN_IF_ERROR(domain::CheckText("body", r.body(), 200, false, true));
  RETURN_IF_ERROR(domain::CheckText("reason", r.reason(), 1000, true, true));
  c.payload = [r](events::Envelope& e) {
    e.mutable_case_referred()->set_body(r.body());
    e.mutable_case_referred()->set_reason(r.reason());
  };
  return c;
}

absl::StatusOr<Command> EraseCommand(const v1::EraseReporterDataRequest& r) {
  ASSIGN_OR_RETURN(Command c, Base("EraseReporterData", r, "team:meldpunt"));
  RETURN_IF_ERROR(domain::CheckText("reason", r.reason(), 1000, true, true));
  c.payload = [r](events::Envelope& e) {
    e.mutable_reporter_data_erased()->set_reason(r.reason());
  };
  return c;
}

}  // namespace meldpunt::intake
