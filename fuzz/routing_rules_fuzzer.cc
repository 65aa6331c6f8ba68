// The routing rules parser: the text is a routing-rules.yaml, parsed by RuleSet::Parse against a
// fixed category catalogue (the shipped one's tree, and the seeds' own categories) as the routing
// service does at start and on reload; when it loads, a few cases are routed with it.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "libs/catalog/catalog.h"
#include "services/routing/rules.h"

namespace {
namespace routing = ::meldpunt::routing;
namespace t = ::meldpunt::types::v1;

// The tree of deploy/config/categories.yaml, and the categories of the other seeds (road >
// road-damage, x > y).
constexpr char kCatalog[] = R"(
categories:
  - {id: public-space, labels: {nl: a, fr: a, en: a}}
  - {id: street-lighting, parent: public-space, labels: {nl: a, fr: a, en: a}}
  - {id: roads, parent: public-space, labels: {nl: a, fr: a, en: a}}
  - {id: potholes, parent: roads, labels: {nl: a, fr: a, en: a}}
  - {id: sewer, parent: public-space, labels: {nl: a, fr: a, en: a}}
  - {id: environment, labels: {nl: a, fr: a, en: a}}
  - {id: noise, parent: environment, labels: {nl: a, fr: a, en: a}}
  - {id: waste-collection, parent: environment, labels: {nl: a, fr: a, en: a}}
  - {id: illegal-dumping, parent: environment, labels: {nl: a, fr: a, en: a}}
  - {id: parks, labels: {nl: a, fr: a, en: a}}
  - {id: trees, parent: parks, labels: {nl: a, fr: a, en: a}}
  - {id: parking, labels: {nl: a, fr: a, en: a}}
  - {id: traffic-signs, labels: {nl: a, fr: a, en: a}}
  - {id: service-quality, labels: {nl: a, fr: a, en: a}}
  - {id: staff-conduct, labels: {nl: a, fr: a, en: a}}
  - {id: graffiti, labels: {nl: a, fr: a, en: a}}
  - {id: road, labels: {nl: a, fr: a, en: a}}
  - {id: road-damage, parent: road, labels: {nl: a, fr: a, en: a}}
  - {id: x, labels: {nl: a, fr: a, en: a}}
  - {id: y, parent: x, labels: {nl: a, fr: a, en: a}}
)";

const std::shared_ptr<const meldpunt::catalog::Catalog>& Catalog() {
  static const auto* catalog = [] {
    auto parsed = meldpunt::catalog::Catalog::Parse(kCatalog, "categories.yaml");
    if (!parsed.ok()) std::abort();
    return new std::shared_ptr<const meldpunt::catalog::Catalog>(*parsed);
  }();
  return *catalog;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::shared_ptr<const routing::RuleSet>> rules =
      routing::RuleSet::Parse(text, "routing-rules.yaml", Catalog());
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
  for (const char* category : {"road-damage", "potholes", "y"}) {
    input.draft.set_category(category);
    input.bounced.clear();
    for (int hops = 0; hops < 2; ++hops) {
      input.hops = hops * set.max_hops();
      const auto decision = set.Decide(input);
      if (decision.department().empty() && decision.refer_to().empty()) std::abort();
      (void)set.PickAssignee(decision.department(), decision.team(), {}, {});
      (void)set.DecideReassigned(input, decision.department(), decision.team(), "");
      input.bounced.insert(decision.department());
    }
  }
  return 0;
}
