#include "services/deadline_watch/app.h"

#include "absl/time/clock.h"
#include "libs/events/event_log.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/kafka/admin.h"
#include "libs/observability/log.h"
#include "libs/service/replay.h"
#include "libs/service/wiring.h"
#include "libs/status/status_macros.h"

namespace meldpunt::deadline {

DeadlineApp::DeadlineApp(DeadlineConfig config)
    : config_(std::move(config)), registry_(std::make_shared<prometheus::Registry>()) {}

DeadlineApp::~DeadlineApp() { Stop(); }

absl::Status DeadlineApp::Start() {
  ASSIGN_OR_RETURN(std::vector<ClockPolicy> policies, ParsePolicies(config_.clocks));
  ASSIGN_OR_RETURN(calendar::BusinessCalendar cal,
                   calendar::BusinessCalendar::Create(
                       {config_.time_zone, config_.flemish_holiday, config_.closing_days}));
  calendar_ = std::make_unique<calendar::BusinessCalendar>(std::move(cal));
  fired_ = &prometheus::BuildCounter()
                .Name("meldpunt_deadline_fired_total")
                .Help("Deadline warnings and breaches fired, by clock and kind")
                .Register(*registry_);
  admin_ = std::make_unique<observability::AdminServer>(registry_, [this] { return Ready(); });
  RETURN_IF_ERROR(admin_->Start(config_.admin_listen));
  RETURN_IF_ERROR(service::EnsureTopicsAtStart(config_));
  ASSIGN_OR_RETURN(producer_, service::MakeProducer(config_, "meldpunt-deadline-watch"));
  ASSIGN_OR_RETURN(redis_, service::ConnectRedisAtStart(config_, {RedisTimerStore::ClaimScript()}));
  store_ = std::make_unique<RedisTimerStore>(*redis_);
  logic_ = std::make_unique<DeadlineLogic>(*store_, clock_, *calendar_, std::move(policies),
                                           DeadlineOptions{.lease = config_.lease});
  ASSIGN_OR_RETURN(bool intact, store_->Intact());
  if (!intact) {
    // A new Redis, or one that lost its data: the timers are rebuilt from the log first.
    log::Warning("timers not known to be complete; rebuilding them from the log");
    ASSIGN_OR_RETURN(int64_t replayed, RebuildTimers());
    (void)replayed;
  } else {
    RETURN_IF_ERROR(StartConsumer());
  }
  timer_thread_ = std::thread([this] { TimerLoop(); });
  service_ = std::make_unique<DeadlineService>(*store_, [this] { return RebuildTimers(); });
  RETURN_IF_ERROR(grpc_.Start(config_.grpc_listen, {service_.get()}));
  grpc_.SetServing(true);
  started_ = true;
  log::Info("deadline-watch started", {{"grpc_port", grpc_.port()},
                                       {"admin_port", admin_->port()},
                                       {"clocks", logic_->policies().size()}});
  return absl::OkStatus();
}

absl::Status DeadlineApp::StartConsumer() {
  ASSIGN_OR_RETURN(auto consumer, service::MakeCaseEventConsumer(config_, config_.consumer_group,
                                                                 "meldpunt-deadline-watch", this));
  absl::MutexLock lock(&consumer_mu_);
  consumer_ = std::make_unique<events::EventConsumer>(
      std::move(consumer),
      [this](const events::Envelope& e, const kafka::Record& r) {
        return logic_->OnEvent(e, r.partition);
      },
      registry_.get(), config_.consumer_group);
  consumer_->Start();
  return absl::OkStatus();
}

absl::StatusOr<int64_t> DeadlineApp::RebuildTimers() {
  if (rebuilding_.exchange(true)) return absl::AbortedError("a rebuild is already running");
  struct Done {
    std::atomic<bool>& flag;
    ~Done() { flag = false; }
  } done{rebuilding_};
  {
    absl::MutexLock lock(&consumer_mu_);
    if (consumer_) consumer_->Stop();
    consumer_.reset();
  }
  RETURN_IF_ERROR(store_->Clear());
  absl::StatusOr<int64_t> replayed =
      service::ReplayCaseLog(config_, "meldpunt-deadline-rebuild", absl::Minutes(30),
                             [this](const events::Envelope& e, const kafka::Record& r) {
                               return logic_->OnEvent(e, r.partition);
                             });
  if (!replayed.ok()) {
    RETURN_IF_ERROR(StartConsumer());  // keep following the log; the marker stays unset: retried
    return replayed.status();
  }
  RETURN_IF_ERROR(store_->MarkIntact());
  RETURN_IF_ERROR(StartConsumer());
  log::Warning("timers rebuilt from the log", {{"events", *replayed}});
  return *replayed;
}

void DeadlineApp::OnAssigned(const std::vector<kafka::TopicPartition>& partitions) {
  absl::MutexLock lock(&mu_);
  for (const auto& tp : partitions) partitions_.insert(tp.partition);
}

void DeadlineApp::OnRevoked(const std::vector<kafka::TopicPartition>& partitions) {
  absl::MutexLock lock(&mu_);
  for (const auto& tp : partitions) partitions_.erase(tp.partition);
}

void DeadlineApp::TimerLoop() {
  int pass = 0;
  while (!stop_.load()) {
    if (rebuilding_.load()) {
      absl::SleepFor(config_.poll_interval);
      continue;
    }
    // Every 50 passes: has Redis lost its data (FLUSHALL, a new instance)? Then rebuild.
    if (++pass % 50 == 0) {
      absl::StatusOr<bool> intact = store_->Intact();
      if (intact.ok() && !*intact) {
        log::Warning("Redis lost the timers; rebuilding them from the log");
        if (absl::StatusOr<int64_t> r = RebuildTimers(); !r.ok()) {
          log::Error("timer rebuild failed; will try again", {{"error", r.status().ToString()}});
        }
        continue;
      }
    }
    std::set<int32_t> partitions;
    {
      absl::MutexLock lock(&mu_);
      partitions = partitions_;
    }
    for (int32_t partition : partitions) {
      if (absl::Status status = FirePartition(partition); !status.ok()) {
        log::Warning("firing timers failed; they stay due and fire on a later pass",
                     {{"partition", partition}, {"error", status.ToString()}});
      }
    }
    absl::SleepFor(config_.poll_interval);
  }
}

absl::Status DeadlineApp::FirePartition(int32_t partition) {
  ASSIGN_OR_RETURN(std::vector<Firing> firings, logic_->ClaimDue(partition));
  for (const Firing& firing : firings) {
    if (firing.event.has_value()) {
      ASSIGN_OR_RETURN(kafka::Delivered delivered,
                       producer_->Send(events::ToRecord(events::kCaseEventsTopic, *firing.event),
                                       absl::Now() + config_.produce_timeout));
      (void)delivered;
      fired_->Add({{"clock", firing.timer.clock}, {"kind", firing.timer.kind}}).Increment();
      log::Info("deadline fired", {{"case_id", firing.timer.case_id},
                                   {"clock", firing.timer.clock},
                                   {"kind", firing.timer.kind},
                                   {"event_id", firing.event->event_id()}});
    }
    RETURN_IF_ERROR(logic_->Complete(partition, firing));
  }
  return absl::OkStatus();
}

bool DeadlineApp::Ready() const {
  if (!started_ || rebuilding_) return false;
  absl::MutexLock lock(const_cast<absl::Mutex*>(&consumer_mu_));
  return consumer_ && consumer_->running();
}

void DeadlineApp::Stop() {
  if (started_) {
    started_ = false;
    grpc_.Shutdown(config_.shutdown_grace);
    stop_ = true;
    if (timer_thread_.joinable()) timer_thread_.join();
    absl::MutexLock lock(&consumer_mu_);
    if (consumer_) consumer_->Stop();
    if (producer_) (void)producer_->Flush(absl::Seconds(5));
  }
  if (admin_) admin_->Stop();
}

}  // namespace meldpunt::deadline
