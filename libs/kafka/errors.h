// librdkafka error codes mapped to absl::Status codes chosen by what the caller should do:
// UNAVAILABLE/DEADLINE_EXCEEDED retry the call; ABORTED abort and retry the transaction;
// INTERNAL for a fatal error (the client must be recreated); INVALID_ARGUMENT, NOT_FOUND,
// PERMISSION_DENIED do not retry.
#pragma once

#include <string>

#include <librdkafka/rdkafkacpp.h>

#include "absl/status/status.h"

namespace meldpunt::kafka {

enum class ErrorClass { kRetriable, kAbortable, kFatal, kPermanent };

ErrorClass Classify(RdKafka::ErrorCode code, bool fatal = false);

absl::Status ToStatus(RdKafka::ErrorCode code, const std::string& context, bool fatal = false);

}  // namespace meldpunt::kafka
