#include "services/intake/metrics.h"

#include "absl/status/status.h"

namespace meldpunt::intake {

IntakeMetrics::IntakeMetrics(prometheus::Registry& registry)
    : submits_(prometheus::BuildCounter()
                   .Name("meldpunt_intake_submit_total")
                   .Help("SubmitCase calls by outcome (created, repeated, or the gRPC code)")
                   .Register(registry)),
      submit_latency_(
          prometheus::BuildHistogram()
              .Name("meldpunt_intake_submit_seconds")
              .Help("SubmitCase latency, Kafka acknowledgement included")
              .Register(registry)
              .Add({},
                   prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                           0.1, 0.25, 0.5, 1, 2.5, 5, 10})),
      projection_(prometheus::BuildCounter()
                      .Name("meldpunt_intake_projection_events_total")
                      .Help("Events folded into the case projection by outcome")
                      .Register(registry)),
      projection_applied_(projection_.Add({{"outcome", "applied"}})),
      projection_duplicate_(projection_.Add({{"outcome", "duplicate"}})),
      projection_rejected_(projection_.Add({{"outcome", "rejected"}})),
      commands_(prometheus::BuildCounter()
                    .Name("meldpunt_intake_commands_total")
                    .Help("Case commands by command and outcome (ok or the gRPC code)")
                    .Register(registry)),
      command_latency_(prometheus::BuildHistogram()
                           .Name("meldpunt_intake_command_seconds")
                           .Help("Case command latency, Kafka acknowledgement included")
                           .Register(registry)) {}

void IntakeMetrics::ObserveSubmit(const absl::Status& status, bool created,
                                  absl::Duration latency) {
  std::string outcome =
      status.ok() ? (created ? "created" : "repeated") : absl::StatusCodeToString(status.code());
  submits_.Add({{"outcome", outcome}}).Increment();
  submit_latency_.Observe(absl::ToDoubleSeconds(latency));
}

void IntakeMetrics::ObserveCommand(const std::string& command, const absl::Status& status,
                                   absl::Duration latency) {
  commands_
      .Add({{"command", command},
            {"outcome", status.ok() ? "ok" : absl::StatusCodeToString(status.code())}})
      .Increment();
  command_latency_
      .Add({{"command", command}},
           prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                   0.25, 0.5, 1, 2.5, 5, 10})
      .Observe(absl::ToDoubleSeconds(latency));
}

void IntakeMetrics::ProjectionApplied(bool duplicate) {
  (duplicate ? projection_duplicate_ : projection_applied_).Increment();
}

void IntakeMetrics::ProjectionRejected() { projection_rejected_.Increment(); }

}  // namespace meldpunt::intake
