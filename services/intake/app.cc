#include "services/intake/app.h"

#include <map>

#include "absl/time/clock.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/observability/log.h"
#include "libs/service/replay.h"
#include "libs/service/wiring.h"
#include "libs/status/status_macros.h"

namespace meldpunt::intake {

IntakeApp::IntakeApp(IntakeConfig config)
    : config_(std::move(config)), registry_(std::make_shared<prometheus::Registry>()) {}

IntakeApp::~IntakeApp() { Stop(); }

absl::Status IntakeApp::Start() {
  metrics_ = std::make_unique<IntakeMetrics>(*registry_);
  ASSIGN_OR_RETURN(security_, service::MakeGrpcSecurity(config_, registry_.get()));
  admin_ = std::make_unique<observability::AdminServer>(registry_, [this] { return Ready(); });
  RETURN_IF_ERROR(admin_->Start(config_.admin_listen));

  RETURN_IF_ERROR(service::EnsureTopicsAtStart(config_));
  ASSIGN_OR_RETURN(producer_, service::MakeProducer(config_, "meldpunt-intake"));
  event_log_ = std::make_unique<events::KafkaEventLog>(*producer_);
  ASSIGN_OR_RETURN(redis_, service::ConnectRedisAtStart(config_, {RedisCaseStore::CasScript()}));
  store_ = std::make_unique<RedisCaseStore>(*redis_);
  const CommandRules rules{.reopen_window = config_.reopen_window};
  logic_ = std::make_unique<IntakeLogic>(*event_log_, *store_, clock_,
                                         IntakeOptions{.append_timeout = config_.produce_timeout,
                                                       .projection_wait = config_.projection_wait,
                                                       .rules = rules},
                                         &fold_watch_);
  RETURN_IF_ERROR(StartProjection());

  service_ = std::make_unique<IntakeService>(*security_.guard, *logic_, *metrics_, rules);
  casework_ = std::make_unique<CaseWorkService>(*security_.guard, *logic_, *metrics_);
  admin_service_ =
      std::make_unique<AdminService>(*security_.guard, [this] { return RebuildProjection(); });
  RETURN_IF_ERROR(grpc_.Start(config_.grpc_listen,
                              {service_.get(), casework_.get(), admin_service_.get()},
                              security_.credentials));
  grpc_.SetServing(true);
  started_ = true;
  log::Info("intake started", {{"grpc", config_.grpc_listen},
                               {"grpc_port", grpc_.port()},
                               {"admin_port", admin_->port()},
                               {"kafka", config_.kafka_brokers},
                               {"redis", config_.redis_address}});
  return absl::OkStatus();
}

absl::Status IntakeApp::StartProjection() {
  ASSIGN_OR_RETURN(auto consumer, service::MakeCaseEventConsumer(config_, config_.consumer_group,
                                                                 "meldpunt-intake"));
  absl::MutexLock lock(&projection_mu_);
  projection_ = std::make_unique<events::EventConsumer>(
      std::move(consumer),
      [this](const events::Envelope& e, const kafka::Record& r) {
        return HandleEvent(e, r.offset);
      },
      registry_.get(), config_.consumer_group, service::LoopOptions(config_));
  projection_->Start();
  return absl::OkStatus();
}

absl::Status IntakeApp::HandleEvent(const events::Envelope& envelope, int64_t offset) {
  Case folded;
  absl::StatusOr<ApplyOutcome> outcome = store_->Apply(envelope, offset, &folded);
  if (outcome.ok()) {
    fold_watch_.Folded(envelope.case_id(), envelope.event_id(),
                       *outcome == ApplyOutcome::kDuplicate ? nullptr : &folded);
    if (*outcome == ApplyOutcome::kRejected) {
      metrics_->ProjectionRejected();
      log::Warning("event refused by the case state machine; kept in the history as refused",
                   {{"case_id", envelope.case_id()},
                    {"event_id", envelope.event_id()},
                    {"type", envelope.type()}});
    } else {
      metrics_->ProjectionApplied(*outcome == ApplyOutcome::kDuplicate);
    }
    return absl::OkStatus();
  }
  if (outcome.status().code() == absl::StatusCode::kFailedPrecondition) {
    // An event for a case that was never submitted: nowhere to keep it; counted and skipped.
    metrics_->ProjectionRejected();
    log::Warning("event for an unknown case", {{"case_id", envelope.case_id()},
                                               {"event_id", envelope.event_id()},
                                               {"error", outcome.status().ToString()}});
    return absl::OkStatus();
  }
  return outcome.status();
}

absl::StatusOr<v1::RebuildProjectionResponse> IntakeApp::RebuildProjection() {
  if (rebuilding_.exchange(true)) return absl::AbortedError("a rebuild is already running");
  struct Done {
    std::atomic<bool>& flag;
    ~Done() { flag = false; }
  } done{rebuilding_};
  log::Warning("projection rebuild started: queries answer NOT_FOUND until it is done");
  {
    absl::MutexLock lock(&projection_mu_);
    if (projection_) projection_->Stop();
    projection_.reset();
  }
  ASSIGN_OR_RETURN(int64_t removed, store_->Clear());
  v1::RebuildProjectionResponse response;
  std::atomic<int64_t> cases{0};
  // The partitions in parallel lanes, as the live projection folds them.
  absl::StatusOr<int64_t> records = service::ReplayCaseLog(
      config_, "meldpunt-intake-rebuild", config_.rebuild_timeout,
      [&](const events::Envelope& e, const kafka::Record& r) -> absl::Status {
        RETURN_IF_ERROR(HandleEvent(e, r.offset));
        if (e.payload_case() == events::Envelope::kCaseSubmitted) ++cases;
        return absl::OkStatus();
      },
      service::LoopOptions(config_).lanes);
  response.set_cases(cases.load());
  // The projection consumer comes back whatever happened, so the intake keeps serving.
  absl::Status restarted = StartProjection();
  if (!records.ok()) return records.status();
  RETURN_IF_ERROR(restarted);
  response.set_events(*records);
  log::Warning(
      "projection rebuilt",
      {{"keys_removed", removed}, {"events", response.events()}, {"cases", response.cases()}});
  return response;
}

bool IntakeApp::Ready() const {
  if (!started_ || rebuilding_) return false;
  absl::MutexLock lock(const_cast<absl::Mutex*>(&projection_mu_));
  return projection_ && projection_->running();
}

void IntakeApp::Stop() {
  if (started_.exchange(false)) {
    grpc_.Shutdown(config_.shutdown_grace);
    absl::MutexLock lock(&projection_mu_);
    if (projection_) projection_->Stop();
    if (producer_) (void)producer_->Flush(absl::Seconds(5));
  }
  if (admin_) admin_->Stop();
}

}  // namespace meldpunt::intake
