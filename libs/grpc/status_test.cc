#include "libs/grpc/status.h"

#include <gtest/gtest.h>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace meldpunt::grpc_util {
namespace {

TEST(GrpcStatus, CodesPassThrough) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_EQ(ToGrpcStatus(absl::UnavailableError("kafka down")).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("x")).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ToGrpcStatus(absl::FailedPreconditionError("x")).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ToGrpcStatus(absl::UnavailableError("kafka down")).error_message(), "kafka down");
}

TEST(GrpcStatus, FieldErrorsCarryABadRequestDetail) {
  absl::Status error = FieldError("draft.description", "must be at most 4000 characters");
  EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorField(error), "draft.description");
  grpc::Status status = ToGrpcStatus(error);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "draft.description: must be at most 4000 characters");
  google::rpc::Status rich;
  ASSERT_TRUE(rich.ParseFromString(status.error_details()));
  ASSERT_EQ(rich.details_size(), 1);
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(bad_request.ParseFromString(rich.details(0).value()));
  EXPECT_EQ(bad_request.field_violations(0).field(), "draft.description");
  EXPECT_EQ(ErrorField(absl::InvalidArgumentError("plain")), "");
}

}  // namespace
}  // namespace meldpunt::grpc_util
