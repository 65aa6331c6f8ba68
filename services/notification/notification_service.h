// gRPC adapter of meldpunt.notification.v1.Notifications. PreviewTemplate of a letter to the
// reporter shows their name: each such answer is recorded on the audit trail first (no record, no
// answer: UNAVAILABLE).
#pragma once

#include <functional>

#include "libs/audit/audit.h"
#include "libs/auth/auth.h"
#include "services/notification/notification_logic.h"

#include "meldpunt/notification/v1/notification.grpc.pb.h"
#include "services/notification/delivery_store.h"
#include "services/notification/templates.h"

namespace meldpunt::notification {

class NotificationService final : public v1::Notifications::Service {
 public:
  using Rebuild = std::function<absl::StatusOr<v1::RebuildDeliveriesResponse>()>;
  NotificationService(const auth::Guard& guard, DeliveryStore& store, const Templates& templates,
                      NotificationLogic& logic, audit::AuditTrail& audit, Rebuild rebuild)
      : guard_(guard),
        store_(store),
        templates_(templates),
        logic_(logic),
        audit_(audit),
        rebuild_(std::move(rebuild)) {}
  grpc::Status ListDeliveries(grpc::ServerContext*, const v1::ListDeliveriesRequest* request,
                              v1::ListDeliveriesResponse* response) override;
  grpc::Status RetryDelivery(grpc::ServerContext*, const v1::RetryDeliveryRequest* request,
                             v1::RetryDeliveryResponse* response) override;
  grpc::Status PreviewTemplate(grpc::ServerContext*, const v1::PreviewTemplateRequest* request,
                               v1::PreviewTemplateResponse* response) override;
  grpc::Status RebuildDeliveries(grpc::ServerContext*, const v1::RebuildDeliveriesRequest*,
                                 v1::RebuildDeliveriesResponse* response) override;

 private:
  const auth::Guard& guard_;
  DeliveryStore& store_;
  const Templates& templates_;
  NotificationLogic& logic_;
  audit::AuditTrail& audit_;
  Rebuild rebuild_;
};

}  // namespace meldpunt::notification
