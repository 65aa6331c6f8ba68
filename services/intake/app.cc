#include "services/intake/app.h"

#include <algorithm>

#include "libs/events/topics.h"
#include "libs/observability/log.h"
#include "libs/service/replay.h"
#include "libs/status/status_macros.h"

namespace meldpunt::intake {
namespace {

// Each runs a Redis round trip and answers a call; four keep up with the producer's callbacks.
constexpr int kCompletionThreads = 4;

}  // namespace

IntakeApp::IntakeApp(IntakeConfig config)
    : config_(std::move(config)),
      registry_(std::make_shared<prometheus::Registry>()),
      app_("intake", config_) {}

IntakeApp::~IntakeApp() { Stop(); }

absl::Status IntakeApp::Start() {
  RETURN_IF_ERROR(app_.Start([this] { return StartSteps(); }));
  log::Info("intake started", {{"grpc", config_.grpc_listen},
                               {"grpc_port", grpc_.port()},
                               {"admin_port", admin_->port()},
                               {"kafka", config_.kafka_brokers},
                               {"redis", config_.redis_address}});
  return absl::OkStatus();
}

absl::Status IntakeApp::StartSteps() {
  metrics_ = std::make_unique<IntakeMetrics>(*registry_);
  ASSIGN_OR_RETURN(security_, service::MakeGrpcSecurity(config_, registry_.get()));
  admin_ = std::make_unique<observability::AdminServer>(registry_, [this] { return Ready(); });
  RETURN_IF_ERROR(app_.Step(
      "admin server", [this] { return admin_->Start(config_.admin_listen); },
      [this] { admin_->Stop(); }));

  RETURN_IF_ERROR(service::EnsureTopicsAtStart(
      config_,
      {events::TopicSpecFor(events::kAuditTopic, static_cast<int>(config_.case_events_partitions),
                            static_cast<int>(config_.replication_factor))}));
  ASSIGN_OR_RETURN(producer_, service::MakeProducer(config_, "meldpunt-intake"));
  producer_->ExportMetrics(*registry_);
  app_.Defer("producer", [this] { (void)producer_->Flush(absl::Seconds(5)); });
  event_log_ = std::make_unique<events::KafkaEventLog>(*producer_);
  ASSIGN_OR_RETURN(redis_, service::ConnectRedisAtStart(config_, RedisCaseStore::Scripts()));
  durability_ = std::make_unique<service::RedisDurability>(*redis_);
  ASSIGN_OR_RETURN(privacy_, service::ConnectKeyStoreAtStart(config_));
  audit_ = std::make_unique<audit::KafkaAuditTrail>(*producer_);
  store_ = std::make_unique<RedisCaseStore>(*redis_);
  if (config_.catalog_file.empty()) {
    log::Warning(
        "no category catalogue (catalog.file): categories are checked as ids only, and "
        "GetCategories answers FAILED_PRECONDITION; for development only");
  } else {
    ASSIGN_OR_RETURN(catalog_, catalog::CatalogFile::Open(config_.catalog_file));
  }
  const CommandRules rules{.reopen_window = config_.reopen_window,
                           .received_at_max_age = config_.received_at_max_age,
                           .received_at_systems = config_.received_at_systems};
  completions_ = std::make_unique<Completions>(kCompletionThreads);
  logic_ = std::make_unique<IntakeLogic>(
      *event_log_, *store_, clock_,
      IntakeOptions{
          .append_timeout = config_.produce_timeout,
          .projection_wait = config_.projection_wait,
          .rules = rules,
          .keys = privacy_.keys.get(),
          .rebuilding = [this] { return app_.rebuild().running(); },
          .incomplete =
              [this] {
                // The fold is handling records again whose writes a Redis failover may have
                // taken (their offsets were never committed): the case may be among them.
                if (durability_->behind()) return true;
                // Unknown counts as incomplete: "retry", never a false NOT_FOUND.
                absl::StatusOr<bool> intact = store_->Intact();
                return !intact.ok() || !*intact;
              },
          .catalog = catalog_.get(),
          .defer = [this](std::function<void()> work) { completions_->Post(std::move(work)); }},
      &fold_watch_);
  // Every write of a case keeps the retention index with it, in the same step.
  store_->KeepRetention([this](const std::string& kind) { return config_.RetentionOf(kind); });
  retention_index_ = std::make_unique<RedisRetentionIndex>(*redis_);
  retention_ = std::make_unique<RetentionJob>(
      *retention_index_, *store_,
      [this](Command command, absl::Time deadline) {
        return logic_->Erase(std::move(command), deadline);
      },
      clock_,
      RetentionOptions{.interval = config_.retention_interval,
                       .produce_timeout = config_.produce_timeout,
                       .intact = [this] { return store_->Intact(); }});
  fold_ = std::make_unique<ProjectionFold>(*store_, *store_, fold_watch_, *metrics_, clock_);
  dead_letters_ = service::MakeDeadLetters(config_, *security_.guard, *producer_, "intake",
                                           config_.consumer_group,
                                           [this](const events::Envelope& e, const kafka::Record&) {
                                             // A replay comes after later events of its case were
                                             // folded: no offset check (the event id still drops a
                                             // repeat).
                                             return fold_->FoldLiveOne(e, -1);
                                           });
  projection_ = std::make_unique<service::ConsumerSlot>(
      [this]() -> absl::StatusOr<std::unique_ptr<events::EventConsumer>> {
        ASSIGN_OR_RETURN(auto consumer, service::MakeCaseEventConsumer(
                                            config_, config_.consumer_group, "meldpunt-intake"));
        return std::make_unique<events::EventConsumer>(
            std::move(consumer),
            events::BatchHandler([this](events::Batch& batch) { fold_->FoldLive(batch); }),
            registry_.get(), config_.consumer_group,
            service::LoopOptions(config_, dead_letters_.sink.get(), durability_.get()));
      });
  rebuild_ = std::make_unique<ProjectionRebuild>(
      app_.rebuild(), *store_, *store_, *fold_, *projection_,
      [this](absl::Time deadline) { return projection_->AwaitJoined(deadline); },
      [this](const events::BatchHandler& handle, const std::function<absl::Status()>& reached) {
        // The partitions in parallel lanes, as the live projection folds them.
        return service::ReplayCaseLog(config_, "meldpunt-intake-rebuild", app_.replay_timeout(),
                                      handle, service::LoopOptions(config_).lanes, reached);
      },
      ProjectionRebuildOptions{.join_timeout = config_.startup_timeout});
  rebuild_->SetHookForTest([this](const std::string& step) {
    if (rebuild_hook_) rebuild_hook_(step);
  });
  RETURN_IF_ERROR(app_.Step(
      "projection consumer", [this] { return projection_->Start(); },
      [this] { projection_->Stop(); }));
  // Stopped once the gRPC server (whose stop comes first) has answered every SubmitCase, and
  // before logic_, which its work calls, goes.
  app_.Defer("completions", [this] { completions_.reset(); });

  service_ = std::make_unique<IntakeService>(*security_.guard, *logic_, *metrics_, rules,
                                             privacy_.sealer.get(), audit_.get());
  casework_ = std::make_unique<CaseWorkService>(*security_.guard, *logic_, *metrics_);
  admin_service_ = std::make_unique<AdminService>(*security_.guard, *logic_, *metrics_,
                                                  [this] { return RebuildProjection(); });
  grpc_.SetMetrics(registry_.get());
  // Cases of a period are found among those registered up to this long after it: at least the
  // furthest a receipt may lie before its registration.
  reporting_ = std::make_unique<ReportingService>(
      *security_.guard, *store_, clock_,
      std::max(ReportingService::kDefaultRegistrationDelay, config_.received_at_max_age),
      catalog_.get());
  RETURN_IF_ERROR(app_.Step(
      "grpc server",
      [this]() -> absl::Status {
        RETURN_IF_ERROR(grpc_.Start(config_.grpc_listen,
                                    {service_.get(), casework_.get(), admin_service_.get(),
                                     reporting_.get(), dead_letters_.service.get()},
                                    security_.credentials));
        grpc_.SetServing(true);
        return absl::OkStatus();
      },
      // Waits for every SubmitCase to be answered.
      [this] { grpc_.Shutdown(config_.shutdown_grace); }));
  dependencies_ = std::make_unique<service::DependencyCheck>(
      producer_.get(), std::vector<redis::Client*>{redis_.get(), privacy_.redis.get()});
  RETURN_IF_ERROR(app_.Step(
      "retention job",
      [this] {
        retention_->Start();
        return absl::OkStatus();
      },
      [this] { retention_->Stop(); }));
  RETURN_IF_ERROR(app_.Step(
      "projection watcher",
      [this] {
        rebuild_->Start();
        return absl::OkStatus();
      },
      [this] { rebuild_->Stop(); }));
  return absl::OkStatus();
}

bool IntakeApp::Ready() const {
  // Not while a rebuild runs here (the base says so).
  return app_.Ready([this] { return projection_->Ready() && dependencies_->up(); });
}

void IntakeApp::Stop() { app_.Stop(); }

}  // namespace meldpunt::intake
