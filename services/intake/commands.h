// Casework and reporter commands: validate a request against the case as it stands and build the
// event it asks for. Pure functions: no I/O, no clock (the caller stamps the envelope).
//
//   absl::StatusOr<Command> c = AcceptCommand(request);
//   ... c->payload(envelope) fills the envelope's payload; c->check(current) adds rules beyond the
//   state machine (e.g. a complaint's answer needs an outcome).
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/events/codec.h"
#include "meldpunt/intake/v1/intake.pb.h"
#include "meldpunt/types/v1/case.pb.h"

namespace meldpunt::intake {

struct Command {
  std::string name;  // e.g. "AcceptCase", part of the event id of a repeated command_id
  std::string case_ref;
  std::string command_id;
  events::v1::Actor actor;
  // Fills the payload of the event.
  std::function<void(events::Envelope&)> payload;
  // Rules that depend on the case beyond its state (OK when none); `now` for time windows.
  std::function<absl::Status(const types::v1::Case&, absl::Time now)> check;
};

struct CommandRules {
  // How long after the answer (or closing) the reporter may reopen a case.
  absl::Duration reopen_window = absl::Hours(24 * 60);
  // SubmitCase's draft.received_at: how far back it may lie, and the submitting systems (callers
  // of the submitter role) that may set it; the team and admins always may.
  absl::Duration received_at_max_age = absl::Hours(24 * 30);
  std::vector<std::string> received_at_systems;
  // A receipt time this much ahead of the intake's clock is still taken as "now" (clock skew).
  static constexpr absl::Duration kReceivedAtSkew = absl::Minutes(5);
};

absl::StatusOr<Command> ProvideInformationCommand(const v1::ProvideInformationRequest& r);
absl::StatusOr<Command> WithdrawCommand(const v1::WithdrawCaseRequest& r);
absl::StatusOr<Command> ReopenCommand(const v1::ReopenCaseRequest& r, const CommandRules& rules);
absl::StatusOr<Command> AcceptCommand(const v1::AcceptCaseRequest& r);
absl::StatusOr<Command> BounceCommand(const v1::BounceCaseRequest& r);
absl::StatusOr<Command> RequestInformationCommand(const v1::RequestInformationRequest& r);
absl::StatusOr<Command> AnswerCommand(const v1::AnswerCaseRequest& r);
absl::StatusOr<Command> CloseCommand(const v1::CloseCaseRequest& r);
absl::StatusOr<Command> ReassignCommand(const v1::ReassignCaseRequest& r);
// A new priority for an open case (PriorityChanged), not the one it has.
absl::StatusOr<Command> ChangePriorityCommand(const v1::ChangePriorityRequest& r);
absl::StatusOr<Command> DecideAdmissibilityCommand(const v1::DecideAdmissibilityRequest& r);
// The master is resolved and checked by the caller (it needs the store); see IntakeLogic.
absl::StatusOr<Command> MergeCommand(const v1::MergeCaseRequest& r);
absl::StatusOr<Command> ReferCommand(const v1::ReferExternallyRequest& r);
// The key is destroyed by the caller before the event is appended; see IntakeLogic::Erase.
absl::StatusOr<Command> EraseCommand(const v1::EraseReporterDataRequest& r);

}  // namespace meldpunt::intake
