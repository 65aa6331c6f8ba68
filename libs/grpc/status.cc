#include "libs/grpc/status.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace meldpunt::grpc_util {
namespace {
constexpr char kBadRequestUrl[] = "type.googleapis.com/google.rpc.BadRequest";
}  // namespace

absl::Status FieldError(const std::string& field, const std::string& reason) {
  absl::Status status = absl::InvalidArgumentError(absl::StrCat(field, ": ", reason));
  google::rpc::BadRequest bad_request;
  auto* violation = bad_request.add_field_violations();
  violation->set_field(field);
  violation->set_description(reason);
  status.SetPayload(kBadRequestUrl, absl::Cord(bad_request.SerializeAsString()));
  return status;
}

std::string ErrorField(const absl::Status& status) {
  auto payload = status.GetPayload(kBadRequestUrl);
  if (!payload) return "";
  google::rpc::BadRequest bad_request;
  if (!bad_request.ParseFromString(std::string(*payload)) ||
      bad_request.field_violations_size() == 0)
    return "";
  return bad_request.field_violations(0).field();
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  const std::string message(status.message());
  auto payload = status.GetPayload(kBadRequestUrl);
  if (!payload) return grpc::Status(code, message);
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(code));
  rich.set_message(message);
  auto* detail = rich.add_details();
  detail->set_type_url(kBadRequestUrl);
  detail->set_value(std::string(*payload));
  return grpc::Status(code, message, rich.SerializeAsString());
}

}  // namespace meldpunt::grpc_util
