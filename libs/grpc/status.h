// The one place where absl::Status becomes a gRPC status. INVALID_ARGUMENT errors made with
// FieldError carry a google.rpc.BadRequest naming the field, so clients see which field and why.
//
//   if (description.size() > 4000)
//     return FieldError("draft.description", "must be at most 4000 characters");
//   ...
//   return ToGrpcStatus(status);  // in the gRPC adapter
#pragma once

#include <string>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace meldpunt::grpc_util {

// INVALID_ARGUMENT "<field>: <reason>" with the field recorded as a BadRequest violation.
absl::Status FieldError(const std::string& field, const std::string& reason);

// The field a FieldError names, or "".
std::string ErrorField(const absl::Status& status);

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace meldpunt::grpc_util
