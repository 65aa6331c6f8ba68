#include "services/intake/app.h"

#include "libs/events/topics.h"
#include "libs/kafka/admin.h"
#include "libs/observability/log.h"
#include "libs/service/runtime.h"
#include "libs/status/status_macros.h"

namespace meldpunt::intake {

IntakeApp::IntakeApp(IntakeConfig config)
    : config_(std::move(config)), registry_(std::make_shared<prometheus::Registry>()) {}

IntakeApp::~IntakeApp() { Stop(); }

absl::Status IntakeApp::Start() {
  metrics_ = std::make_unique<IntakeMetrics>(*registry_);
  admin_ = std::make_unique<observability::AdminServer>(registry_, [this] { return Ready(); });
  RETURN_IF_ERROR(admin_->Start(config_.admin_listen));

  RETURN_IF_ERROR(service::RetryUntilAvailable("kafka", config_.startup_timeout, [&] {
    return kafka::EnsureTopics(
        config_.kafka_brokers,
        {{events::kCaseEventsTopic, static_cast<int>(config_.case_events_partitions),
          static_cast<int>(config_.replication_factor)}},
        absl::Seconds(5));
  }));
  ASSIGN_OR_RETURN(producer_,
                   kafka::Producer::Create({.brokers = config_.kafka_brokers,
                                            .client_id = "meldpunt-intake",
                                            .delivery_timeout = config_.produce_timeout}));
  event_log_ = std::make_unique<events::KafkaEventLog>(*producer_);

  RETURN_IF_ERROR(
      service::RetryUntilAvailable("redis", config_.startup_timeout, [&]() -> absl::Status {
        ASSIGN_OR_RETURN(redis_, redis::Client::Create(
                                     {.address = config_.redis_address,
                                      .scripts = {RedisCaseStore::CasScript()},
                                      .pool_size = static_cast<int>(config_.redis_pool_size)}));
        return absl::OkStatus();
      }));
  store_ = std::make_unique<RedisCaseStore>(*redis_);
  logic_ = std::make_unique<IntakeLogic>(*event_log_, *store_, clock_,
                                         IntakeOptions{.append_timeout = config_.produce_timeout});

  ASSIGN_OR_RETURN(auto consumer, kafka::Consumer::Create({.brokers = config_.kafka_brokers,
                                                           .group_id = config_.consumer_group,
                                                           .topics = {events::kCaseEventsTopic},
                                                           .client_id = "meldpunt-intake"}));
  projection_ = std::make_unique<events::EventConsumer>(
      std::move(consumer),
      [this](const events::Envelope& e, const kafka::Record&) { return HandleEvent(e); },
      registry_.get(), config_.consumer_group);
  projection_->Start();

  service_ = std::make_unique<IntakeService>(*logic_, *metrics_);
  RETURN_IF_ERROR(grpc_.Start(config_.grpc_listen, {service_.get()}));
  grpc_.SetServing(true);
  started_ = true;
  log::Info("intake started", {{"grpc", config_.grpc_listen},
                               {"grpc_port", grpc_.port()},
                               {"admin_port", admin_->port()},
                               {"kafka", config_.kafka_brokers},
                               {"redis", config_.redis_address}});
  return absl::OkStatus();
}

absl::Status IntakeApp::HandleEvent(const events::Envelope& envelope) {
  absl::StatusOr<ApplyOutcome> outcome = store_->Apply(envelope);
  if (outcome.ok()) {
    metrics_->ProjectionApplied(*outcome == ApplyOutcome::kDuplicate);
    return absl::OkStatus();
  }
  if (outcome.status().code() == absl::StatusCode::kFailedPrecondition) {
    // Harmless: the command side refuses such events; one that still arrives is counted and
    // skipped.
    metrics_->ProjectionRejected();
    log::Warning("event rejected by the case state machine",
                 {{"case_id", envelope.case_id()},
                  {"event_id", envelope.event_id()},
                  {"error", outcome.status().ToString()}});
    return absl::OkStatus();
  }
  return outcome.status();
}

bool IntakeApp::Ready() const { return started_ && projection_ && projection_->running(); }

void IntakeApp::Stop() {
  if (!started_) {
    if (admin_) admin_->Stop();
    return;
  }
  started_ = false;
  grpc_.Shutdown(config_.shutdown_grace);
  if (projection_) projection_->Stop();
  if (producer_) (void)producer_->Flush(absl::Seconds(5));
  if (admin_) admin_->Stop();
}

absl::Status RunIntake(const IntakeConfig& config) {
  IntakeApp app(config);
  RETURN_IF_ERROR(app.Start());
  service::WaitForShutdownSignal();
  app.Stop();
  return absl::OkStatus();
}

}  // namespace meldpunt::intake
