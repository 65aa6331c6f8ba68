#include "libs/service/replay.h"

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "google/protobuf/arena.h"

#include "absl/time/clock.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/observability/log.h"
#include "libs/observability/thread_name.h"
#include "libs/service/wiring.h"
#include "libs/status/retry.h"
#include "libs/status/status_macros.h"

namespace meldpunt::service {

namespace {

// Handles one record as a replay should: an outage is retried until `deadline`; a record that
// cannot be handled (give up, or no class after 5 attempts) is passed over with an error log, so
// one bad record never fails a whole rebuild again and again. The live consume loop sets such a
// record aside on the dead-letter topic when it meets it.
absl::Status HandleReplayed(
    const std::function<absl::Status(const events::Envelope&, const kafka::Record&)>& handle,
    const events::Envelope& envelope, const kafka::Record& record, absl::Time deadline) {
  absl::Status handled = handle(envelope, record);
  for (int attempts = 1; !handled.ok(); ++attempts) {
    const status::Retry retry = status::RetryOf(handled);
    if (retry == status::Retry::kGiveUp ||
        (retry == status::Retry::kUnclassified && attempts >= 5)) {
      log::Error("replay: a record that cannot be handled is passed over",
                 {{"topic", record.topic},
                  {"partition", record.partition},
                  {"offset", record.offset},
                  {"case_id", envelope.case_id()},
                  {"event_id", envelope.event_id()},
                  {"error", handled.ToString()}});
      return absl::OkStatus();
    }
    if (absl::Now() >= deadline) return handled;
    absl::SleepFor(absl::Milliseconds(100));
    handled = handle(envelope, record);
  }
  return handled;
}

// Handles a run of records as a batch handler, with the record form's retries (HandleReplayed):
// the failed record and those after it again while it is an outage (until `deadline`), the
// failed record passed over when it cannot be handled. The records before a failure are done.
absl::Status HandleReplayedRun(
    const events::BatchHandler& handle,
    const std::vector<std::pair<const events::Envelope*, kafka::Record>>& run,
    absl::Time deadline) {
  size_t from = 0;
  size_t failed_at = run.size();
  int attempts = 0;
  while (from < run.size()) {
    std::vector<events::Batch::Item> items;
    items.reserve(run.size() - from);
    for (size_t i = from; i < run.size(); ++i) {
      items.push_back({&run[i].second, events::Envelope(), run[i].first});
    }
    events::Batch batch(std::move(items));
    handle(batch);
    absl::Status error;
    const std::optional<size_t> failed = batch.Finish(deadline, &error);
    if (!failed) return absl::OkStatus();
    const size_t at = from + *failed;
    attempts = at == failed_at ? attempts + 1 : 1;
    failed_at = at;
    const status::Retry retry = status::RetryOf(error);
    if (retry == status::Retry::kGiveUp ||
        (retry == status::Retry::kUnclassified && attempts >= 5)) {
      const kafka::Record& record = run[at].second;
      log::Error("replay: a record that cannot be handled is passed over",
                 {{"topic", record.topic},
                  {"partition", record.partition},
                  {"offset", record.offset},
                  {"case_id", run[at].first->case_id()},
                  {"event_id", run[at].first->event_id()},
                  {"error", error.ToString()}});
      from = at + 1;
      continue;
    }
    if (absl::Now() >= deadline) return error;
    absl::SleepFor(absl::Milliseconds(100));
    from = at;
  }
  return absl::OkStatus();
}

// A thread that decodes and handles the records of some partitions, in order: one at a time with
// a record handler, the run it holds (up to kReplayBatch) with a batch handler. The lane decodes
// (not the thread that reads): the envelopes are made and freed on one thread, and the lanes
// decode side by side. A record that does not decode is passed over, as the live loop sets it
// aside.
class Lane {
 public:
  using Item = std::pair<const events::Envelope*, kafka::Record>;
  Lane(const ReplayHandler& handle, absl::Time deadline)
      : handle_(&handle), deadline_(deadline), take_(1), thread_([this] {
          observability::NameThread("mp-replay-lane");
          Run();
        }) {}
  Lane(const events::BatchHandler& handle, absl::Time deadline)
      : batch_handle_(&handle), deadline_(deadline), take_(kReplayBatch), thread_([this] {
          observability::NameThread("mp-replay-lane");
          Run();
        }) {}
  ~Lane() {
    {
      absl::MutexLock lock(&mu_);
      closed_ = true;
    }
    thread_.join();
  }
  // Waits while the lane is full; false once the lane failed.
  bool Push(kafka::Record record) {
    absl::MutexLock lock(&mu_);
    auto room = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return queue_.size() < 2 * kReplayBatch || !error_.ok();
    };
    mu_.Await(absl::Condition(&room));
    if (!error_.ok()) return false;
    queue_.push_back(std::move(record));
    return true;
  }
  // Waits until everything pushed is handled; the first error, if any.
  absl::Status Drain() {
    absl::MutexLock lock(&mu_);
    auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return (queue_.empty() && !busy_) || !error_.ok();
    };
    mu_.Await(absl::Condition(&idle));
    return error_;
  }
  absl::Status error() {
    absl::MutexLock lock(&mu_);
    return error_;
  }

