// The routing rules parser: the text is a routing-rules.yaml, parsed by RuleSet::Parse as the
// routing service does at start and on reload; when it loads, a few cases are routed with it.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "services/routing/rules.h"

namespace {
namespace routing = ::meldpunt::routing;
namespace t = ::meldpunt::types::v1;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::shared_ptr<const routing::RuleSet>> rules =
      routing::RuleSet::Parse(text, "routing-rules.yaml");
  if (!rules.ok()) {
    if (rules.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  const routing::RuleSet& set = **rules;
  (void)set.Describe();
  (void)set.DispatchTopics();
  routing::RouteInput input;
  input.submitting_system = "web-form";
  input.draft.set_kind(t::REPORT);
  input.draft.set_channel(t::WEB);
  input.draft.set_category("road-damage");
  input.draft.set_description("Er is een gevaarlijk gat in de weg, brand en rook bij de school");
  input.draft.mutable_location()->set_postcode("9000");
  input.draft.mutable_location()->set_has_coordinates(true);
  input.draft.mutable_location()->set_latitude(51.05);
  input.draft.mutable_location()->set_longitude(3.72);
  for (int hops = 0; hops < 2; ++hops) {
    input.hops = hops * set.max_hops();
    const auto decision = set.Decide(input);
    if (decision.department().empty() && decision.refer_to().empty()) std::abort();
    (void)set.PickAssignee(decision.department(), decision.team(), {}, {});
    input.bounced.insert(decision.department());
  }
  return 0;
}
