#include "services/deadline_watch/deadline_service.h"

#include "libs/events/ids.h"
#include "libs/grpc/status.h"

namespace meldpunt::deadline {

grpc::Status DeadlineService::ListClocks(grpc::ServerContext*, const v1::ListClocksRequest* request,
                                         v1::ListClocksResponse* response) {
  if (!events::IsCaseId(request->case_id())) {
    return grpc_util::ToGrpcStatus(grpc_util::FieldError("case_id", "is not a case id"));
  }
  absl::StatusOr<std::vector<v1::Clock>> clocks = store_.Clocks(request->case_id());
  if (!clocks.ok()) return grpc_util::ToGrpcStatus(clocks.status());
  for (auto& clock : *clocks) *response->add_clocks() = std::move(clock);
  return grpc::Status::OK;
}

}  // namespace meldpunt::deadline
