// The dead-letter queue of the case event log, as each service serves it (ops/v1/
// dead_letters.proto): its own entries of meldpunt.case-events.dlq.v1 listed, replayed into its
// handler, or dropped with a reason. The topic is the state (events/v1/dead_letter.proto): an
// entry is open until an action REPLAYED or DROPPED names it, and every action is appended with
// the caller who took it (the audit trail of the queue). Nothing is kept in Redis.
//
//   DeadLetterService dead_letters(config_, *security_.guard, *producer_, "routing",
//                                  config_.consumer_group, handler);
//   grpc_.Start(listen, {service_.get(), &dead_letters}, credentials);
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/auth/auth.h"
#include "libs/config/service_config.h"
#include "libs/events/dead_letters.h"
#include "libs/events/event_consumer.h"
#include "libs/kafka/producer.h"
#include "meldpunt/ops/v1/dead_letters.grpc.pb.h"

namespace meldpunt::service {

// The entries of `group` (every group when empty) on the dead-letter topic up to its end now,
// oldest first, each with its actions; read with a throwaway consumer group "<group>-dlq-...".
absl::StatusOr<std::vector<ops::v1::DeadLetterEntry>> ReadDeadLetters(
    const config::ServiceConfig& config, const std::string& group, absl::Duration timeout);

class DeadLetterService;

// A service's dead letters: the sink its consume loop sets records aside in (LoopOptions), and
// the gRPC service ops use on them. `handler` is the loop's own.
struct DeadLetters {
  std::unique_ptr<events::KafkaDeadLetters> sink;
  std::unique_ptr<DeadLetterService> service;
};
DeadLetters MakeDeadLetters(const config::ServiceConfig& config, const auth::Guard& guard,
                            kafka::Producer& producer, const std::string& service,
                            const std::string& group, events::EventHandler handler);

class DeadLetterService final : public ops::v1::DeadLetters::Service {
 public:
  // `replay` is the service's own handler of case events (the one its EventConsumer runs).
  DeadLetterService(const config::ServiceConfig& config, const auth::Guard& guard,
                    kafka::Producer& producer, std::string service, std::string group,
                    events::EventHandler replay);

  grpc::Status ListDeadLetters(grpc::ServerContext* context,
                               const ops::v1::ListDeadLettersRequest* request,
                               ops::v1::ListDeadLettersResponse* response) override;
  grpc::Status ReplayDeadLetter(grpc::ServerContext* context,
                                const ops::v1::ReplayDeadLetterRequest* request,
                                ops::v1::ReplayDeadLetterResponse* response) override;
  grpc::Status DropDeadLetter(grpc::ServerContext* context,
                              const ops::v1::DropDeadLetterRequest* request,
                              ops::v1::DropDeadLetterResponse* response) override;

  // The same, behind the guard (tests, and the RPCs above).
  absl::StatusOr<ops::v1::ListDeadLettersResponse> List(bool include_closed);
  absl::StatusOr<events::v1::DeadLetterAction> Replay(const auth::Principal& who,
                                                      const std::string& id);
  absl::StatusOr<events::v1::DeadLetterAction> Drop(const auth::Principal& who,
                                                    const std::string& id,
                                                    const std::string& reason);

 private:
  // The open entry `id` of this service, or the error to answer with.
  absl::StatusOr<ops::v1::DeadLetterEntry> OpenEntry(const std::string& id);
  absl::StatusOr<events::v1::DeadLetterAction> Record(const auth::Principal& who,
                                                      const std::string& id,
                                                      events::v1::DeadLetterAction::Kind kind,
                                                      const std::string& reason);

  const config::ServiceConfig& config_;
  const auth::Guard& guard_;
  kafka::Producer& producer_;
  const std::string service_;
  const std::string group_;
  events::EventHandler replay_;
};

}  // namespace meldpunt::service
