// Notification's composition root: it builds the real Kafka, Redis, SMTP, webhook and gRPC
// objects and wires them to the behaviour beside it, on the shared application base
// (libs/service/application.h: start steps that register their stops, readiness, the rebuild
// guard):
// - NotificationLogic: a case event in, messages queued in the outbox (the consumer's handler);
// - Senders: a dispatcher claims the due messages of this replica's partitions, a pool of workers
//   sends them (SenderAssignment: the consumer's rebalance listener);
// - OutboxRebuild: the outbox rebuilt from the log (when Redis lost it, or on request);
// - NotificationMetrics, NotificationService (gRPC), the dead-letter topics.
//
//   NotificationApp app(config);
//   RETURN_IF_ERROR(app.Start());
//   WaitForShutdownSignal();
//   app.Stop();
#pragma once

#include <memory>

#include "libs/audit/audit.h"
#include "libs/catalog/catalog_file.h"
#include "libs/clock/clock.h"
#include "libs/events/event_consumer.h"
#include "libs/events/event_log.h"
#include "libs/grpc/server.h"
#include "libs/kafka/producer.h"
#include "libs/observability/admin_server.h"
#include "libs/redis/redis.h"
#include "libs/service/application.h"
#include "libs/service/dead_letters.h"
#include "libs/service/readiness.h"
#include "libs/service/wiring.h"
#include "services/notification/config.h"
#include "services/notification/delivery_store.h"
#include "services/notification/mailer.h"
#include "services/notification/metrics.h"
#include "services/notification/notification_handler.h"
#include "services/notification/notification_logic.h"
#include "services/notification/notification_service.h"
#include "services/notification/outbox_rebuild.h"
#include "services/notification/rules.h"
#include "services/notification/senders.h"
#include "services/notification/templates.h"
#include "services/notification/webhook.h"

namespace meldpunt::notification {

class NotificationApp {
 public:
  explicit NotificationApp(NotificationConfig config);
  ~NotificationApp();
  absl::Status Start();
  void Stop();
  bool Ready() const;
  // RebuildDeliveries: the outbox and delivery records folded again from the whole case log.
  absl::StatusOr<v1::RebuildDeliveriesResponse> RebuildDeliveries() {
    return outbox_rebuild_->Rebuild();
  }

 private:
  absl::Status StartSteps();

  NotificationConfig config_;
  clock::SystemClock clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  service::GrpcSecurity security_;  // before the service that holds its guard
  std::unique_ptr<NotificationMetrics> metrics_;
  std::unique_ptr<Templates> templates_;
  std::unique_ptr<catalog::CatalogFile> catalog_;  // null without catalog.file (development)
  std::unique_ptr<NotificationRules> rules_;
  std::unique_ptr<SmtpMailer> mailer_;
  std::unique_ptr<WebhookSender> webhooks_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<events::KafkaEventLog> case_log_;
  std::unique_ptr<events::KafkaEventLog> dead_letters_;
  std::unique_ptr<audit::KafkaAuditTrail> audit_;  // PreviewTemplate's reads of personal data
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<service::RedisDurability> durability_;
  service::Privacy privacy_;
  std::unique_ptr<RedisDeliveryStore> store_;
  std::unique_ptr<RedisOutboxMarks> marks_;
  std::unique_ptr<NotificationLogic> logic_;
  std::unique_ptr<OutboxRebuild> outbox_rebuild_;
  std::unique_ptr<OutboxGate> gate_;
  std::unique_ptr<NotificationHandler> handler_;
  std::unique_ptr<Senders> senders_;
  std::unique_ptr<SenderAssignment> assignment_;  // the consumer's listener: outlives it
  // Case events it could not handle (meldpunt.case-events.dlq.v1); outlives the consumer.
  service::DeadLetters case_dead_letters_;
  std::unique_ptr<events::EventConsumer> consumer_;
  std::unique_ptr<NotificationService> service_;
  std::unique_ptr<observability::AdminServer> admin_;
  grpc_util::ServerRunner grpc_;
  // Kafka and Redis answering, for /readyz; made last in Start, gone first.
  std::unique_ptr<service::DependencyCheck> dependencies_;
  // Last: destroyed first, so its stops run while everything they stop still exists.
  service::Application app_;
};

}  // namespace meldpunt::notification
