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
    : config_(std::move(config)), registry_(std::make_shared<prometheus::Registry>()) {}

NotificationApp::~NotificationApp() { Stop(); }

absl::Status NotificationApp::Start() {
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
  RETURN_IF_ERROR(admin_->Start(config_.admin_listen));
  RETURN_IF_ERROR(service::EnsureTopicsAtStart(
      config_,
      {{events::kNotificationDeadLetterTopic, 1, static_cast<int>(config_.replication_factor)},
       {events::kAuditTopic, static_cast<int>(config_.case_events_partitions),
        static_cast<int>(config_.replication_factor)}}));
  ASSIGN_OR_RETURN(producer_, service::MakeProducer(config_, "meldpunt-notification"));
  producer_->ExportMetrics(*registry_);
  case_log_ = std::make_unique<events::KafkaEventLog>(*producer_);
  audit_ = std::make_unique<audit::KafkaAuditTrail>(*producer_);
  dead_letters_ =
      std::make_unique<events::KafkaEventLog>(*producer_, events::kNotificationDeadLetterTopic);
  ASSIGN_OR_RETURN(redis_, service::ConnectRedisAtStart(config_, {redis::LeaseClaimScript()}));
  store_ = std::make_unique<RedisDeliveryStore>(*redis_);
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
  ASSIGN_OR_RETURN(auto consumer, service::MakeCaseEventConsumer(config_, config_.consumer_group,
                                                                 "meldpunt-notification", this));
  auto handler = [this](const events::Envelope& e, const kafka::Record& r) {
    return logic_->Handle(e, r.partition);
  };
  case_dead_letters_ = service::MakeDeadLetters(config_, *security_.guard, *producer_,
                                                "notification", config_.consumer_group, handler);
  consumer_ = std::make_unique<events::EventConsumer>(
      std::move(consumer), handler, registry_.get(), config_.consumer_group,
      service::LoopOptions(config_, case_dead_letters_.sink.get()));
  consumer_->Start();
  senders_->Start();
  service_ = std::make_unique<NotificationService>(*security_.guard, *store_, *templates_, *logic_,
                                                   *audit_, [this] { return RebuildDeliveries(); });
  grpc_.SetMetrics(registry_.get());
  RETURN_IF_ERROR(grpc_.Start(config_.grpc_listen,
                              {service_.get(), case_dead_letters_.service.get()},
                              security_.credentials));
  grpc_.SetServing(true);
  dependencies_ = std::make_unique<service::DependencyCheck>(
      producer_.get(), std::vector<redis::Client*>{redis_.get(), privacy_.redis.get()});
  started_ = true;
  watch_thread_ = std::thread([this] { WatchOutbox(); });
  log::Info("notification started", {{"grpc_port", grpc_.port()},
                                     {"admin_port", admin_->port()},
                                     {"smtp", config_.smtp_url},
                                     {"rules", rules_->rules.size()},
                                     {"workers", config_.workers}});
  return absl::OkStatus();
}

absl::StatusOr<v1::RebuildDeliveriesResponse> NotificationApp::RebuildDeliveries() {
  if (rebuilding_.exchange(true)) return absl::AbortedError("a rebuild is already running");
  struct Done {
    std::atomic<bool>& flag;
    ~Done() { flag = false; }
  } done{rebuilding_};
  // One replica at a time: the held messages are this process's until it releases them.
  const std::string owner = events::RandomId("rebuild");
  ASSIGN_OR_RETURN(bool locked, redis::TryLock(*redis_, kRebuildLockKey, owner, absl::Minutes(35)));
  if (!locked) return absl::AbortedError("another replica is rebuilding the outbox");
  struct Unlock {
    redis::Client& redis;
    const std::string& owner;
    ~Unlock() { (void)redis::Unlock(redis, kRebuildLockKey, owner); }
  } unlock{*redis_, owner};
  log::Warning("rebuilding the outbox and the delivery records from the log");
  logic_->Hold();
  absl::StatusOr<int64_t> events = service::ReplayCaseLog(
      config_, "meldpunt-notification-rebuild", absl::Minutes(30),
      [this](const events::Envelope& e, const kafka::Record& r) {
        return logic_->Restore(e, r.partition);
      },
      service::LoopOptions(config_).lanes);
  // Released whatever the replay's outcome: a held message must not wait a year.
  absl::StatusOr<int64_t> released = logic_->Release();
  RETURN_IF_ERROR(events.status());
  RETURN_IF_ERROR(released.status());
  // Marked only while this rebuild still holds the lock: a Redis that lost its data again
  // meanwhile lost the lock too, and the next check rebuilds once more.
  ASSIGN_OR_RETURN(bool marked,
                   redis::SetMarkerIfLocked(*redis_, kIntactKey, kRebuildLockKey, owner));
  if (!marked) {
    return absl::AbortedError("Redis lost the rebuild's lock before it ended; rebuilding again");
  }
  log::Warning("outbox and delivery records rebuilt from the log",
               {{"events", *events}, {"sent_again", *released}});
  v1::RebuildDeliveriesResponse response;
  response.set_events(*events);
  response.set_sent_again(*released);
  return response;
}

void NotificationApp::WatchOutbox() {
  // At start and then every second: has Redis lost the outbox (FLUSHALL, a new instance, the
  // first start)? Then it is rebuilt from the log: messages queued before the loss have no
  // outcome on the log and are sent (with their idempotency keys), delivered ones are not.
  absl::Duration wait = absl::ZeroDuration();
  while (!stopping_.WaitForNotificationWithTimeout(wait)) {
    wait = absl::Seconds(1);
    if (rebuilding_.load()) continue;
    absl::StatusOr<bool> intact = redis::HasMarker(*redis_, kIntactKey);
    if (!intact.ok() || *intact) continue;
    log::Warning(
        "the outbox is not known to be complete (Redis lost it, or a first start); "
        "rebuilding it from the log");
    absl::StatusOr<v1::RebuildDeliveriesResponse> rebuilt = RebuildDeliveries();
    if (!rebuilt.ok() && rebuilt.status().code() != absl::StatusCode::kAborted) {
      log::Error("outbox rebuild failed; the next check tries again",
                 {{"error", rebuilt.status().ToString()}});
    }
  }
}

void NotificationApp::OnAssigned(const std::vector<kafka::TopicPartition>& partitions) {
  std::vector<int32_t> ids;
  for (const auto& tp : partitions) ids.push_back(tp.partition);
  senders_->Assign(ids);
}

void NotificationApp::OnRevoked(const std::vector<kafka::TopicPartition>& partitions) {
  std::vector<int32_t> ids;
  for (const auto& tp : partitions) ids.push_back(tp.partition);
  senders_->Revoke(ids);
}

bool NotificationApp::Ready() const {
  return started_ && consumer_ && consumer_->running() && consumer_->joined() && dependencies_ &&
         dependencies_->up();
}

void NotificationApp::Stop() {
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  if (watch_thread_.joinable()) watch_thread_.join();
  if (started_) {
    started_ = false;
    grpc_.Shutdown(config_.shutdown_grace);
    if (consumer_) consumer_->Stop();
    if (senders_) senders_->Stop();
    if (producer_) (void)producer_->Flush(absl::Seconds(5));
  }
  if (admin_) admin_->Stop();
}

}  // namespace meldpunt::notification
