// gRPC adapter of meldpunt.deadline.v1.DeadlineWatch.
#pragma once

#include "meldpunt/deadline/v1/deadline.grpc.pb.h"
#include "services/deadline_watch/timer_store.h"

namespace meldpunt::deadline {

class DeadlineService final : public v1::DeadlineWatch::Service {
 public:
  explicit DeadlineService(TimerStore& store) : store_(store) {}
  grpc::Status ListClocks(grpc::ServerContext*, const v1::ListClocksRequest* request,
                          v1::ListClocksResponse* response) override;
  grpc::Status ListDeadlines(grpc::ServerContext*, const v1::ListDeadlinesRequest* request,
                             v1::ListDeadlinesResponse* response) override;

 private:
  TimerStore& store_;
};

}  // namespace meldpunt::deadline
