#include "services/notification/app.h"

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "libs/events/topics.h"
#include "libs/kafka/admin.h"
#include "libs/observability/log.h"
#include "libs/service/wiring.h"
#include "libs/status/status_macros.h"

namespace meldpunt::notification {

NotificationApp::NotificationApp(NotificationConfig config)
    : config_(std::move(config)), registry_(std::make_shared<prometheus::Registry>()) {}

NotificationApp::~NotificationApp() { Stop(); }

absl::Status NotificationApp::Start() {
  ASSIGN_OR_RETURN(Templates templates, Templates::Load(config_.templates_dir));
  templates_ = std::make_unique<Templates>(std::move(templates));
  mailer_ = std::make_unique<SmtpMailer>(SmtpOptions{.url = config_.smtp_url,
                                                     .from = config_.smtp_from,
                                                     .username = config_.smtp_username,
                                                     .password = config_.smtp_password});
  admin_ = std::make_unique<observability::AdminServer>(registry_, [this] { return Ready(); });
  RETURN_IF_ERROR(admin_->Start(config_.admin_listen));
  RETURN_IF_ERROR(service::EnsureTopicsAtStart(
      config_,
      {{events::kNotificationDeadLetterTopic, 1, static_cast<int>(config_.replication_factor)}}));
  ASSIGN_OR_RETURN(producer_, service::MakeProducer(config_, "meldpunt-notification"));
  case_log_ = std::make_unique<events::KafkaEventLog>(*producer_);
  dead_letters_ =
      std::make_unique<events::KafkaEventLog>(*producer_, events::kNotificationDeadLetterTopic);
  ASSIGN_OR_RETURN(redis_, service::ConnectRedisAtStart(config_));
  store_ = std::make_unique<RedisDeliveryStore>(*redis_);
  NotificationOptions options{.max_attempts = static_cast<int>(config_.max_attempts),
                              .first_backoff = config_.first_backoff,
                              .max_backoff = config_.max_backoff};
  for (const auto& [kind, days] : config_.answer_days) {
    int64_t n = 0;
    if (absl::SimpleAtoi(days, &n)) options.answer_days[kind] = n;
  }
  logic_ = std::make_unique<NotificationLogic>(
      *templates_, *mailer_, *store_, *case_log_, *dead_letters_, clock_,
      [](absl::Duration d) { absl::SleepFor(d); }, options);
  ASSIGN_OR_RETURN(auto consumer, service::MakeCaseEventConsumer(config_, config_.consumer_group,
                                                                 "meldpunt-notification"));
  consumer_ = std::make_unique<events::EventConsumer>(
      std::move(consumer),
      [this](const events::Envelope& e, const kafka::Record&) { return logic_->Handle(e); },
      registry_.get(), config_.consumer_group);
  consumer_->Start();
  service_ = std::make_unique<NotificationService>(*store_, *templates_);
  RETURN_IF_ERROR(grpc_.Start(config_.grpc_listen, {service_.get()}));
  grpc_.SetServing(true);
  started_ = true;
  log::Info(
      "notification started",
      {{"grpc_port", grpc_.port()}, {"admin_port", admin_->port()}, {"smtp", config_.smtp_url}});
  return absl::OkStatus();
}

bool NotificationApp::Ready() const { return started_ && consumer_ && consumer_->running(); }

void NotificationApp::Stop() {
  if (started_) {
    started_ = false;
    grpc_.Shutdown(config_.shutdown_grace);
    if (consumer_) consumer_->Stop();
    if (producer_) (void)producer_->Flush(absl::Seconds(5));
  }
  if (admin_) admin_->Stop();
}

}  // namespace meldpunt::notification
