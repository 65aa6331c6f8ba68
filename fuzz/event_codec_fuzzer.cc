// Event decoding: the bytes are a run of Kafka record values (each prefixed with its length), each
// decoded with events::Decode as the consumers do, and the decoded events folded into one case with
// domain::Apply as the projections do. A decoded envelope must encode and decode back to itself.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include <google/protobuf/stubs/logging.h>

#include <google/protobuf/util/message_differencer.h>

#include "absl/status/statusor.h"
#include "libs/domain/case_state.h"
#include "libs/events/codec.h"

namespace {
namespace domain = ::meldpunt::domain;
namespace events = ::meldpunt::events;
}  // namespace

// Parse errors are expected by the thousand: keep protobuf's log quiet.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  domain::Case c;
  for (int record = 0; record < 16 && in.remaining_bytes() > 0; ++record) {
    const std::string value = in.ConsumeRandomLengthString(1 << 16);
    absl::StatusOr<events::Envelope> envelope = events::Decode(value);
    if (!envelope.ok()) {
      if (envelope.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
      continue;
    }
    absl::StatusOr<events::Envelope> again = events::Decode(events::Encode(*envelope));
    if (!again.ok() || !google::protobuf::util::MessageDifferencer::Equals(*envelope, *again)) {
      std::abort();
    }
    (void)events::PayloadType(*envelope);
    (void)events::ToJson(*envelope);
    (void)events::GetTime(envelope->occurred_at());
    const domain::Case before = c;
    const absl::Status applied = domain::Apply(c, *envelope);
    if (!applied.ok() && !google::protobuf::util::MessageDifferencer::Equals(before, c)) {
      std::abort();  // Apply leaves the case unchanged on error
    }
    (void)domain::IsOpen(c.state());
    (void)domain::StateName(c.state());
  }
  return 0;
}
