// gRPC adapter of meldpunt.deadline.v1.DeadlineWatch.
#pragma once

#include <functional>

#include <atomic>

#include "libs/auth/auth.h"
#include "libs/auth/limits.h"
#include "meldpunt/deadline/v1/deadline.grpc.pb.h"
#include "services/deadline_watch/alert_hub.h"
#include "services/deadline_watch/deadline_logic.h"
#include "services/deadline_watch/timer_store.h"

namespace meldpunt::deadline {

class DeadlineService final : public v1::DeadlineWatch::Service {
 public:
  using Rebuild = std::function<absl::StatusOr<int64_t>()>;
  // Appends events to the case log and waits for their acknowledgement.
  using Append = std::function<absl::Status(const std::vector<events::Envelope>&)>;
  DeadlineService(const auth::Guard& guard, TimerStore& store, AlertHub& alerts, Rebuild rebuild,
                  DeadlineLogic& logic, Append append)
      : guard_(guard),
        store_(store),
        alerts_(alerts),
        rebuild_(std::move(rebuild)),
        logic_(logic),
        append_(std::move(append)) {}
  grpc::Status GetCaseClocks(grpc::ServerContext*, const v1::GetCaseClocksRequest* request,
                             v1::GetCaseClocksResponse* response) override;
  grpc::Status ListDeadlines(grpc::ServerContext*, const v1::ListDeadlinesRequest* request,
                             v1::ListDeadlinesResponse* response) override;
  grpc::Status RebuildTimers(grpc::ServerContext*, const v1::RebuildTimersRequest*,
                             v1::RebuildTimersResponse* response) override;
  grpc::Status WatchDeadlines(grpc::ServerContext* context,
                              const v1::WatchDeadlinesRequest* request,
                              grpc::ServerWriter<v1::DeadlineAlert>* writer) override;
  grpc::Status ExtendClock(grpc::ServerContext* context, const v1::ExtendClockRequest* request,
                           v1::ChangeClockResponse* response) override;
  grpc::Status SuspendClock(grpc::ServerContext* context, const v1::SuspendClockRequest* request,
                            v1::ChangeClockResponse* response) override;
  grpc::Status ResumeClock(grpc::ServerContext* context, const v1::ResumeClockRequest* request,
                           v1::ChangeClockResponse* response) override;

 private:
  // Plans the change, appends its event, and waits until the consumer owning the case's
  // partition applied it (it may run on another replica: the clock record in Redis tells).
  grpc::Status Change(grpc::ServerContext& context, absl::string_view method, ClockCommand command,
                      v1::ChangeClockResponse& response);
  // WatchDeadlines streams one caller may hold at once (a dashboard and a pager, with room for a
  // reconnect); the hub bounds the replica's total.
  static constexpr int kStreamsPerCaller = 4;

  const auth::Guard& guard_;
  auth::CallerLimit streams_{"WatchDeadlines streams", kStreamsPerCaller, 1 << 20};
  TimerStore& store_;
  AlertHub& alerts_;
  Rebuild rebuild_;
  DeadlineLogic& logic_;
  Append append_;
};

}  // namespace meldpunt::deadline
