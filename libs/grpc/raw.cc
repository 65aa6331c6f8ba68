#include "libs/grpc/raw.h"

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/common.h"
#include "google/protobuf/unknown_field_set.h"
#include "libs/grpc/status.h"

namespace meldpunt::grpc_util {
namespace {

namespace pb = ::google::protobuf;

constexpr int kMaxDepth = 32;  // deeper than any of our messages; bounds the walk

std::string Walk(const pb::Descriptor& descriptor, absl::string_view bytes,
                 const std::string& prefix, int depth) {
  if (depth > kMaxDepth) return "";
  // The wire format read without a schema (a library parser, not ours); the descriptor then says
  // what each field is.
  pb::UnknownFieldSet fields;
  if (!fields.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return "";
  std::map<int, int> seen;
  for (int i = 0; i < fields.field_count(); ++i) {
    const pb::UnknownField& field = fields.field(i);
    const int index = seen[field.number()]++;
    const pb::FieldDescriptor* fd = descriptor.FindFieldByNumber(field.number());
    if (fd == nullptr || field.type() != pb::UnknownField::TYPE_LENGTH_DELIMITED) continue;
    std::string name = prefix.empty() ? fd->name() : absl::StrCat(prefix, ".", fd->name());
    if (fd->is_repeated() && !fd->is_map()) absl::StrAppend(&name, "[", index, "]");
    const std::string& value = field.length_delimited();
    if (fd->type() == pb::FieldDescriptor::TYPE_STRING) {
      if (!pb::internal::IsStructurallyValidUTF8(value.data(), static_cast<int>(value.size()))) {
        return name;
      }
    } else if (fd->type() == pb::FieldDescriptor::TYPE_MESSAGE) {
      std::string inner = Walk(*fd->message_type(), value, name, depth + 1);
      if (!inner.empty()) return inner;
    }
  }
  return "";
}

}  // namespace

std::string InvalidUtf8Field(const pb::Descriptor& descriptor, absl::string_view bytes) {
  return Walk(descriptor, bytes, "", 0);
}

absl::Status ParseRequest(const grpc::ByteBuffer& buffer, pb::Message* message) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (buffer.Valid()) {
    if (!buffer.Dump(&slices).ok()) {
      return absl::InvalidArgumentError("the request's bytes could not be read");
    }
    bytes.reserve(buffer.Length());
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  if (message->ParseFromString(bytes)) return absl::OkStatus();
  if (std::string field = InvalidUtf8Field(*message->GetDescriptor(), bytes); !field.empty()) {
    return FieldError(field, "is not valid UTF-8");
  }
  return absl::InvalidArgumentError(absl::StrCat("the request is not a valid ",
                                                 message->GetDescriptor()->full_name(),
                                                 " (malformed protobuf)"));
}

void SerializeResponse(const pb::Message& message, grpc::ByteBuffer* buffer) {
  grpc::Slice slice(message.SerializeAsString());
  grpc::ByteBuffer serialized(&slice, 1);
  buffer->Swap(&serialized);
}

}  // namespace meldpunt::grpc_util
