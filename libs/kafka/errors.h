// librdkafka error codes mapped to absl::Status codes chosen by what the caller should do:
// UNAVAILABLE/DEADLINE_EXCEEDED retry the call; ABORTED abort and retry the transaction;
// INTERNAL for a fatal error (the client must be recreated); INVALID_ARGUMENT, NOT_FOUND,
// PERMISSION_DENIED do not retry. Every status also carries what a consume loop should do
// (libs/status/retry.h): in place for outages and a missing ACL; recreate the client when fatal;
// give up on the record when it is the record's fault (its topic is unknown, it is too large);
// an unknown error carries no class (a few attempts, then the record is set aside).
#pragma once

#include <string>

#include <librdkafka/rdkafkacpp.h>

#include "absl/status/status.h"

namespace meldpunt::kafka {

enum class ErrorClass { kRetriable, kAbortable, kFatal, kPermanent };

ErrorClass Classify(RdKafka::ErrorCode code, bool fatal = false);

absl::Status ToStatus(RdKafka::ErrorCode code, const std::string& context, bool fatal = false);

}  // namespace meldpunt::kafka
