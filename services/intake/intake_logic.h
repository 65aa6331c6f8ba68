// The intake's rules, free of gRPC and Kafka: validate a submission, make it durable in the log,
// fold it into the projection, answer queries. Depends only on EventLog, CaseStore and Clock.
//
//   IntakeLogic logic(event_log, store, clock, {.append_timeout = absl::Seconds(10)});
//   absl::StatusOr<SubmitResult> r = logic.Submit(request);
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/clock/clock.h"
#include "libs/events/event_log.h"
#include "meldpunt/intake/v1/intake.pb.h"
#include "services/intake/case_store.h"

namespace meldpunt::intake {

struct IntakeOptions {
  // Upper bound of waiting for Kafka's acknowledgement (the call's own deadline may be shorter).
  absl::Duration append_timeout = absl::Seconds(10);
};

struct SubmitResult {
  Case c;
  bool created = false;
};

class IntakeLogic {
 public:
  IntakeLogic(events::EventLog& log, CaseStore& store, const clock::Clock& clock,
              IntakeOptions options)
      : log_(log), store_(store), clock_(clock), options_(options) {}

  // INVALID_ARGUMENT naming the field; UNAVAILABLE when the event is not durable by `deadline`
  // (a retry with the same request_key is safe). Repeating a request_key returns the first case.
  absl::StatusOr<SubmitResult> Submit(const v1::SubmitCaseRequest& request, absl::Time deadline);

  absl::StatusOr<Case> Get(const std::string& case_id);

 private:
  events::EventLog& log_;
  CaseStore& store_;
  const clock::Clock& clock_;
  IntakeOptions options_;
};

}  // namespace meldpunt::intake
