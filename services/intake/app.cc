#include "services/intake/app.h"

#include <algorithm>
#include <map>

#include "absl/time/clock.h"
#include "libs/domain/case_state.h"
#include "libs/events/codec.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/observability/log.h"
#include "libs/service/replay.h"
#include "libs/service/wiring.h"
#include "libs/status/retry.h"
#include "libs/status/status_macros.h"

namespace meldpunt::intake {
namespace {

// Each runs a Redis round trip and answers a call; four keep up with the producer's callbacks.
constexpr int kCompletionThreads = 4;

}  // namespace

IntakeApp::IntakeApp(IntakeConfig config)
    : config_(std::move(config)), registry_(std::make_shared<prometheus::Registry>()) {}

IntakeApp::~IntakeApp() { Stop(); }

absl::Status IntakeApp::Start() {
  metrics_ = std::make_unique<IntakeMetrics>(*registry_);
  ASSIGN_OR_RETURN(security_, service::MakeGrpcSecurity(config_, registry_.get()));
  admin_ = std::make_unique<observability::AdminServer>(registry_, [this] { return Ready(); });
  RETURN_IF_ERROR(admin_->Start(config_.admin_listen));

  RETURN_IF_ERROR(service::EnsureTopicsAtStart(
      config_, {{events::kAuditTopic, static_cast<int>(config_.case_events_partitions),
                 static_cast<int>(config_.replication_factor)}}));
  ASSIGN_OR_RETURN(producer_, service::MakeProducer(config_, "meldpunt-intake"));
  producer_->ExportMetrics(*registry_);
  event_log_ = std::make_unique<events::KafkaEventLog>(*producer_);
  ASSIGN_OR_RETURN(redis_, service::ConnectRedisAtStart(config_, RedisCaseStore::Scripts()));
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
          .sealer = privacy_.sealer.get(),
          .rebuilding = &rebuilding_,
          .incomplete =
              [this] {
                // Unknown counts as incomplete:
                // "retry", never a false NOT_FOUND.
                absl::StatusOr<bool> intact = store_->Intact();
                return !intact.ok() || !*intact;
              },
          .catalog = catalog_.get(),
          .defer = [this](std::function<void()> work) { completions_->Post(std::move(work)); }},
      &fold_watch_);
  dead_letters_ = service::MakeDeadLetters(config_, *security_.guard, *producer_, "intake",
                                           config_.consumer_group,
                                           [this](const events::Envelope& e, const kafka::Record&) {
                                             // A replay comes after later events of its case were
                                             // folded: no offset check (the event id still drops a
                                             // repeat).
                                             return HandleLive(e, -1);
                                           });
  RETURN_IF_ERROR(StartProjection());

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
  RETURN_IF_ERROR(grpc_.Start(config_.grpc_listen,
                              {service_.get(), casework_.get(), admin_service_.get(),
                               reporting_.get(), dead_letters_.service.get()},
                              security_.credentials));
  grpc_.SetServing(true);
  dependencies_ = std::make_unique<service::DependencyCheck>(
      producer_.get(), std::vector<redis::Client*>{redis_.get(), privacy_.redis.get()});
  started_ = true;
  retention_thread_ = std::thread([this] { RetentionLoop(); });
  watch_thread_ = std::thread([this] { WatchProjection(); });
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
      std::move(consumer), events::BatchHandler([this](events::Batch& batch) { FoldLive(batch); }),
      registry_.get(), config_.consumer_group,
      service::LoopOptions(config_, dead_letters_.sink.get()));
  projection_->Start();
  return absl::OkStatus();
}

bool IntakeApp::ProjectionIntact() {
  // Asked for every live fold: Redis is asked at most every 100 ms.
  const int64_t now = absl::ToUnixMillis(absl::Now());
  if (now - intact_checked_ms_.load() >= 100) {
    absl::StatusOr<bool> intact = store_->Intact();
    intact_ = intact.ok() && *intact;
    intact_checked_ms_ = now;
  }
  return intact_.load();
}

