#include "services/deadline_watch/app.h"

#include "absl/time/clock.h"
#include "libs/events/event_log.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/kafka/admin.h"
#include "libs/observability/log.h"
#include "libs/service/replay.h"
#include "libs/service/wiring.h"
#include "libs/status/retry.h"
#include "libs/status/status_macros.h"
#include "services/deadline_watch/firer.h"

namespace meldpunt::deadline {

DeadlineApp::DeadlineApp(DeadlineConfig config)
    : config_(std::move(config)), registry_(std::make_shared<prometheus::Registry>()) {}

DeadlineApp::~DeadlineApp() { Stop(); }

absl::Status DeadlineApp::Start() {
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
  fired_ = &prometheus::BuildCounter()
                .Name("meldpunt_deadline_fired_total")
                .Help("Deadline warnings and breaches fired, by clock and kind")
                .Register(*registry_);
  breaches_ = &prometheus::BuildCounter()
                   .Name("meldpunt_deadline_breaches_total")
                   .Help("Deadline breaches fired, by department and clock")
                   .Register(*registry_);
  clock_events_ = &prometheus::BuildCounter()
                       .Name("meldpunt_deadline_clock_events_total")
                       .Help("Clock events appended (ClockStarted, ClockPaused, ...), by type")
                       .Register(*registry_);
  lateness_ = &prometheus::BuildHistogram()
                   .Name("meldpunt_deadline_firing_lateness_seconds")
                   .Help("Time from a timer's due instant until its event was in the log")
                   .Register(*registry_)
                   .Add({}, prometheus::Histogram::BucketBoundaries{
                                0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300});
  auto& open = prometheus::BuildGauge()
                   .Name("meldpunt_deadline_open_clocks")
                   .Help("Clocks not stopped (running, warned, breached or paused)")
                   .Register(*registry_);
  open_clocks_ = &open.Add({});
  auto& due = prometheus::BuildGauge()
                  .Name("meldpunt_deadline_due_next_24h")
                  .Help("Open clocks due within the next 24 hours")
                  .Register(*registry_);
  due_24h_ = &due.Add({});
  admin_ = std::make_unique<observability::AdminServer>(registry_, [this] { return Ready(); });
  RETURN_IF_ERROR(admin_->Start(config_.admin_listen));
  RETURN_IF_ERROR(service::EnsureTopicsAtStart(config_));
  ASSIGN_OR_RETURN(producer_, service::MakeProducer(config_, "meldpunt-deadline-watch"));
  producer_->ExportMetrics(*registry_);
  ASSIGN_OR_RETURN(redis_, service::ConnectRedisAtStart(config_, {RedisTimerStore::ClaimScript()}));
  store_ = std::make_unique<RedisTimerStore>(*redis_);
  logic_ = std::make_unique<DeadlineLogic>(
      *store_, clock_, *calendar_, std::move(policies),
      DeadlineOptions{.lease = config_.lease,
                      .claim_limit = static_cast<int>(config_.claim_limit),
                      .catalog = catalog_.get()});
  dead_letters_ = service::MakeDeadLetters(
      config_, *security_.guard, *producer_, "deadline-watch", config_.consumer_group,
      [this](const events::Envelope& e, const kafka::Record& r) { return HandleRecord(e, r); });
  ASSIGN_OR_RETURN(bool intact, store_->Intact());
  if (!intact) {
    // A new Redis, or one that lost its data: the timers are rebuilt from the log first (by this
    // replica, or by another one that got there first: then this one waits for it).
    log::Warning("timers not known to be complete; rebuilding them from the log");
    absl::StatusOr<int64_t> replayed = RebuildTimers();
    if (replayed.status().code() == absl::StatusCode::kAborted) {
      RETURN_IF_ERROR(StartConsumer());
    } else if (!replayed.ok()) {
      return replayed.status();
    }
  } else {
    RETURN_IF_ERROR(StartConsumer());
  }
  {
    // The alert stream follows every partition from the end, whichever this replica owns.
    kafka::ConsumerOptions options;
    options.group_id = events::RandomId("meldpunt-deadline-watch-alerts");
    options.topics = {events::kCaseEventsTopic};
    options.client_id = "meldpunt-deadline-watch-alerts";
    options.extra = {{"auto.offset.reset", "latest"}, {"enable.auto.commit", "false"}};
    ASSIGN_OR_RETURN(tail_, service::MakeConsumer(config_, std::move(options)));
    tail_thread_ = std::thread([this] { TailLoop(); });
  }
  timer_thread_ = std::thread([this] { TimerLoop(); });
  service_ = std::make_unique<DeadlineService>(
      *security_.guard, *store_, alerts_, [this] { return RebuildTimers(); }, *logic_,
      [this](const std::vector<events::Envelope>& out) { return AppendAll(out); });
  grpc_.SetMetrics(registry_.get());
  RETURN_IF_ERROR(grpc_.Start(config_.grpc_listen, {service_.get(), dead_letters_.service.get()},
                              security_.credentials));
  grpc_.SetServing(true);
  dependencies_ = std::make_unique<service::DependencyCheck>(
      producer_.get(), std::vector<redis::Client*>{redis_.get()});
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
      [this](const events::Envelope& e, const kafka::Record& r) { return HandleRecord(e, r); },
      registry_.get(), config_.consumer_group,
      service::LoopOptions(config_, dead_letters_.sink.get()));
  consumer_->Start();
  return absl::OkStatus();
}

