#include "libs/grpc/trace.h"

#include <string_view>

namespace meldpunt::grpc_util {
namespace {

constexpr size_t kMaxTraceIdLength = 128;

bool IsTraceId(std::string_view value) {
  if (value.empty() || value.size() > kMaxTraceIdLength) return false;
  for (char c : value) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

// W3C Trace Context allows only lowercase hex digits.
bool IsLowerHex(std::string_view value) {
  for (char c : value) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZeros(std::string_view value) { return value.find_first_not_of('0') == value.npos; }

// The trace-id of `version-traceid-parentid-flags` ("00-<32 hex>-<16 hex>-<2 hex>"), or "".
// Version 00 has exactly these four fields; a later version may append more after a '-'.
std::string_view TraceparentTraceId(std::string_view value) {
  constexpr size_t kLength = 55;
  if (value.size() < kLength) return {};
  const std::string_view version = value.substr(0, 2);
  const std::string_view trace_id = value.substr(3, 32);
  const std::string_view parent_id = value.substr(36, 16);
  const std::string_view flags = value.substr(53, 2);
  if (value[2] != '-' || value[35] != '-' || value[52] != '-') return {};
  if (!IsLowerHex(version) || version == "ff") return {};
  if (version == "00" ? value.size() != kLength : value.size() > kLength && value[kLength] != '-')
    return {};
  if (!IsLowerHex(trace_id) || AllZeros(trace_id)) return {};
  if (!IsLowerHex(parent_id) || AllZeros(parent_id)) return {};
  if (!IsLowerHex(flags)) return {};
  return trace_id;
}

// The first value of `key` (a multimap keeps equal keys in arrival order); false when absent.
bool FirstValue(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
                std::string_view key, std::string_view* value) {
  const grpc::string_ref wanted(key.data(), key.size());
  auto it = metadata.lower_bound(wanted);
  if (it == metadata.end() || it->first != wanted) return false;
  *value = std::string_view(it->second.data(), it->second.size());
  return true;
}

}  // namespace

std::string TraceIdFrom(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  std::string_view value;
  if (FirstValue(metadata, kTraceIdMetadata, &value) && IsTraceId(value)) {
    return std::string(value);
  }
  if (FirstValue(metadata, kTraceparentMetadata, &value)) {
    return std::string(TraceparentTraceId(value));
  }
  return "";
}

}  // namespace meldpunt::grpc_util
