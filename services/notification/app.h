// Notification's composition root: the case-event consumer (queues messages), the senders (a
// dispatcher claims due messages of this replica's partitions, a pool of workers sends them),
// SMTP and webhook channels, the Redis outbox, the dead-letter topic, the Notifications gRPC
// service and the admin port.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "libs/audit/audit.h"
#include "libs/catalog/catalog_file.h"
#include "libs/clock/clock.h"
#include "libs/events/event_consumer.h"
#include "libs/events/event_log.h"
#include "libs/grpc/server.h"
#include "libs/kafka/consumer.h"
#include "libs/kafka/producer.h"
#include "libs/observability/admin_server.h"
#include "libs/redis/redis.h"
#include "libs/service/dead_letters.h"
#include "libs/service/readiness.h"
#include "libs/service/wiring.h"
#include "services/notification/config.h"
#include "services/notification/delivery_store.h"
#include "services/notification/mailer.h"
#include "services/notification/metrics.h"
#include "services/notification/notification_logic.h"
#include "services/notification/notification_service.h"
#include "services/notification/rules.h"
#include "services/notification/senders.h"
#include "services/notification/templates.h"
#include "services/notification/webhook.h"

namespace meldpunt::notification {

class NotificationApp : public kafka::RebalanceListener {
 public:
  explicit NotificationApp(NotificationConfig config);
  ~NotificationApp() override;
  absl::Status Start();
  void Stop();
  bool Ready() const;
  // RebuildDeliveries: the outbox and delivery records folded again from the whole case log.
  absl::StatusOr<v1::RebuildDeliveriesResponse> RebuildDeliveries();

  void OnAssigned(const std::vector<kafka::TopicPartition>& partitions) override;
  void OnRevoked(const std::vector<kafka::TopicPartition>& partitions) override;

 private:
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
  service::Privacy privacy_;
  std::unique_ptr<RedisDeliveryStore> store_;
  std::unique_ptr<NotificationLogic> logic_;
  // Case events it could not handle (meldpunt.case-events.dlq.v1); outlives the consumer.
  service::DeadLetters case_dead_letters_;
  std::unique_ptr<events::EventConsumer> consumer_;
  std::unique_ptr<NotificationService> service_;
  std::unique_ptr<observability::AdminServer> admin_;
  grpc_util::ServerRunner grpc_;
  // Kafka and Redis answering, for /readyz; made last in Start, gone first.
  std::unique_ptr<service::DependencyCheck> dependencies_;

  std::unique_ptr<Senders> senders_;
  bool started_ = false;
  std::atomic<bool> rebuilding_{false};
  // Rebuilds the outbox by itself when its marker is gone (Redis lost its data).
  void WatchOutbox();
  static constexpr char kIntactKey[] = "mp:notify:intact";
  static constexpr char kRebuildLockKey[] = "mp:notify:rebuilding";
  absl::Notification stopping_;
  std::thread watch_thread_;
};

}  // namespace meldpunt::notification
