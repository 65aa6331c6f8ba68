#include "services/routing/app.h"

#include "libs/observability/log.h"
#include "libs/status/status_macros.h"

namespace meldpunt::routing {

RoutingApp::RoutingApp(RoutingConfig config)
    : config_(std::move(config)),
      registry_(std::make_shared<prometheus::Registry>()),
      app_("routing", config_) {}

RoutingApp::~RoutingApp() { Stop(); }

absl::Status RoutingApp::Start() {
  RETURN_IF_ERROR(app_.Start([this] { return StartSteps(); }));
  log::Info("routing started", {{"grpc_port", grpc_.port()},
                                {"admin_port", admin_->port()},
                                {"rules", rules_->Current()->rule_count()}});
  return absl::OkStatus();
}

absl::Status RoutingApp::StartSteps() {
  ASSIGN_OR_RETURN(security_, service::MakeGrpcSecurity(config_, registry_.get()));
  metrics_ = std::make_unique<RoutingMetrics>(*registry_);
  rules_ = std::make_unique<RuleBook>(
      RuleBookOptions{.rules_file = config_.rules_file,
                      .catalog_file = config_.catalog_file,
                      .dispatch_partitions = static_cast<int>(config_.dispatch_partitions),
                      .replication_factor = static_cast<int>(config_.replication_factor)},
      [this](const std::vector<kafka::TopicSpec>& topics) {
        return service::EnsureTopics(config_, topics, absl::Seconds(10));
      },
      *metrics_);
  RETURN_IF_ERROR(rules_->Load());
  logic_ = std::make_unique<RoutingLogic>(clock_);
  admin_ = std::make_unique<observability::AdminServer>(registry_, [this] { return Ready(); });
  RETURN_IF_ERROR(app_.Step(
      "admin server", [this] { return admin_->Start(config_.admin_listen); },
      [this] { admin_->Stop(); }));

  RETURN_IF_ERROR(
      service::EnsureTopicsAtStart(config_, rules_->DispatchTopics(*rules_->Current())));
  ASSIGN_OR_RETURN(producer_, service::MakeProducer(config_, "meldpunt-routing"));
  producer_->ExportMetrics(*registry_);
  app_.Defer("producer", [this] { (void)producer_->Flush(absl::Seconds(5)); });
  sink_ = std::make_unique<service::ProducerSink>(*producer_);
  ASSIGN_OR_RETURN(redis_, service::ConnectRedisAtStart(config_));
  durability_ = std::make_unique<service::RedisDurability>(*redis_);
  store_ = std::make_unique<RedisRouteStore>(*redis_);
  handler_ = std::make_unique<RoutingHandler>(*store_, *logic_, *rules_, *sink_, *metrics_,
                                              config_.produce_timeout);
  ASSIGN_OR_RETURN(auto consumer, service::MakeCaseEventConsumer(config_, config_.consumer_group,
                                                                 "meldpunt-routing"));
  auto handle = [this](const events::Envelope& e, const kafka::Record&) {
    return handler_->Handle(e);
  };
  dead_letters_ = service::MakeDeadLetters(config_, *security_.guard, *producer_, "routing",
                                           config_.consumer_group, handle);
  // A lane's run at once; a case's later records in a run start from the state its earlier ones
  // left, and the run's states are saved once its records are acknowledged.
  events::EventConsumerOptions loop =
      service::LoopOptions(config_, dead_letters_.sink.get(), durability_.get());
  consumer_ = std::make_unique<events::EventConsumer>(
      std::move(consumer), events::BatchHandler([this](events::Batch& b) { handler_->Handle(b); }),
      registry_.get(), config_.consumer_group, loop);
  RETURN_IF_ERROR(app_.Step(
      "case-event consumer",
      [this] {
        consumer_->Start();
        return absl::OkStatus();
      },
      [this] { consumer_->Stop(); }));

  service_ = std::make_unique<RoutingService>(
      *security_.guard, [this] { return rules_->Current(); }, [this] { return ReloadRules(); },
      [this](const RuleSet& r, const std::string& d) { return handler_->OpenCases(r, d); },
      [this](const std::string& d, const std::vector<std::string>& members) {
        return store_->Workload(d, members);
      },
      [this] { return store_->Triage(); }, clock_, config_.rules_file);
  grpc_.SetMetrics(registry_.get());
  RETURN_IF_ERROR(app_.Step(
      "grpc server",
      [this]() -> absl::Status {
        RETURN_IF_ERROR(grpc_.Start(config_.grpc_listen,
                                    {service_.get(), dead_letters_.service.get()},
                                    security_.credentials));
        grpc_.SetServing(true);
        return absl::OkStatus();
      },
      [this] { grpc_.Shutdown(config_.shutdown_grace); }));
  reload_on_signal_ = std::make_unique<ReloadOnSignal>([this] { (void)ReloadRules(); });
  RETURN_IF_ERROR(app_.Step(
      "rules reload on SIGHUP",
      [this] {
        reload_on_signal_->Start();
        return absl::OkStatus();
      },
      [this] { reload_on_signal_->Stop(); }));
  // No key store: routing never opens the reporter (nothing personal goes on a dispatch feed).
  dependencies_ = std::make_unique<service::DependencyCheck>(
      producer_.get(), std::vector<redis::Client*>{redis_.get()});
  return absl::OkStatus();
}

absl::Status RoutingApp::ReloadRules() { return rules_->Reload(); }

bool RoutingApp::Ready() const {
  return app_.Ready(
      [this] { return consumer_->running() && consumer_->joined() && dependencies_->up(); });
}

void RoutingApp::Stop() { app_.Stop(); }

}  // namespace meldpunt::routing
