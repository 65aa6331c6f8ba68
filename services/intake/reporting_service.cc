#include "services/intake/reporting_service.h"

#include "absl/strings/str_cat.h"
#include "libs/events/codec.h"
#include "libs/grpc/status.h"
#include "services/intake/reporting.h"

namespace meldpunt::intake {
namespace {

calendar::BusinessCalendar Brussels() {
  // Only the time zone matters for the calendar days of the 45-day term; it always loads.
  return *calendar::BusinessCalendar::Create({});
}

}  // namespace

ReportingService::ReportingService(const auth::Guard& guard, CaseStore& store,
                                   const clock::Clock& clock, absl::Duration registration_delay,
                                   catalog::CatalogFile* catalog)
    : guard_(guard),
      catalog_(catalog),
      store_(store),
      clock_(clock),
      calendar_(Brussels()),
      registration_delay_(registration_delay) {}

absl::StatusOr<auth::CallerLimit::Ticket> ReportingService::Admit(grpc::ServerContext& context,
                                                                  absl::string_view method) {
  absl::StatusOr<auth::Principal> who = guard_.Admit(context, method);
  if (!who.ok()) return who.status();
  return reports_.Acquire(*who);
}

grpc::Status ReportingService::GetIndicators(grpc::ServerContext* context,
                                             const v1::GetIndicatorsRequest* request,
                                             v1::GetIndicatorsResponse* response) {
  absl::StatusOr<auth::CallerLimit::Ticket> ticket = Admit(*context, auth::methods::kGetIndicators);
  if (!ticket.ok()) return grpc_util::ToGrpcStatus(ticket.status());
  if (absl::Status bad = reporting::CheckIndicatorsRequest(*request); !bad.ok()) {
    return grpc_util::ToGrpcStatus(bad);
  }
  const absl::Time from = events::GetTime(request->from());
  const absl::Time to = events::GetTime(request->to());
  absl::StatusOr<std::vector<Case>> cases = ReceivedIn(from, to);
  if (!cases.ok()) return grpc_util::ToGrpcStatus(cases.status());
  *response = reporting::Indicators(*cases, from, to, request->group_by(), clock_.Now());
  return grpc::Status::OK;
}

grpc::Status ReportingService::GetComplaintsReport(grpc::ServerContext* context,
                                                   const v1::GetComplaintsReportRequest* request,
                                                   v1::ComplaintsReport* response) {
  absl::StatusOr<auth::CallerLimit::Ticket> ticket =
      Admit(*context, auth::methods::kGetComplaintsReport);
  if (!ticket.ok()) return grpc_util::ToGrpcStatus(ticket.status());
  if (absl::Status bad = reporting::CheckYear(request->year()); !bad.ok()) {
    return grpc_util::ToGrpcStatus(bad);
  }
  absl::StatusOr<std::vector<Case>> cases = YearCases(request->year());
  if (!cases.ok()) return grpc_util::ToGrpcStatus(cases.status());
  *response = reporting::Complaints(*cases, request->year(), clock_.Now(), calendar_);
  return grpc::Status::OK;
}

absl::StatusOr<std::vector<Case>> ReportingService::ReceivedIn(absl::Time from,
                                                               absl::Time to) const {
  // A case is registered at or after its receipt, never before.
  absl::StatusOr<std::vector<Case>> submitted =
      store_.Submitted(from, to + registration_delay_, kMaxCases);
  if (!submitted.ok()) return submitted.status();
  return reporting::ReceivedIn(*std::move(submitted), from, to);
}

absl::StatusOr<std::vector<Case>> ReportingService::YearCases(int year) const {
  return ReceivedIn(reporting::YearStart(year), reporting::YearStart(year + 1));
}

grpc::Status ReportingService::ExportReport(grpc::ServerContext* context,
                                            const v1::ExportReportRequest* request,
                                            v1::ExportReportResponse* response) {
  absl::StatusOr<auth::CallerLimit::Ticket> ticket = Admit(*context, auth::methods::kExportReport);
  if (!ticket.ok()) return grpc_util::ToGrpcStatus(ticket.status());
  if (absl::Status bad = reporting::CheckYear(request->year()); !bad.ok()) {
    return grpc_util::ToGrpcStatus(bad);
  }
  if (request->format() != v1::CSV && request->format() != v1::HTML) {
    return grpc_util::ToGrpcStatus(grpc_util::FieldError("format", "must be CSV or HTML"));
  }
  if (!v1::ReportGrouping_IsValid(request->group_by())) {
    return grpc_util::ToGrpcStatus(grpc_util::FieldError("group_by", "is not a known grouping"));
  }
  absl::StatusOr<reporting::Lang> lang = reporting::LanguageOf(request->language());
  if (!lang.ok()) return grpc_util::ToGrpcStatus(lang.status());
  absl::StatusOr<std::vector<Case>> cases = YearCases(request->year());
  if (!cases.ok()) return grpc_util::ToGrpcStatus(cases.status());
  const absl::Time from = reporting::YearStart(request->year());
  const absl::Time to = reporting::YearStart(request->year() + 1);
  const absl::Time now = clock_.Now();
  const v1::ReportGrouping group =
      request->group_by() == v1::GROUP_NONE ? v1::GROUP_MONTH : request->group_by();
  v1::GetIndicatorsResponse indicators = reporting::Indicators(*cases, from, to, group, now);
  // People read names, not ids: the catalogue's label of a category or a department in the
  // report's language.
  if ((group == v1::GROUP_CATEGORY || group == v1::GROUP_DEPARTMENT) && catalog_ != nullptr) {
    const std::shared_ptr<const catalog::Catalog> names = catalog_->Current();
    for (v1::IndicatorRow& row : *indicators.mutable_rows()) {
      if (row.group().empty()) continue;
      row.set_group(group == v1::GROUP_CATEGORY
                        ? names->Label(row.group(), request->language())
                        : names->DepartmentLabel(row.group(), request->language()));
    }
  }
  const v1::ComplaintsReport complaints =
      reporting::Complaints(*cases, request->year(), now, calendar_);
  const bool csv = request->format() == v1::CSV;
  response->set_content_type(csv ? "text/csv; charset=utf-8" : "text/html; charset=utf-8");
  response->set_filename(absl::StrCat("meldpunt-report-", request->year(), "-",
                                      reporting::LangCode(*lang), csv ? ".csv" : ".html"));
  response->set_body(
      csv ? reporting::Csv(indicators, complaints, *lang)
          : reporting::Html(indicators, complaints, *lang, reporting::OpenByState(*cases)));
  return grpc::Status::OK;
}

}  // namespace meldpunt::intake
