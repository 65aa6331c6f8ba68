#include "services/deadline_watch/app.h"

#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/observability/log.h"
#include "libs/service/replay.h"
#include "libs/status/status_macros.h"

namespace meldpunt::deadline {

DeadlineApp::DeadlineApp(DeadlineConfig config)
    : config_(std::move(config)),
      registry_(std::make_shared<prometheus::Registry>()),
      app_("deadline-watch", config_) {}

DeadlineApp::~DeadlineApp() { Stop(); }

absl::Status DeadlineApp::Start() {
  RETURN_IF_ERROR(app_.Start([this] { return StartSteps(); }));
  log::Info("deadline-watch started", {{"grpc_port", grpc_.port()},
                                       {"admin_port", admin_->port()},
                                       {"clocks", logic_->policies().size()}});
  return absl::OkStatus();
}

absl::Status DeadlineApp::StartSteps() {
  ASSIGN_OR_RETURN(security_, service::MakeGrpcSecurity(config_, registry_.get()));
  ASSIGN_OR_RETURN(std::vector<ClockPolicy> policies, ParsePolicies(config_.clocks));
  ASSIGN_OR_RETURN(
      calendar::BusinessCalendar cal,
      calendar::BusinessCalendar::Create({config_.time_zone, config_.flemish_holiday,
                                          config_.closing_days, config_.working_hours}));
  calendar_ = std::make_unique<calendar::BusinessCalendar>(std::move(cal));
  if (config_.catalog_file.empty()) {
    log::Warning(
        "no category catalogue (catalog.file): a policy for a category applies to that "
        "category only, not to the categories under it; for development only");
  } else {
    ASSIGN_OR_RETURN(catalog_, catalog::CatalogFile::Open(config_.catalog_file));
    RETURN_IF_ERROR(CheckCategories(policies, *catalog_->Current()));
  }
  metrics_ = std::make_unique<DeadlineMetrics>(*registry_);
  admin_ = std::make_unique<observability::AdminServer>(registry_, [this] { return Ready(); });
  RETURN_IF_ERROR(app_.Step(
      "admin server", [this] { return admin_->Start(config_.admin_listen); },
      [this] { admin_->Stop(); }));

  RETURN_IF_ERROR(service::EnsureTopicsAtStart(config_));
  ASSIGN_OR_RETURN(producer_, service::MakeProducer(config_, "meldpunt-deadline-watch"));
  producer_->ExportMetrics(*registry_);
  app_.Defer("producer", [this] { (void)producer_->Flush(absl::Seconds(5)); });
  sink_ = std::make_unique<service::ProducerSink>(*producer_);
  ASSIGN_OR_RETURN(redis_, service::ConnectRedisAtStart(config_, {RedisTimerStore::ClaimScript()}));
  durability_ = std::make_unique<service::RedisDurability>(*redis_);
  store_ = std::make_unique<RedisTimerStore>(*redis_);
  logic_ = std::make_unique<DeadlineLogic>(
      *store_, clock_, *calendar_, std::move(policies),
      DeadlineOptions{.lease = config_.lease,
                      .claim_limit = static_cast<int>(config_.claim_limit),
                      .catalog = catalog_.get()});

  consumer_ = std::make_unique<service::ConsumerSlot>(
      [this]() -> absl::StatusOr<std::unique_ptr<events::EventConsumer>> {
        ASSIGN_OR_RETURN(auto consumer, service::MakeCaseEventConsumer(
                                            config_, config_.consumer_group,
                                            "meldpunt-deadline-watch", timer_loop_.get()));
        // A lane's run at once; each case at most once per batch, so a case's next record is
        // handled once the clock events of its earlier one are durable. Its own clock records
        // change nothing here and do not count.
        events::EventConsumerOptions loop =
            service::LoopOptions(config_, dead_letters_.sink.get(), durability_.get());
        loop.one_record_per_case = true;
        loop.inert = &DeadlineLogic::Inert;
        return std::make_unique<events::EventConsumer>(
            std::move(consumer),
            events::BatchHandler([this](events::Batch& b) { handler_->Handle(b); }),
            registry_.get(), config_.consumer_group, loop);
      });
  rebuild_ = std::make_unique<TimerRebuild>(
      app_.rebuild(), *store_, *store_, *logic_, *consumer_,
      [this](const events::BatchHandler& handle, const std::function<absl::Status()>& reached) {
        // A lane per Redis connection: cases are independent.
        return service::ReplayCaseLog(
            config_, "meldpunt-deadline-watch-rebuild", app_.replay_timeout(), handle,
            static_cast<int>(config_.redis_pool_size), reached, DeadlineLogic::InertPayloads());
      });
  handler_ = std::make_unique<DeadlineHandler>(*logic_, *rebuild_, *sink_, *metrics_,
                                               config_.produce_timeout);
  timer_loop_ = std::make_unique<TimerLoop>(
      *logic_, *store_, *sink_, *rebuild_, *metrics_, clock_,
      TimerLoopOptions{.poll_interval = config_.poll_interval,
                       .produce_timeout = config_.produce_timeout,
                       .claim_limit = static_cast<int>(config_.claim_limit)});
  dead_letters_ = service::MakeDeadLetters(
      config_, *security_.guard, *producer_, "deadline-watch", config_.consumer_group,
      [this](const events::Envelope& e, const kafka::Record& r) { return handler_->Handle(e, r); });
  // Registered before it starts: a start that rebuilt the timers and then failed leaves a running
  // consumer to stop.
  app_.Defer("case-event consumer", [this] { consumer_->Stop(); });
  RETURN_IF_ERROR(rebuild_->StartFollowing());

  {
    // The alert stream follows every partition from the end, whichever this replica owns.
    kafka::ConsumerOptions options;
    options.group_id = events::RandomId("meldpunt-deadline-watch-alerts");
    options.topics = {events::kCaseEventsTopic};
    options.client_id = "meldpunt-deadline-watch-alerts";
    // It reads every record of the log, as the case-event consumer does: with the same fewer,
    // fuller fetches (with librdkafka's defaults it fetched again for every produce request of
    // the stack: see docs/benchmarks.md, "The alert stream's fetches").
    options.extra = service::CaseEventConsumerProperties(config_);
    options.extra["auto.offset.reset"] = "latest";
    options.extra["enable.auto.commit"] = "false";
    ASSIGN_OR_RETURN(auto tail, service::MakeConsumer(config_, std::move(options)));
    alert_tail_ = std::make_unique<AlertTail>(AlertTail::FromConsumer(std::move(tail)), alerts_);
  }
  RETURN_IF_ERROR(app_.Step(
      "alert stream reader",
      [this] {
        alert_tail_->Start();
        return absl::OkStatus();
      },
      [this] { alert_tail_->Stop(); }));
  RETURN_IF_ERROR(app_.Step(
      "timer loop",
      [this] {
        timer_loop_->Start();
        return absl::OkStatus();
      },
      [this] { timer_loop_->Stop(); }));

  service_ = std::make_unique<DeadlineService>(
      *security_.guard, *store_, alerts_, [this] { return rebuild_->Rebuild(); }, *logic_,
      [this](const std::vector<events::Envelope>& out) { return handler_->Append(out); });
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
      [this] {
        alerts_.Close();  // open WatchDeadlines streams end, so the server can drain
        grpc_.Shutdown(config_.shutdown_grace);
      }));
  dependencies_ = std::make_unique<service::DependencyCheck>(
      producer_.get(), std::vector<redis::Client*>{redis_.get()});
  return absl::OkStatus();
}

bool DeadlineApp::Ready() const {
  // Not while a rebuild runs (the base says so); ready once the alert stream follows the log too
  // (a stream opened later misses nothing).
  return app_.Ready(
      [this] { return alert_tail_->assigned() && consumer_->Ready() && dependencies_->up(); });
}

void DeadlineApp::Stop() { app_.Stop(); }

}  // namespace meldpunt::deadline