absl::Status DeadlineApp::HandleRecord(const events::Envelope& e, const kafka::Record& r) {
  if (remote_rebuild_.load()) {
    // Held in place until the other replica's replay is done: handled now, the event could reach
    // a case the replay has not rebuilt yet.
    return status::InPlace(absl::UnavailableError("another replica is rebuilding the timers"));
  }
  ASSIGN_OR_RETURN(std::vector<events::Envelope> out, logic_->OnEvent(e, r.partition));
  // Appended before the offset is committed: a crash in between handles the event again, which
  // gives the same clock events (same ids) again.
  return AppendAll(out);
}

absl::StatusOr<int64_t> DeadlineApp::RebuildTimers() {
  if (rebuilding_.exchange(true)) return absl::AbortedError("a rebuild is already running");
  struct Done {
    std::atomic<bool>& flag;
    ~Done() { flag = false; }
  } done{rebuilding_};
  ASSIGN_OR_RETURN(bool locked,
                   store_->TryLockRebuild(events::RandomId("rebuild"), absl::Minutes(35)));
  if (!locked) return absl::AbortedError("another replica is rebuilding the timers");
  struct Unlock {
    RedisTimerStore& store;
    ~Unlock() { (void)store.UnlockRebuild(); }
  } unlock{*store_};
  {
    absl::MutexLock lock(&consumer_mu_);
    if (consumer_) consumer_->Stop();
    consumer_.reset();
  }
  RETURN_IF_ERROR(store_->Clear());
  absl::StatusOr<int64_t> replayed = service::ReplayCaseLog(
      config_, "meldpunt-deadline-watch-rebuild", absl::Minutes(30),
      [this](const events::Envelope& e, const kafka::Record& r) {
        // The clock events of the past are in the log already.
        return logic_->OnEvent(e, r.partition).status();
      },
      // A lane per Redis connection: cases are independent.
      static_cast<int>(config_.redis_pool_size));
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
  {
    absl::MutexLock lock(&mu_);
    for (const auto& tp : partitions) partitions_.erase(tp.partition);
  }
  // Wait for a firing pass under way: once this returns, this replica fires nothing more of the
  // partitions that go, so the next owner does not fire them at the same time.
  absl::MutexLock firing(&fire_mu_);
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
      UpdateGauges();
      absl::StatusOr<bool> intact = store_->Intact();
      if (intact.ok() && !*intact) {
        log::Warning("Redis lost the timers; rebuilding them from the log");
        if (absl::StatusOr<int64_t> r = RebuildTimers(); !r.ok()) {
          log::Error("timer rebuild failed; will try again", {{"error", r.status().ToString()}});
        }
        continue;
      }
    }
    // Another replica rebuilding: its replay and this loop would race (timers without clocks).
    absl::StatusOr<bool> remote = store_->RebuildRunning();
    remote_rebuild_ = remote.ok() && *remote;
    if (remote_rebuild_.load()) {
      absl::SleepFor(config_.poll_interval);
      continue;
    }
    absl::ReleasableMutexLock firing(&fire_mu_);
    std::set<int32_t> partitions;
    {
      absl::MutexLock lock(&mu_);
      partitions = partitions_;
    }
    for (int32_t partition : partitions) {
      {
        absl::MutexLock lock(&mu_);
        if (!partitions_.count(partition)) continue;  // revoked meanwhile
      }
      if (absl::Status status = FirePartition(partition); !status.ok()) {
        log::Warning("firing timers failed; they stay due and fire on a later pass",
                     {{"partition", partition}, {"error", status.ToString()}});
      }
    }
    firing.Release();
    absl::SleepFor(config_.poll_interval);
  }
}

