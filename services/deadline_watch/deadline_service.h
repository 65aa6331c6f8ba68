// gRPC adapter of meldpunt.deadline.v1.DeadlineWatch.
#pragma once

#include <functional>

#include "meldpunt/deadline/v1/deadline.grpc.pb.h"
#include "services/deadline_watch/timer_store.h"

namespace meldpunt::deadline {

class DeadlineService final : public v1::DeadlineWatch::Service {
 public:
  using Rebuild = std::function<absl::StatusOr<int64_t>()>;
  DeadlineService(TimerStore& store, Rebuild rebuild)
      : store_(store), rebuild_(std::move(rebuild)) {}
  grpc::Status ListClocks(grpc::ServerContext*, const v1::ListClocksRequest* request,
                          v1::ListClocksResponse* response) override;
  grpc::Status ListDeadlines(grpc::ServerContext*, const v1::ListDeadlinesRequest* request,
                             v1::ListDeadlinesResponse* response) override;
  grpc::Status RebuildTimers(grpc::ServerContext*, const v1::RebuildTimersRequest*,
                             v1::RebuildTimersResponse* response) override;

 private:
  TimerStore& store_;
  Rebuild rebuild_;
};

}  // namespace meldpunt::deadline
