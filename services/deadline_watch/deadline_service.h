// gRPC adapter of meldpunt.deadline.v1.DeadlineWatch.
#pragma once

#include <functional>

#include <atomic>

#include "libs/auth/auth.h"
#include "libs/auth/limits.h"
#include "meldpunt/deadline/v1/deadline.grpc.pb.h"
#include "services/deadline_watch/alert_hub.h"
#include "services/deadline_watch/timer_store.h"

namespace meldpunt::deadline {

class DeadlineService final : public v1::DeadlineWatch::Service {
 public:
  using Rebuild = std::function<absl::StatusOr<int64_t>()>;
  DeadlineService(const auth::Guard& guard, TimerStore& store, AlertHub& alerts, Rebuild rebuild)
      : guard_(guard), store_(store), alerts_(alerts), rebuild_(std::move(rebuild)) {}
  grpc::Status GetCaseClocks(grpc::ServerContext*, const v1::GetCaseClocksRequest* request,
                             v1::GetCaseClocksResponse* response) override;
  grpc::Status ListDeadlines(grpc::ServerContext*, const v1::ListDeadlinesRequest* request,
                             v1::ListDeadlinesResponse* response) override;
  grpc::Status RebuildTimers(grpc::ServerContext*, const v1::RebuildTimersRequest*,
                             v1::RebuildTimersResponse* response) override;
  grpc::Status WatchDeadlines(grpc::ServerContext* context,
                              const v1::WatchDeadlinesRequest* request,
                              grpc::ServerWriter<v1::DeadlineAlert>* writer) override;

 private:
  // WatchDeadlines streams one caller may hold at once (a dashboard and a pager, with room for a
  // reconnect); the hub bounds the replica's total.
  static constexpr int kStreamsPerCaller = 4;

  const auth::Guard& guard_;
  auth::CallerLimit streams_{"WatchDeadlines streams", kStreamsPerCaller, 1 << 20};
  TimerStore& store_;
  AlertHub& alerts_;
  Rebuild rebuild_;
};

}  // namespace meldpunt::deadline
