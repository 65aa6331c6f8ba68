#include "libs/kafka/errors.h"

#include "absl/strings/str_cat.h"
#include "libs/status/retry.h"

namespace meldpunt::kafka {

ErrorClass Classify(RdKafka::ErrorCode code, bool fatal) {
  if (fatal || code == RdKafka::ERR__FATAL) return ErrorClass::kFatal;
  switch (code) {
    case RdKafka::ERR__MSG_TIMED_OUT:
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__TRANSPORT:
    case RdKafka::ERR__ALL_BROKERS_DOWN:
    case RdKafka::ERR__QUEUE_FULL:
    case RdKafka::ERR__PURGE_QUEUE:
    case RdKafka::ERR__PURGE_INFLIGHT:
    case RdKafka::ERR__RESOLVE:
    case RdKafka::ERR__WAIT_COORD:
    case RdKafka::ERR__TIMED_OUT_QUEUE:
    case RdKafka::ERR_REQUEST_TIMED_OUT:
    case RdKafka::ERR_LEADER_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_LEADER_FOR_PARTITION:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RdKafka::ERR_NETWORK_EXCEPTION:
    case RdKafka::ERR_COORDINATOR_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_COORDINATOR:
    case RdKafka::ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RdKafka::ERR_BROKER_NOT_AVAILABLE:
    case RdKafka::ERR_KAFKA_STORAGE_ERROR:
    case RdKafka::ERR_REBALANCE_IN_PROGRESS:
      return ErrorClass::kRetriable;
    case RdKafka::ERR_INVALID_PRODUCER_EPOCH:
    case RdKafka::ERR_CONCURRENT_TRANSACTIONS:
      return ErrorClass::kAbortable;
    default:
      return ErrorClass::kPermanent;
  }
}

absl::Status ToStatus(RdKafka::ErrorCode code, const std::string& context, bool fatal) {
  if (code == RdKafka::ERR_NO_ERROR) return absl::OkStatus();
  const std::string message = absl::StrCat(context, ": ", RdKafka::err2str(code));
  switch (Classify(code, fatal)) {
    case ErrorClass::kRetriable:
      return status::InPlace(absl::UnavailableError(message));
    case ErrorClass::kAbortable:
      return status::InPlace(absl::AbortedError(message));
    case ErrorClass::kFatal:
      return status::RecreateClient(
          absl::InternalError(absl::StrCat("fatal, the client must be recreated: ", message)));
    case ErrorClass::kPermanent:
      break;
  }
  // A missing ACL is the deployment's fault, not the record's: it is retried in place until an
  // operator fixes it (setting every record aside meanwhile would be a loss of its own). A topic
  // that does not exist is where this record goes (a department's feed): it is set aside, to be
  // replayed once the topic is there, so the records after it are not held up. What is wrong
  // with this record, or unknown, gives up on it.
  switch (code) {
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RdKafka::ERR_GROUP_AUTHORIZATION_FAILED:
    case RdKafka::ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
      return status::InPlace(absl::PermissionDeniedError(message));
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
    case RdKafka::ERR__UNKNOWN_PARTITION:
      return status::GiveUp(absl::NotFoundError(message));
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
    case RdKafka::ERR_INVALID_MSG:
    case RdKafka::ERR__INVALID_ARG:
      return status::GiveUp(absl::InvalidArgumentError(message));
    default:
      // Unknown: no class, so a consume loop tries a few times before it sets the record aside.
      return absl::InternalError(message);
  }
}

}  // namespace meldpunt::kafka
