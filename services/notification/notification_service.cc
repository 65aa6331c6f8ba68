#include "services/notification/notification_service.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "libs/events/ids.h"
#include "libs/grpc/status.h"
#include "libs/grpc/trace.h"

namespace meldpunt::notification {
namespace {

// The audit record must be durable before the answer leaves: within the caller's deadline, and
// never more than a few seconds.
absl::Time AuditDeadline(const grpc::ServerContext& context) {
  const absl::Time cap = absl::Now() + absl::Seconds(5);
  const absl::Time caller = absl::FromChrono(context.deadline()) - absl::Milliseconds(150);
  return std::min(cap, caller);
}

}  // namespace

grpc::Status NotificationService::ListDeliveries(grpc::ServerContext* context,
                                                 const v1::ListDeliveriesRequest* request,
                                                 v1::ListDeliveriesResponse* response) {
  absl::StatusOr<auth::Principal> who = guard_.Admit(*context, auth::methods::kListDeliveries);
  if (!who.ok()) return grpc_util::ToGrpcStatus(who.status());
  if (!events::IsCaseId(request->case_id())) {
    return grpc_util::ToGrpcStatus(grpc_util::FieldError("case_id", "is not a case id"));
  }
  // Ops sees no personal data, not even the hint of an address.
  const bool hints = who->role != auth::Role::kOps;
  auto jobs = store_.Jobs(request->case_id());
  if (!jobs.ok()) return grpc_util::ToGrpcStatus(jobs.status());
  std::sort(jobs->begin(), jobs->end(), [](const v1::Job& a, const v1::Job& b) {
    return std::make_pair(a.delivery().at().seconds(), a.delivery().idempotency_key()) <
           std::make_pair(b.delivery().at().seconds(), b.delivery().idempotency_key());
  });
  // The record without the address, the letter or the payload: those are personal data.
  for (auto& job : *jobs) {
    if (!hints) job.mutable_delivery()->clear_recipient_hint();
    *response->add_deliveries() = std::move(*job.mutable_delivery());
  }
  return grpc::Status::OK;
}

grpc::Status NotificationService::RetryDelivery(grpc::ServerContext* context,
                                                const v1::RetryDeliveryRequest* request,
                                                v1::RetryDeliveryResponse* response) {
  if (absl::StatusOr<auth::Principal> who = guard_.Admit(*context, auth::methods::kRetryDelivery);
      !who.ok()) {
    return grpc_util::ToGrpcStatus(who.status());
  }
  if (!events::IsCaseId(request->case_id())) {
    return grpc_util::ToGrpcStatus(grpc_util::FieldError("case_id", "is not a case id"));
  }
  if (request->idempotency_key().empty() || request->idempotency_key().size() > 128) {
    return grpc_util::ToGrpcStatus(
        grpc_util::FieldError("idempotency_key", "is required (see ListDeliveries)"));
  }
  auto delivery = logic_.Retry(request->case_id(), request->idempotency_key());
  if (!delivery.ok()) return grpc_util::ToGrpcStatus(delivery.status());
  *response->mutable_delivery() = std::move(*delivery);
  return grpc::Status::OK;
}

grpc::Status NotificationService::PreviewTemplate(grpc::ServerContext* context,
                                                  const v1::PreviewTemplateRequest* request,
                                                  v1::PreviewTemplateResponse* response) {
  absl::StatusOr<auth::Principal> who = guard_.Admit(*context, auth::methods::kPreviewTemplate);
  if (!who.ok()) return grpc_util::ToGrpcStatus(who.status());
  const std::string lang = request->language().empty() ? "nl" : request->language();
  if (lang != "nl" && lang != "fr" && lang != "en") {
    return grpc_util::ToGrpcStatus(grpc_util::FieldError("language", "must be nl, fr or en"));
  }
  if (request->template_name().empty()) {
    return grpc_util::ToGrpcStatus(grpc_util::FieldError("template_name", "is required"));
  }
  if (!Placeholders().count(request->template_name())) {
    return grpc_util::ToGrpcStatus(
        grpc_util::FieldError("template_name", "is not a letter this service has"));
  }
  std::map<std::string, std::string> values;
  if (!request->case_id().empty()) {
    if (!events::IsCaseId(request->case_id())) {
      return grpc_util::ToGrpcStatus(grpc_util::FieldError("case_id", "is not a case id"));
    }
    auto submitted = store_.LoadSubmission(request->case_id());
    if (!submitted.ok()) return grpc_util::ToGrpcStatus(submitted.status());
    if (!submitted->has_value()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "notification does not know this case");
    }
    // Only a letter to the reporter opens the reporter (for their name).
    auto case_values =
        logic_.Values(request->case_id(), nullptr, lang, ForReporter(request->template_name()));
    if (!case_values.ok()) return grpc_util::ToGrpcStatus(case_values.status());
    values = std::move(*case_values);
    // A read of personal data: recorded before the answer leaves, or no answer.
    if (auto name = values.find("name"); name != values.end() && !name->second.empty()) {
      absl::Status audited =
          audit_.Record(audit::ReadRecord(*who, auth::methods::kPreviewTemplate, request->case_id(),
                                          {"reporter.name"}, grpc_util::TraceIdFrom(*context),
                                          absl::Now(), "notification"),
                        AuditDeadline(*context));
      if (!audited.ok()) return grpc_util::ToGrpcStatus(audited);
    }
  }
  for (const auto& [k, v] : request->values()) values[k] = v;
  auto rendered = templates_.Render(request->template_name(), lang, values);
  if (!rendered.ok()) return grpc_util::ToGrpcStatus(rendered.status());
  response->set_subject(rendered->subject);
  response->set_body(rendered->body);
  return grpc::Status::OK;
}

grpc::Status NotificationService::RebuildDeliveries(grpc::ServerContext* context,
                                                    const v1::RebuildDeliveriesRequest*,
                                                    v1::RebuildDeliveriesResponse* response) {
  if (absl::StatusOr<auth::Principal> who =
          guard_.Admit(*context, auth::methods::kRebuildDeliveries);
      !who.ok()) {
    return grpc_util::ToGrpcStatus(who.status());
  }
  absl::StatusOr<v1::RebuildDeliveriesResponse> done = rebuild_();
  if (!done.ok()) return grpc_util::ToGrpcStatus(done.status());
  *response = *std::move(done);
  return grpc::Status::OK;
}

}  // namespace meldpunt::notification
