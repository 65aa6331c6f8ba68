#include "services/notification/app.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/kafka/admin.h"
#include "libs/observability/log.h"
#include "libs/redis/lease_queue.h"
#include "libs/service/replay.h"
#include "libs/service/wiring.h"
#include "libs/status/status_macros.h"

namespace meldpunt::notification {

NotificationApp::NotificationApp(NotificationConfig config)
    : config_(std::move(config)),
      registry_(std::make_shared<prometheus::Registry>()),
      // Its consumer and senders go on during an outbox rebuild (new messages wait for its end).
      app_("notification", config_, {.ready_while_rebuilding = true}) {}

NotificationApp::~NotificationApp() { Stop(); }

absl::Status NotificationApp::Start() {
  RETURN_IF_ERROR(app_.Start([this] { return StartSteps(); }));
  log::Info("notification started", {{"grpc_port", grpc_.port()},
                                     {"admin_port", admin_->port()},
                                     {"smtp", config_.smtp_url},
                                     {"rules", rules_->rules.size()},
                                     {"workers", config_.workers}});
  return absl::OkStatus();
}

absl::Status NotificationApp::StartSteps() {
  ASSIGN_OR_RETURN(security_, service::MakeGrpcSecurity(config_, registry_.get()));
  ASSIGN_OR_RETURN(NotificationRules rules,
                   ParseRules(config_.rules, config_.recipients,
                              [](const std::string& name) -> std::optional<std::string> {
                                const char* v = std::getenv(name.c_str());
                                if (v == nullptr) return std::nullopt;
                                return std::string(v);
                              }));
  for (auto& [name, r] : rules.recipients) {
    if (absl::StartsWith(r.webhook, "/")) {
      if (config_.webhook_base_url.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("notification.recipients.", name,
                                                       ".webhook: a path needs webhook.base_url"));
      }
      r.webhook = absl::StrCat(config_.webhook_base_url, r.webhook);
    }
  }
  rules_ = std::make_unique<NotificationRules>(std::move(rules));
  ASSIGN_OR_RETURN(Templates templates, Templates::Load(config_.templates_dir));
  templates_ = std::make_unique<Templates>(std::move(templates));
  // Every letter a rule names, in every language, with known placeholders only: a missing
  // template is an error now, never a half-rendered letter later.
  std::vector<std::string> names;
  for (const Rule& r : rules_->rules) names.push_back(r.template_name);
  RETURN_IF_ERROR(templates_->Check(names));
  mailer_ = std::make_unique<SmtpMailer>(SmtpOptions{.url = config_.smtp_url,
                                                     .from = config_.smtp_from,
                                                     .username = config_.smtp_username,
                                                     .password = config_.smtp_password});
  ASSIGN_OR_RETURN(WebhookSender webhooks,
                   WebhookSender::Create({.allow_private = config_.webhook_allow_private,
                                          .timeout = config_.webhook_timeout}));
  webhooks_ = std::make_unique<WebhookSender>(std::move(webhooks));
  for (const std::string& range : config_.webhook_allow_private) {
    log::Warning("webhook targets in a private range are allowed", {{"range", range}});
  }
  metrics_ = std::make_unique<NotificationMetrics>(*registry_);
  admin_ = std::make_unique<observability::AdminServer>(registry_, [this] { return Ready(); });
  RETURN_IF_ERROR(app_.Step(
      "admin server", [this] { return admin_->Start(config_.admin_listen); },
      [this] { admin_->Stop(); }));
  RETURN_IF_ERROR(service::EnsureTopicsAtStart(
      config_,
      {events::TopicSpecFor(events::kNotificationDeadLetterTopic, 1,
                            static_cast<int>(config_.replication_factor)),
       events::TopicSpecFor(events::kAuditTopic, static_cast<int>(config_.case_events_partitions),
                            static_cast<int>(config_.replication_factor))}));
  ASSIGN_OR_RETURN(producer_, service::MakeProducer(config_, "meldpunt-notification"));
  producer_->ExportMetrics(*registry_);
  app_.Defer("producer", [this] { (void)producer_->Flush(absl::Seconds(5)); });
  case_log_ = std::make_unique<events::KafkaEventLog>(*producer_);
  audit_ = std::make_unique<audit::KafkaAuditTrail>(*producer_);
  dead_letters_ =
      std::make_unique<events::KafkaEventLog>(*producer_, events::kNotificationDeadLetterTopic);
  ASSIGN_OR_RETURN(redis_, service::ConnectRedisAtStart(config_, {redis::LeaseClaimScript()}));
  durability_ = std::make_unique<service::RedisDurability>(*redis_);
  store_ = std::make_unique<RedisDeliveryStore>(*redis_);
  marks_ = std::make_unique<RedisOutboxMarks>(*redis_);
  ASSIGN_OR_RETURN(privacy_, service::ConnectKeyStoreAtStart(config_));
  if (config_.catalog_file.empty()) {
    log::Warning(
        "no category catalogue (catalog.file): letters to reporters name no category, staff "
        "letters its id; for development only");
  } else {
    ASSIGN_OR_RETURN(catalog_, catalog::CatalogFile::Open(config_.catalog_file));
  }
  NotificationOptions options{
      .first_backoff = config_.first_backoff,
      .max_backoff = config_.max_backoff,
      .retry_for = config_.retry_for,
      .answer_days = {},  // below, from the config's strings
      .max_in_flight_per_host = static_cast<int>(config_.max_in_flight_per_host),
      .sealer = privacy_.sealer.get(),
      .keys = privacy_.keys.get(),
      .catalog = catalog_.get(),
      .second_line = {.name = config_.second_line_name,
                      .address = config_.second_line_address,
                      .website = config_.second_line_website,
                      .email = config_.second_line_email,
                      .phone = config_.second_line_phone}};
  for (const auto& [kind, days] : config_.answer_days) {
    int64_t n = 0;
    if (absl::SimpleAtoi(days, &n)) options.answer_days[kind] = n;
  }
  logic_ = std::make_unique<NotificationLogic>(
      *templates_, *rules_, *mailer_,
      [this](const WebhookTarget& target, const WebhookMessage& message) {
        return webhooks_->Send(target, message);
      },
      *store_, *case_log_, *dead_letters_, clock_, options);
  outbox_rebuild_ = std::make_unique<OutboxRebuild>(
      app_.rebuild(), *marks_, *logic_,
      [this](const events::BatchHandler& handle, const std::function<absl::Status()>& reached) {
        return service::ReplayCaseLog(
            config_, "meldpunt-notification-rebuild", app_.replay_timeout(), handle,
            service::LoopOptions(config_).lanes, reached, NotificationLogic::UnreadPayloads());
      },
      [this](const service::ScanVisitor& visit, const std::function<bool()>& stopped) {
        return service::ScanCaseLog(config_, "meldpunt-notification-rebuild-scan",
                                    app_.replay_timeout(), visit, stopped);
      });
  senders_ = std::make_unique<Senders>(
      *logic_, *store_,
      SenderOptions{.workers = static_cast<int>(config_.workers),
                    .lease = config_.lease,
                    .poll_interval = config_.poll_interval,
                    .on_queue =
                        [this](int64_t waiting, std::optional<absl::Duration> oldest) {
                          metrics_->Queue(waiting, oldest);
                        }},
      [this](const std::string& channel, const absl::StatusOr<AttemptOutcome>& outcome,
             absl::Duration) {
        if (!outcome.ok()) {
          log::Warning("delivery attempt could not be recorded; it goes again after its lease",
                       {{"error", outcome.status().ToString()}});
        }
        metrics_->Attempt(channel, outcome);
      });
  // The senders stop after the consumer (which hands them their partitions), though they start
  // after it.
  app_.Defer("senders", [this] { senders_->Stop(); });
  assignment_ = std::make_unique<SenderAssignment>(*senders_);
  ASSIGN_OR_RETURN(auto consumer,
                   service::MakeCaseEventConsumer(config_, config_.consumer_group,
                                                  "meldpunt-notification", assignment_.get()));
  gate_ = std::make_unique<OutboxGate>(*marks_, clock_);
  handler_ = std::make_unique<NotificationHandler>(*logic_, *gate_);
  case_dead_letters_ = service::MakeDeadLetters(
      config_, *security_.guard, *producer_, "notification", config_.consumer_group,
      [this](const events::Envelope& e, const kafka::Record& r) { return handler_->Handle(e, r); });
  consumer_ = std::make_unique<events::EventConsumer>(
      std::move(consumer), events::BatchHandler([this](events::Batch& b) { handler_->Handle(b); }),
      registry_.get(), config_.consumer_group,
      service::LoopOptions(config_, case_dead_letters_.sink.get(), durability_.get()));
  RETURN_IF_ERROR(app_.Step(
      "case-event consumer",
      [this] {
        consumer_->Start();
        return absl::OkStatus();
      },
      [this] { consumer_->Stop(); }));
  senders_->Start();
  service_ =
      std::make_unique<NotificationService>(*security_.guard, *store_, *templates_, *logic_,
                                            *audit_, [this] { return outbox_rebuild_->Rebuild(); });
  grpc_.SetMetrics(registry_.get());
  RETURN_IF_ERROR(app_.Step(
      "grpc server",
      [this]() -> absl::Status {
        RETURN_IF_ERROR(grpc_.Start(config_.grpc_listen,
                                    {service_.get(), case_dead_letters_.service.get()},
                                    security_.credentials));
        grpc_.SetServing(true);
        return absl::OkStatus();
      },
      [this] { grpc_.Shutdown(config_.shutdown_grace); }));
  dependencies_ = std::make_unique<service::DependencyCheck>(
      producer_.get(), std::vector<redis::Client*>{redis_.get(), privacy_.redis.get()});
  // At once and then every second: a rebuild when the outbox's marker is gone.
  return app_.Step(
      "outbox watcher",
      [this] {
        outbox_rebuild_->Start();
        return absl::OkStatus();
      },
      [this] { outbox_rebuild_->Stop(); });
}

bool NotificationApp::Ready() const {
  return app_.Ready(
      [this] { return consumer_->running() && consumer_->joined() && dependencies_->up(); });
}

void NotificationApp::Stop() { app_.Stop(); }

}  // namespace meldpunt::notification
