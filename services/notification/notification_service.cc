#include "services/notification/notification_service.h"

#include "libs/events/ids.h"
#include "libs/grpc/status.h"

namespace meldpunt::notification {

grpc::Status NotificationService::ListDeliveries(grpc::ServerContext*,
                                                 const v1::ListDeliveriesRequest* request,
                                                 v1::ListDeliveriesResponse* response) {
  if (!events::IsCaseId(request->case_id())) {
    return grpc_util::ToGrpcStatus(grpc_util::FieldError("case_id", "is not a case id"));
  }
  auto deliveries = store_.List(request->case_id());
  if (!deliveries.ok()) return grpc_util::ToGrpcStatus(deliveries.status());
  for (auto& d : *deliveries) *response->add_deliveries() = std::move(d);
  return grpc::Status::OK;
}

grpc::Status NotificationService::PreviewTemplate(grpc::ServerContext*,
                                                  const v1::PreviewTemplateRequest* request,
                                                  v1::PreviewTemplateResponse* response) {
  const std::string lang = request->language().empty() ? "nl" : request->language();
  if (lang != "nl" && lang != "fr" && lang != "en") {
    return grpc_util::ToGrpcStatus(grpc_util::FieldError("language", "must be nl, fr or en"));
  }
  if (request->template_name().empty()) {
    return grpc_util::ToGrpcStatus(grpc_util::FieldError("template_name", "is required"));
  }
  std::map<std::string, std::string> values(request->values().begin(), request->values().end());
  auto rendered = templates_.Render(request->template_name(), lang, values);
  if (!rendered.ok()) return grpc_util::ToGrpcStatus(rendered.status());
  response->set_subject(rendered->subject);
  response->set_body(rendered->body);
  return grpc::Status::OK;
}

}  // namespace meldpunt::notification