absl::Status IntakeApp::HandleLive(const events::Envelope& envelope, int64_t offset) {
  // While the projection is incomplete (Redis lost it) only the rebuild folds: a live fold of a
  // later event would move the case's offset past events the replay has yet to fold, which it
  // would then drop as repeats. The live consumer holds its records in place until it is done.
  if (!rebuilding_.load() && !ProjectionIntact()) {
    return status::InPlace(absl::UnavailableError(
        "the projection is being rebuilt from the log; live folding waits for it"));
  }
  return HandleEvent(envelope, offset);
}

void IntakeApp::FoldLive(events::Batch& batch) {
  // As HandleLive: while the projection is incomplete only the rebuild folds.
  if (!rebuilding_.load() && !ProjectionIntact()) {
    return batch.Fail(0, status::InPlace(absl::UnavailableError(
                             "the projection is being rebuilt from the log; live folding waits "
                             "for it")));
  }
  std::vector<FoldInput> folds;
  folds.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    folds.push_back({&batch.envelope(i), batch.record(i).offset});
  }
  absl::StatusOr<std::vector<FoldOutcome>> outcomes = store_->ApplyAll(folds);
  if (!outcomes.ok()) return batch.Fail(0, outcomes.status());
  for (size_t i = 0; i < batch.size(); ++i) {
    if (absl::Status done = Folded(batch.envelope(i), (*outcomes)[i]); !done.ok()) {
      return batch.Fail(i, done);
    }
  }
}

absl::Status IntakeApp::HandleEvent(const events::Envelope& envelope, int64_t offset) {
  FoldOutcome outcome;
  outcome.outcome = store_->Apply(envelope, offset, &outcome.folded);
  return Folded(envelope, outcome);
}

