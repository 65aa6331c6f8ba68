#include "services/deadline_watch/app.h"

#include "absl/time/clock.h"
#include "libs/events/event_log.h"
#include "libs/events/topics.h"
#include "libs/kafka/admin.h"
#include "libs/observability/log.h"
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
  ASSIGN_OR_RETURN(auto consumer, service::MakeCaseEventConsumer(config_, config_.consumer_group,
                                                                 "meldpunt-deadline-watch", this));
  consumer_ = std::make_unique<events::EventConsumer>(
      std::move(consumer),
      [this](const events::Envelope& e, const kafka::Record& r) {
        return logic_->OnEvent(e, r.partition);
      },
      registry_.get(), config_.consumer_group);
  consumer_->Start();
  timer_thread_ = std::thread([this] { TimerLoop(); });
  service_ = std::make_unique<DeadlineService>(*store_);
  RETURN_IF_ERROR(grpc_.Start(config_.grpc_listen, {service_.get()}));
  grpc_.SetServing(true);
  started_ = true;
  log::Info("deadline-watch started", {{"grpc_port", grpc_.port()},
                                       {"admin_port", admin_->port()},
                                       {"clocks", logic_->policies().size()}});
  return absl::OkStatus();
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
  while (!stop_.load()) {
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

bool DeadlineApp::Ready() const { return started_ && consumer_ && consumer_->running(); }

void DeadlineApp::Stop() {
  if (started_) {
    started_ = false;
    grpc_.Shutdown(config_.shutdown_grace);
    stop_ = true;
    if (timer_thread_.joinable()) timer_thread_.join();
    if (consumer_) consumer_->Stop();
    if (producer_) (void)producer_->Flush(absl::Seconds(5));
  }
  if (admin_) admin_->Stop();
}

}  // namespace meldpunt::deadline
