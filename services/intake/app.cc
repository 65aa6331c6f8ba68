#include "services/intake/app.h"

#include "libs/events/topics.h"
#include "libs/kafka/admin.h"
#include "libs/observability/log.h"
#include "libs/service/wiring.h"
#include "libs/status/status_macros.h"

namespace meldpunt::intake {

IntakeApp::IntakeApp(IntakeConfig config)
    : config_(std::move(config)), registry_(std::make_shared<prometheus::Registry>()) {}

IntakeApp::~IntakeApp() { Stop(); }

absl::Status IntakeApp::Start() {
  metrics_ = std::make_unique<IntakeMetrics>(*registry_);
  admin_ = std::make_unique<observability::AdminServer>(registry_, [this] { return Ready(); });
  RETURN_IF_ERROR(admin_->Start(config_.admin_listen));

  RETURN_IF_ERROR(service::EnsureTopicsAtStart(config_));
  ASSIGN_OR_RETURN(producer_, service::MakeProducer(config_, "meldpunt-intake"));
  event_log_ = std::make_unique<events::KafkaEventLog>(*producer_);

  ASSIGN_OR_RETURN(redis_, service::ConnectRedisAtStart(config_, {RedisCaseStore::CasScript()}));
  store_ = std::make_unique<RedisCaseStore>(*redis_);
  logic_ = std::make_unique<IntakeLogic>(*event_log_, *store_, clock_,
                                         IntakeOptions{.append_timeout = config_.produce_timeout});

  ASSIGN_OR_RETURN(auto consumer, service::MakeCaseEventConsumer(config_, config_.consumer_group,
                                                                 "meldpunt-intake"));
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

}  // namespace meldpunt::intake