 private:
  void Run() {
    while (true) {
      std::vector<kafka::Record> records;
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]()
                         ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !queue_.empty() || closed_; };
        mu_.Await(absl::Condition(&ready));
        if (queue_.empty()) return;
        while (!queue_.empty() && records.size() < take_) {
          records.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        busy_ = true;
      }
      // The run's envelopes on the lane's arena: made without a heap allocation for each
      // message in them, and freed at once when the run is done.
      std::vector<Item> run;
      run.reserve(records.size());
      for (kafka::Record& record : records) {
        auto* envelope = google::protobuf::Arena::CreateMessage<events::Envelope>(&arena_);
        if (events::DecodeInto(record.value, envelope).ok()) {
          run.emplace_back(envelope, std::move(record));
        }
      }
      absl::Status handled = absl::OkStatus();
      if (!run.empty()) {
        handled = batch_handle_ != nullptr
                      ? HandleReplayedRun(*batch_handle_, run, deadline_)
                      : HandleReplayed(*handle_, *run.front().first, run.front().second, deadline_);
      }
      run.clear();
      arena_.Reset();
      absl::MutexLock lock(&mu_);
      busy_ = false;
      if (!handled.ok() && error_.ok()) error_ = handled;
    }
  }

  const ReplayHandler* handle_ = nullptr;
  const events::BatchHandler* batch_handle_ = nullptr;
  const absl::Time deadline_;
  const size_t take_;
  absl::Mutex mu_;
  std::deque<kafka::Record> queue_ ABSL_GUARDED_BY(mu_);
  // The lane's thread's alone; blocks of up to 1 MiB (a run of 5,000 envelopes takes about 8).
  google::protobuf::Arena arena_{[] {
    google::protobuf::ArenaOptions options;
    options.start_block_size = 64 << 10;
    options.max_block_size = 1 << 20;
    return options;
  }()};
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace

namespace {

// The case log read from its start, in no group (no JoinGroup before the first fetch, no
// LeaveGroup at the end): the reader, the partitions counted when it opened, and each one's end.
struct CaseLogRead {
  std::unique_ptr<kafka::Consumer> reader;
  int partitions = 0;
  std::map<int32_t, int64_t> ends;  // partition -> high watermark, as last read (ReadEnds)

  // Each partition's end now.
  absl::Status ReadEnds() {
    for (int32_t p = 0; p < partitions; ++p) {
      ASSIGN_OR_RETURN(ends[p],
                       reader->HighWatermark(events::kCaseEventsTopic, p, absl::Seconds(10)));
    }
    return absl::OkStatus();
  }
};

// Opens the read with its ends read and every partition assigned from its first record. Right
// after the topic was made it may be unknown still, or its partitions lack a leader (NOT_FOUND,
// UNAVAILABLE): tried again every 200 ms until config.startup_timeout, or until `stop` answers
// true; then, or on another error, that error.
absl::StatusOr<CaseLogRead> OpenCaseLogRead(const config::ServiceConfig& config,
                                            const std::string& group_prefix,
                                            const std::function<bool()>& stop) {
  CaseLogRead read;
  ASSIGN_OR_RETURN(read.reader, MakeCaseLogReader(config, events::RandomId(group_prefix)));
  auto attempt = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(read.partitions,
                     read.reader->PartitionCount(events::kCaseEventsTopic, absl::Seconds(10)));
    return read.ReadEnds();
  };
  for (const absl::Time give_up = absl::Now() + config.startup_timeout;;) {
    absl::Status done = attempt();
    if (done.ok()) break;
    const bool not_yet = absl::IsUnavailable(done) || absl::IsNotFound(done);
    if (!not_yet || (stop && stop()) || absl::Now() >= give_up) return done;
    log::Warning("waiting for the case log's partitions",
                 {{"topic", events::kCaseEventsTopic}, {"error", done.ToString()}});
    absl::SleepFor(absl::Milliseconds(200));
  }
  RETURN_IF_ERROR(read.reader->AssignFromStart(events::kCaseEventsTopic, read.partitions));
  return read;
}