absl::Status IntakeApp::Folded(const events::Envelope& envelope, const FoldOutcome& fold) {
  const absl::StatusOr<ApplyOutcome>& outcome = fold.outcome;
  const Case& folded = fold.folded;
  if (outcome.ok()) {
    fold_watch_.Folded(envelope.case_id(), envelope.event_id(),
                       *outcome == ApplyOutcome::kDuplicate ? nullptr : &folded);
    if (*outcome == ApplyOutcome::kApplied) RETURN_IF_ERROR(TrackRetention(envelope, folded));
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
  // One replica at a time: a second clear in the middle of the first one's replay would wipe
  // what it folded after the first one marked the projection complete.
  const std::string owner = events::RandomId("rebuild");
  ASSIGN_OR_RETURN(bool locked,
                   store_->TryLockRebuild(owner, config_.rebuild_timeout + absl::Minutes(5)));
  if (!locked) return absl::AbortedError("another replica is rebuilding the projection");
  // Every replica's live fold sees the marker gone within 100 ms (HandleLive) and holds: only
  // then is the projection cleared.
  if (absl::StatusOr<bool> intact = store_->Intact(); !intact.ok() || !*intact) {
    absl::SleepFor(absl::Milliseconds(500));
  }
  struct Unlock {
    RedisCaseStore& store;
    const std::string& owner;
    ~Unlock() { (void)store.UnlockRebuild(owner); }
  } unlock{*store_, owner};
  // Until it is done, a case the projection does not hold is "retry", not NOT_FOUND
  // (IntakeOptions::rebuilding): a submission answered from its event may not be folded yet, and
  // its reference claim (the evidence of it) went with the clear or the loss being repaired.
  log::Warning("projection rebuild started: queries of cases not folded yet answer UNAVAILABLE");
  // The live consumer stops first (its lanes drained, what it folded committed): nothing folds
  // between the clear and the replay, which the clear would wipe.
  {
    absl::MutexLock lock(&projection_mu_);
    if (projection_) projection_->Stop();
    projection_.reset();
  }
  ASSIGN_OR_RETURN(int64_t removed, store_->Clear());
  v1::RebuildProjectionResponse response;
  std::atomic<int64_t> cases{0};
  bool restarted = false;
  // The partitions in parallel lanes, as the live projection folds them. The end positions are
  // read after the clear; once they are folded the live consumer comes back, and the replay goes
  // on to the end of the log as it is then: an event appended while the live consumer was
  // stopped is folded before the rebuild returns, whether or not it was before the first end.
  absl::StatusOr<int64_t> records = service::ReplayCaseLog(
      config_, "meldpunt-intake-rebuild", config_.rebuild_timeout,
      [&](const events::Envelope& e, const kafka::Record& r) -> absl::Status {
        RETURN_IF_ERROR(HandleEvent(e, r.offset));
        if (e.payload_case() == events::Envelope::kCaseSubmitted) ++cases;
        return absl::OkStatus();
      },
      service::LoopOptions(config_).lanes,
      [&]() -> absl::Status {
        if (rebuild_hook_) rebuild_hook_("replayed");
        RETURN_IF_ERROR(StartProjection());
        restarted = true;
        AwaitProjectionJoined(absl::Now() + config_.startup_timeout);
        return absl::OkStatus();
      });
  response.set_cases(cases.load());
  // The projection consumer comes back whatever happened, so the intake keeps serving.
  absl::Status restart = restarted ? absl::OkStatus() : StartProjection();
  if (!records.ok()) return records.status();
  RETURN_IF_ERROR(restart);
  // Marked only while this rebuild still holds the lock: a Redis that lost its data again
  // meanwhile lost the lock too, and the next check rebuilds once more.
  ASSIGN_OR_RETURN(bool marked, store_->MarkIntactIfLocked(owner));
  if (!marked) {
    return absl::AbortedError("Redis lost the rebuild's lock before it ended; rebuilding again");
  }
  response.set_events(*records);
  log::Warning(
      "projection rebuilt",
      {{"keys_removed", removed}, {"events", response.events()}, {"cases", response.cases()}});
  return response;
}

void IntakeApp::AwaitProjectionJoined(absl::Time deadline) {
  // The replay reads its last end positions once the live consumer holds its partitions: what is
  // appended after them, the live consumer folds in its normal course.
  while (absl::Now() < deadline) {
    {
      absl::MutexLock lock(&projection_mu_);
      if (!projection_ || !projection_->running() || projection_->joined()) return;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  log::Warning("the projection consumer did not join its group in time; the rebuild goes on");
}

bool IntakeApp::Ready() const {
  if (!started_ || rebuilding_) return false;
  absl::MutexLock lock(const_cast<absl::Mutex*>(&projection_mu_));
  return projection_ && projection_->running() && projection_->joined() && dependencies_ &&
         dependencies_->up();
}

absl::Status IntakeApp::TrackRetention(const events::Envelope& envelope, const Case& folded) {
  if (envelope.has_case_reopened() || envelope.has_reporter_data_erased()) {
    ASSIGN_OR_RETURN(redis::Reply removed,
                     redis_->Command({"ZREM", kRetentionKey, folded.case_id()}));
    return redis::ReplyStatus(removed);
  }
  const types::v1::Reporter& reporter = folded.draft().reporter();
  if (domain::IsOpen(folded.state()) || reporter.sealed().empty() || reporter.erased()) {
    return absl::OkStatus();
  }
  // NX: the term runs from the closing, not from later events (deliveries) on the closed case.
  const absl::Time due = events::GetTime(folded.updated_at()) +
                         config_.RetentionOf(types::v1::CaseKind_Name(folded.draft().kind()));
  ASSIGN_OR_RETURN(redis::Reply added,
                   redis_->Command({"ZADD", kRetentionKey, "NX",
                                    absl::StrCat(absl::ToUnixMillis(due)), folded.case_id()}));
  return redis::ReplyStatus(added);
}

absl::StatusOr<int64_t> IntakeApp::EraseDue(absl::Time now) {
  int64_t erased = 0;
  for (;;) {
    ASSIGN_OR_RETURN(redis::Reply due,
                     redis_->Command({"ZRANGEBYSCORE", kRetentionKey, "-inf",
                                      absl::StrCat(absl::ToUnixMillis(now)), "LIMIT", "0", "100"}));
    RETURN_IF_ERROR(redis::ReplyStatus(due));
    if (due.elements.empty()) return erased;
    for (const redis::Reply& id : due.elements) {
      ASSIGN_OR_RETURN(std::optional<Case> c, store_->Get(id.str));
      v1::EraseReporterDataRequest request;
      request.set_case_id(id.str);
      request.set_command_id("retention");
      request.mutable_actor()->set_id("service:retention");
      request.set_reason(
          absl::StrCat("retention: ", c ? types::v1::CaseKind_Name(c->draft().kind()) : "case",
                       " closed longer ago than its term"));
      ASSIGN_OR_RETURN(Command command, EraseCommand(request));
      absl::StatusOr<CommandResult> result =
          c ? logic_->Erase(command, absl::Now() + config_.produce_timeout)
            : absl::StatusOr<CommandResult>(absl::NotFoundError("gone"));
      if (!result.ok() && !absl::IsNotFound(result.status())) return result.status();
      if (result.ok()) ++erased;
      ASSIGN_OR_RETURN(redis::Reply removed, redis_->Command({"ZREM", kRetentionKey, id.str}));
      RETURN_IF_ERROR(redis::ReplyStatus(removed));
    }
  }
}

void IntakeApp::WatchProjection() {
  // At start and then every second: has Redis lost the projection (FLUSHALL, a new instance, the
  // first start)? Then it is rebuilt from the log, by this replica or by the one that takes the
  // lock; meanwhile a case the projection does not hold answers UNAVAILABLE (incomplete), and
  // the live consumer goes on folding.
  absl::Duration wait = absl::ZeroDuration();
  while (!stopping_.WaitForNotificationWithTimeout(wait)) {
    wait = absl::Seconds(1);
    if (rebuilding_.load()) continue;
    absl::StatusOr<bool> intact = store_->Intact();
    if (!intact.ok() || *intact) continue;
    log::Warning(
        "the projection is not known to be complete (Redis lost it, or a first start); "
        "rebuilding it from the log");
    absl::StatusOr<v1::RebuildProjectionResponse> rebuilt = RebuildProjection();
    if (!rebuilt.ok() && rebuilt.status().code() != absl::StatusCode::kAborted) {
      log::Error("projection rebuild failed; the next check tries again",
                 {{"error", rebuilt.status().ToString()}});
    }
  }
}

void IntakeApp::RetentionLoop() {
  while (!stopping_.WaitForNotificationWithTimeout(config_.retention_interval)) {
    absl::StatusOr<int64_t> erased = EraseDue(clock_.Now());
    if (!erased.ok()) {
      log::Warning("retention pass failed; the next pass retries",
                   {{"error", erased.status().ToString()}});
    } else if (*erased > 0) {
      log::Info("retention: personal data erased", {{"cases", *erased}});
    }
  }
}

void IntakeApp::Stop() {
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  if (retention_thread_.joinable()) retention_thread_.join();
  if (watch_thread_.joinable()) watch_thread_.join();
  if (started_.exchange(false)) {
    grpc_.Shutdown(config_.shutdown_grace);  // waits for every SubmitCase to be answered
    completions_.reset();
    absl::MutexLock lock(&projection_mu_);
    if (projection_) projection_->Stop();
    if (producer_) (void)producer_->Flush(absl::Seconds(5));
  }
  if (admin_) admin_->Stop();
}

}  // namespace meldpunt::intake
