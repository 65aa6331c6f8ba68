// A request's bytes read by the handler itself (a raw callback method), so that a request that
// does not parse still gets an answer naming the field at fault, which gRPC's own parsing cannot
// give (it answers INTERNAL with no message; UnparsableRequestInterceptor turns that into a
// field-less INVALID_ARGUMENT).
//
//   absl::Status parsed = grpc_util::ParseRequest(*bytes, &request);
//   // INVALID_ARGUMENT, FieldError("draft.description", "is not valid UTF-8")
//   ...
//   grpc_util::SerializeResponse(response, raw_response);
#pragma once

#include <string>

#include <grpcpp/support/byte_buffer.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace meldpunt::grpc_util {

// Parses `buffer` into `message`. A string field that is not UTF-8 (which proto3 refuses) is a
// FieldError naming it with its path ("draft.attachments[1].url"); other malformed bytes are
// INVALID_ARGUMENT saying the request is not a `message`'s type.
absl::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message* message);
void SerializeResponse(const google::protobuf::Message& message, grpc::ByteBuffer* buffer);

// The path of the first string field in `bytes` (the wire format of a `descriptor` message)
// whose value is not valid UTF-8; "" when there is none or the bytes are not a message.
std::string InvalidUtf8Field(const google::protobuf::Descriptor& descriptor,
                             absl::string_view bytes);

}  // namespace meldpunt::grpc_util