absl::Status DeadlineApp::AppendAll(const std::vector<events::Envelope>& envelopes) {
  for (const events::Envelope& e : envelopes) clock_events_->Add({{"type", e.type()}}).Increment();
  return deadline::AppendAll(*producer_, envelopes, config_.produce_timeout);
}

absl::Status DeadlineApp::FirePartition(int32_t partition) {
  FireOptions options{.produce_timeout = config_.produce_timeout,
                      .claim_limit = static_cast<int>(config_.claim_limit),
                      .stop = &stop_};
  absl::StatusOr<int> fired =
      FireDue(*logic_, *producer_, partition, options, [this](const Firing& f, absl::Time now) {
        fired_->Add({{"clock", f.timer.clock}, {"kind", f.timer.kind}}).Increment();
        lateness_->Observe(
            std::max(0.0, absl::ToDoubleSeconds(now - absl::FromUnixMillis(f.timer.fire_ms))));
        if (f.timer.kind == "breach") {
          breaches_
              ->Add({{"department", f.department.empty() ? "none" : f.department},
                     {"clock", f.timer.clock}})
              .Increment();
        }
        log::Info("deadline fired", {{"case_id", f.timer.case_id},
                                     {"clock", f.timer.clock},
                                     {"kind", f.timer.kind},
                                     {"event_id", f.event->event_id()}});
      });
  return fired.status();
}

void DeadlineApp::UpdateGauges() {
  absl::StatusOr<ClockCounts> counts = store_->Counts(absl::Now(), absl::Hours(24));
  if (!counts.ok()) return;
  open_clocks_->Set(static_cast<double>(counts->open));
  due_24h_->Set(static_cast<double>(counts->due_soon));
}

void DeadlineApp::TailLoop() {
  while (!stop_.load()) {
    absl::StatusOr<std::optional<kafka::Record>> record = tail_->Poll(absl::Milliseconds(200));
    if (!record.ok()) {
      log::Warning("alert stream consumer failed", {{"error", record.status().ToString()}});
      absl::SleepFor(absl::Seconds(1));
      continue;
    }
    if (!tail_assigned_.load() && !tail_->Assignment().empty()) tail_assigned_ = true;
    if (!record->has_value()) continue;
    absl::StatusOr<events::Envelope> envelope = events::Decode((*record)->value);
    if (!envelope.ok()) continue;
    if (std::optional<v1::DeadlineAlert> alert = AlertFor(*envelope)) alerts_.Publish(*alert);
  }
}

bool DeadlineApp::Ready() const {
  // Ready once the alert stream follows the log too (a stream opened later misses nothing).
  if (!started_ || rebuilding_ || !tail_assigned_) return false;
  absl::MutexLock lock(const_cast<absl::Mutex*>(&consumer_mu_));
  return consumer_ && consumer_->running() && consumer_->joined() && dependencies_ &&
         dependencies_->up();
}

void DeadlineApp::Stop() {
  if (started_) {
    started_ = false;
    alerts_.Close();  // open WatchDeadlines streams end, so the server can drain
    grpc_.Shutdown(config_.shutdown_grace);
    stop_ = true;
    if (timer_thread_.joinable()) timer_thread_.join();
    if (tail_thread_.joinable()) tail_thread_.join();
    if (tail_) tail_->Close();
    absl::MutexLock lock(&consumer_mu_);
    if (consumer_) consumer_->Stop();
    if (producer_) (void)producer_->Flush(absl::Seconds(5));
  }
  if (admin_) admin_->Stop();
}

}  // namespace meldpunt::deadline
