// What routing does with a case event: for a submitted case, decide the department and produce
// CaseRouted (on the case log) and the dispatch message (on the department's feed). Both carry
// ids derived from the submission's event id, so handling the same event twice produces the same
// records and consumers drop the repeat.
#pragma once

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/clock/clock.h"
#include "libs/events/codec.h"
#include "libs/kafka/producer.h"
#include "services/routing/rules.h"

namespace meldpunt::routing {

struct RoutingOutput {
  events::Envelope routed;
  events::v1::DispatchMessage dispatch;
  std::string dispatch_topic;
};

class RoutingLogic {
 public:
  RoutingLogic(const Rules& rules, const clock::Clock& clock) : rules_(rules), clock_(clock) {}

  // nullopt for events routing does not act on.
  std::optional<RoutingOutput> Handle(const events::Envelope& envelope) const;

 private:
  const Rules& rules_;
  const clock::Clock& clock_;
};

// The dispatch record: key = case id; the JSON form in a header for kcat users.
kafka::Message DispatchRecord(const RoutingOutput& output);

}  // namespace meldpunt::routing
