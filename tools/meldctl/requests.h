// The gRPC requests meldctl sends, built from parsed options. Pure, so each command's request is
// checked field by field in the tests. A usage error (an unknown enum name, a bad time, a
// contradictory combination) is INVALID_ARGUMENT naming the option.
//
//   absl::StatusOr<Options> options = Parse({"bounce", "MP-7K3QX9M2TD4AB", "--reason", "roads"});
//   absl::StatusOr<intake::v1::BounceCaseRequest> request = BounceRequest(*options);
//   // request->actor().id() == "team:meldpunt", request->reason() == "roads"
#pragma once

#include "absl/status/statusor.h"
#include "meldpunt/deadline/v1/deadline.pb.h"
#include "meldpunt/intake/v1/intake.pb.h"
#include "meldpunt/routing/v1/routing.pb.h"
#include "tools/meldctl/cli.h"

namespace meldpunt::meldctl {

namespace iv1 = ::meldpunt::intake::v1;

// --request-key defaults to a fresh random key, --system to "meldctl", --kind to REPORT and
// --channel to WEB.
absl::StatusOr<iv1::SubmitCaseRequest> SubmitRequest(const Options& options);
absl::StatusOr<iv1::ListCasesRequest> ListRequest(const Options& options);
// `meldctl triage`: ListRequest with state IN_TRIAGE.
absl::StatusOr<iv1::ListCasesRequest> TriageRequest(const Options& options);
// --language (default: unspecified, which the intake reads as Dutch); --all: the inactive too.
absl::StatusOr<iv1::GetCategoriesRequest> CategoriesRequest(const Options& options);
absl::StatusOr<routing::v1::ExplainRouteRequest> ExplainRequest(const Options& options);

// Casework: the actor defaults to kCaseWorkActor. The command id is --command-id (may be empty).
absl::StatusOr<iv1::AcceptCaseRequest> AcceptRequest(const Options& options);
absl::StatusOr<iv1::BounceCaseRequest> BounceRequest(const Options& options);
absl::StatusOr<iv1::RequestInformationRequest> RequestInfoRequest(const Options& options);
absl::StatusOr<iv1::AnswerCaseRequest> AnswerRequest(const Options& options);
absl::StatusOr<iv1::CloseCaseRequest> CloseRequest(const Options& options);
absl::StatusOr<iv1::ReassignCaseRequest> ReassignRequest(const Options& options);
absl::StatusOr<iv1::ChangePriorityRequest> PriorityRequest(const Options& options);
absl::StatusOr<iv1::DecideAdmissibilityRequest> AdmissibilityRequest(const Options& options);
absl::StatusOr<iv1::MergeCaseRequest> MergeRequest(const Options& options);
absl::StatusOr<iv1::ReferExternallyRequest> ReferRequest(const Options& options);

// The reporter's commands: the actor defaults to kReporterActor.
absl::StatusOr<iv1::ProvideInformationRequest> ProvideInfoRequest(const Options& options);
absl::StatusOr<iv1::WithdrawCaseRequest> WithdrawRequest(const Options& options);
// Without --actor the intake records the erasure as admin:<the caller>.
absl::StatusOr<iv1::EraseReporterDataRequest> EraseRequest(const Options& options);
absl::StatusOr<iv1::ReopenCaseRequest> ReopenRequest(const Options& options);

// `meldctl report indicators|complaints|export`: the action (args[0]) is one of the three, and
// --language is for export only.
absl::Status CheckReport(const Options& options);
// --group-by: none (the default), kind, category, department, channel, district or month.
absl::StatusOr<iv1::ReportGrouping> ReportGroupingOption(const Options& options);
// `meldctl report export`: --year required, --format csv or html (default html), --group-by,
// --language nl|fr|en (default: unspecified, which the intake reads as Dutch).
absl::StatusOr<iv1::ExportReportRequest> ExportRequest(const Options& options);

// `meldctl clock extend|suspend|resume CASE ...`: the action (args[0]) and the request. The
// case_id is the CASE as typed (a reference is resolved by the caller); --command-id may be empty.
// Extend needs exactly one of --due and --term; --due, --term and --notify are for extend only.
struct ClockChangeRequest {
  std::string action;  // "extend", "suspend" or "resume"
  deadline::v1::ExtendClockRequest extend;
  deadline::v1::SuspendClockRequest suspend;
  deadline::v1::ResumeClockRequest resume;
};
absl::StatusOr<ClockChangeRequest> ClockRequest(const Options& options);

}  // namespace meldpunt::meldctl
