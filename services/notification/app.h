// Notification's composition root: case-event consumer, SMTP mailer, Redis delivery store, the
// dead-letter topic, the Notifications gRPC service and the admin port.
#pragma once

#include <memory>

#include "libs/clock/clock.h"
#include "libs/events/event_consumer.h"
#include "libs/events/event_log.h"
#include "libs/grpc/server.h"
#include "libs/kafka/producer.h"
#include "libs/observability/admin_server.h"
#include "libs/redis/redis.h"
#include "services/notification/config.h"
#include "services/notification/notification_logic.h"
#include "services/notification/notification_service.h"

namespace meldpunt::notification {

class NotificationApp {
 public:
  explicit NotificationApp(NotificationConfig config);
  ~NotificationApp();
  absl::Status Start();
  void Stop();
  bool Ready() const;

 private:
  NotificationConfig config_;
  clock::SystemClock clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Templates> templates_;
  std::unique_ptr<SmtpMailer> mailer_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<events::KafkaEventLog> case_log_;
  std::unique_ptr<events::KafkaEventLog> dead_letters_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<RedisDeliveryStore> store_;
  std::unique_ptr<NotificationLogic> logic_;
  std::unique_ptr<events::EventConsumer> consumer_;
  std::unique_ptr<NotificationService> service_;
  std::unique_ptr<observability::AdminServer> admin_;
  grpc_util::ServerRunner grpc_;
  bool started_ = false;
};

}  // namespace meldpunt::notification
