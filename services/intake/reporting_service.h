// gRPC adapter of meldpunt.intake.v1.Reporting: admits the caller (team, ops, admin), reads the
// cases received in the period from the projection and computes the figures (reporting.h).
#pragma once

#include "libs/auth/auth.h"
#include "libs/auth/limits.h"
#include "libs/calendar/calendar.h"
#include "libs/catalog/catalog_file.h"
#include "libs/clock/clock.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "services/intake/case_store.h"

namespace meldpunt::intake {

class ReportingService final : public v1::Reporting::Service {
 public:
  // The most cases one report reads from the projection (of each only what the figures need:
  // CaseStore::Submitted drops descriptions, attachments and the sealed reporter).
  static constexpr int64_t kMaxCases = 1'000'000;
  // Reports at once: one per caller, two on a replica, so that one caller cannot fill the
  // intake's memory with reports, nor keep others from theirs.
  static constexpr int kReportsPerCaller = 1;
  static constexpr int kReportsPerReplica = 2;

  // How long after its receipt a case may be registered, at most: the projection indexes cases
  // by submission, so a period's cases by receipt are among those submitted from its start to
  // this much after its end. Keep it at least intake's limit on CaseDraft.received_at.
  static constexpr absl::Duration kDefaultRegistrationDelay = absl::Hours(24 * 92);

  // `catalog` (may be null): the exports name categories by their label in the report's language.
  ReportingService(const auth::Guard& guard, CaseStore& store, const clock::Clock& clock,
                   absl::Duration registration_delay = kDefaultRegistrationDelay,
                   catalog::CatalogFile* catalog = nullptr);

  grpc::Status GetIndicators(grpc::ServerContext* context, const v1::GetIndicatorsRequest* request,
                             v1::GetIndicatorsResponse* response) override;
  grpc::Status GetComplaintsReport(grpc::ServerContext* context,
                                   const v1::GetComplaintsReportRequest* request,
                                   v1::ComplaintsReport* response) override;
  grpc::Status ExportReport(grpc::ServerContext* context, const v1::ExportReportRequest* request,
                            v1::ExportReportResponse* response) override;

 private:
  // The cases received in [from, to).
  absl::StatusOr<std::vector<Case>> ReceivedIn(absl::Time from, absl::Time to) const;
  // The cases received in calendar year `year` (the municipality's time zone).
  absl::StatusOr<std::vector<Case>> YearCases(int year) const;

  // Admits the caller for `method` and takes one of the report places.
  absl::StatusOr<auth::CallerLimit::Ticket> Admit(grpc::ServerContext& context,
                                                  absl::string_view method);

  const auth::Guard& guard_;
  catalog::CatalogFile* catalog_ = nullptr;
  auth::CallerLimit reports_{"reports", kReportsPerCaller, kReportsPerReplica};
  CaseStore& store_;
  const clock::Clock& clock_;
  calendar::BusinessCalendar calendar_;
  const absl::Duration registration_delay_;
};

}  // namespace meldpunt::intake