// The replay of both forms: `handle` is a ReplayHandler or a BatchHandler; a batch handler
// always has lanes (one at least), where its runs gather.
template <typename Handle>
absl::StatusOr<int64_t> Replay(const config::ServiceConfig& config, const std::string& group_prefix,
                               absl::Duration timeout, const Handle& handle, int parallelism,
                               const std::function<absl::Status()>& reached,
                               const std::vector<int>& pass_over) {
  constexpr bool kBatches = std::is_same_v<Handle, events::BatchHandler>;
  const absl::Time deadline = absl::Now() + timeout;
  ASSIGN_OR_RETURN(CaseLogRead log, OpenCaseLogRead(config, group_prefix, nullptr));
  kafka::Consumer* reader = log.reader.get();
  std::map<int32_t, int64_t> next;       // partition -> the offset after the last record read
  std::map<int32_t, int64_t> remaining;  // partition -> high watermark still to reach
  // Every partition with records past what was read, by the ends last read.
  auto to_read = [&] {
    remaining.clear();
    for (const auto& [p, high] : log.ends) {
      if (high > next[p]) remaining[p] = high;
    }
  };
  to_read();
  std::vector<std::unique_ptr<Lane>> lanes;
  const int lane_count = kBatches ? std::max(parallelism, 1) : (parallelism > 1 ? parallelism : 0);
  for (int i = 0; i < lane_count; ++i) lanes.push_back(std::make_unique<Lane>(handle, deadline));
  int64_t records = 0;
  auto read_to_ends = [&]() -> absl::Status {
    while (!remaining.empty()) {
      if (absl::Now() > deadline)
        return absl::DeadlineExceededError("the replay did not reach the end of the log");
      ASSIGN_OR_RETURN(std::optional<kafka::Record> record, reader->Poll(absl::Milliseconds(200)));
      if (!record) continue;
      const int32_t partition = record->partition;
      const int64_t offset = record->offset;
      const bool passed_over =
          !pass_over.empty() && std::find(pass_over.begin(), pass_over.end(),
                                          events::PayloadField(record->value)) != pass_over.end();
      if (passed_over) {
        // Read, not decoded: nothing of the handler's.
      } else if (!lanes.empty()) {
        Lane& lane = *lanes[static_cast<size_t>(partition) % lanes.size()];
        if (!lane.Push(*std::move(record))) return lane.error();
      } else if constexpr (!kBatches) {
        if (absl::StatusOr<events::Envelope> envelope = events::Decode(record->value);
            envelope.ok()) {
          RETURN_IF_ERROR(HandleReplayed(handle, *envelope, *record, deadline));
        }
      }
      ++records;
      next[partition] = std::max(next[partition], offset + 1);
      auto it = remaining.find(partition);
      if (it != remaining.end() && offset + 1 >= it->second) remaining.erase(it);
    }
    for (auto& lane : lanes) RETURN_IF_ERROR(lane->Drain());
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(read_to_ends());
  if (reached) {
    // What was appended until `reached` returned (the caller's own consumer is back by then) is
    // read too: the caller's consumer takes over from there without a gap.
    RETURN_IF_ERROR(reached());
    RETURN_IF_ERROR(log.ReadEnds());
    to_read();
    RETURN_IF_ERROR(read_to_ends());
  }
  reader->Close();
  return records;
}

}  // namespace

absl::StatusOr<int64_t> ScanCaseLog(const config::ServiceConfig& config,
                                    const std::string& group_prefix, absl::Duration timeout,
                                    const ScanVisitor& visit,
                                    const std::function<bool()>& stopped) {
  const absl::Time deadline = absl::Now() + timeout;
  auto stop = [&stopped] { return stopped && stopped(); };
  ASSIGN_OR_RETURN(CaseLogRead log, OpenCaseLogRead(config, group_prefix, stop));
  kafka::Consumer* reader = log.reader.get();
  std::map<int32_t, int64_t>& ends = log.ends;  // as they were at the start
  std::map<int32_t, int64_t> remaining;         // of the partitions not read to their end yet
  for (const auto& [p, high] : ends) {
    if (high > 0) remaining[p] = high;
  }
  int64_t records = 0;
  while (!remaining.empty() && !stop()) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError("the scan did not reach the end of the log");
    }
    ASSIGN_OR_RETURN(std::optional<kafka::Record> record, reader->Poll(absl::Milliseconds(200)));
    if (!record) continue;
    if (record->offset >= ends[record->partition]) continue;  // appended after the start
    ++records;
    if (!visit(*record)) break;
    auto it = remaining.find(record->partition);
    if (it != remaining.end() && record->offset + 1 >= it->second) remaining.erase(it);
  }
  reader->Close();
  return records;
}

absl::StatusOr<int64_t> ReplayCaseLog(const config::ServiceConfig& config,
                                      const std::string& group_prefix, absl::Duration timeout,
                                      const ReplayHandler& handle, int parallelism,
                                      const std::function<absl::Status()>& reached) {
  return Replay(config, group_prefix, timeout, handle, parallelism, reached, {});
}

absl::StatusOr<int64_t> ReplayCaseLog(const config::ServiceConfig& config,
                                      const std::string& group_prefix, absl::Duration timeout,
                                      const events::BatchHandler& handle, int parallelism,
                                      const std::function<absl::Status()>& reached,
                                      const std::vector<int>& pass_over) {
  return Replay(config, group_prefix, timeout, handle, parallelism, reached, pass_over);
}

}  // namespace meldpunt::service
