// Routing decisions per second with 1,000 rules and 100 districts (GeoJSON squares with
// postcodes), against a raw baseline on the same machine: a bare category -> department lookup,
// the least any router does.
//
//   tools/dev bench routing
#include <benchmark/benchmark.h>

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "services/routing/rules.h"

namespace meldpunt::routing {
namespace {

namespace t = ::meldpunt::types::v1;

constexpr int kRules = 1000;
constexpr int kDistricts = 100;  // a 10 x 10 grid of squares

std::string RulesYaml() {
  std::string y =
      "default_department: triage\nmax_hops: 3\ndanger_words: [gevaar, brand, gaslek]\n";
  y += "departments:\n  - {id: triage}\n";
  for (int d = 0; d < 20; ++d) {
    absl::StrAppend(&y, "  - id: dept-", d, "\n    teams:\n      - id: team\n        members:\n");
    for (int m = 0; m < 5; ++m)
      absl::StrAppend(&y, "          - {id: m", d, "-", m, ", capacity: 100}\n");
  }
  y += "categories:\n";
  for (int c = 0; c < 200; ++c)
    absl::StrAppend(&y, "  - {id: cat-", c, ", department: dept-", c % 20, "}\n");
  y += "districts:\n";
  for (int i = 0; i < kDistricts; ++i) {
    const double lat = 51.00 + (i / 10) * 0.01;
    const double lon = 3.60 + (i % 10) * 0.01;
    absl::StrAppend(&y, "  - id: district-", i, "\n    postcodes: [\"", 9000 + i, "\"]\n",
                    "    polygon: {type: Polygon, coordinates: [[[", lon, ", ", lat, "], [",
                    lon + 0.01, ", ", lat, "], [", lon + 0.01, ", ", lat + 0.01, "], [", lon, ", ",
                    lat + 0.01, "], [", lon, ", ", lat, "]]]}\n");
  }
  y += "rules:\n";
  for (int r = 0; r < kRules; ++r) {
    // Mostly rules that do not match the benchmark's cases, so a decision walks the whole list.
    absl::StrAppend(&y, "  - id: rule-", r, "\n    match: {category: [cat-", r % 200,
                    "], district: [district-", r % kDistricts, "], keywords: [woord", r,
                    "]}\n    result: {department: dept-", r % 20, "}\n");
  }
  return y;
}

const RuleSet& Rules() {
  static const auto* rules = [] {
    auto parsed = RuleSet::Parse(RulesYaml(), "bench.yaml");
    if (!parsed.ok()) std::abort();
    return new std::shared_ptr<const RuleSet>(*parsed);
  }();
  return **rules;
}

RouteInput Case(int i, bool coordinates) {
  RouteInput in;
  in.draft.set_kind(t::REPORT);
  in.draft.set_channel(t::WEB);
  in.draft.set_category(absl::StrCat("cat-", i % 200));
  in.draft.set_description(
      "Er ligt al een week een grote hoop afval naast de glasbak aan het plein");
  if (coordinates) {
    in.draft.mutable_location()->set_has_coordinates(true);
    in.draft.mutable_location()->set_latitude(51.0 + (i % 97) * 0.001);
    in.draft.mutable_location()->set_longitude(3.6 + (i % 89) * 0.001);
  } else {
    in.draft.mutable_location()->set_postcode(absl::StrCat(9000 + i % kDistricts));
  }
  return in;
}

// Full decisions: district by postcode, 1,000 rules walked, category fallback, explanation.
void BM_DecidePostcode(benchmark::State& state) {
  const RuleSet& rules = Rules();
  std::vector<RouteInput> cases;
  for (int i = 0; i < 1000; ++i) cases.push_back(Case(i, false));
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(rules.Decide(cases[i++ % cases.size()]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecidePostcode);

// The same with coordinates: point in polygon over 100 GEOS prepared polygons first.
void BM_DecideCoordinates(benchmark::State& state) {
  const RuleSet& rules = Rules();
  std::vector<RouteInput> cases;
  for (int i = 0; i < 1000; ++i) cases.push_back(Case(i, true));
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(rules.Decide(cases[i++ % cases.size()]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecideCoordinates);

// Workload-aware assignment among 5 members.
void BM_PickAssignee(benchmark::State& state) {
  const RuleSet& rules = Rules();
  std::map<std::string, int64_t> open = {
      {"m3-0", 4}, {"m3-1", 2}, {"m3-2", 7}, {"m3-3", 2}, {"m3-4", 9}};
  for (auto _ : state) benchmark::DoNotOptimize(rules.PickAssignee("dept-3", "team", {}, open));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PickAssignee);

// Raw baseline: a bare category -> department map lookup.
void BM_BaselineCategoryLookup(benchmark::State& state) {
  std::map<std::string, std::string> table;
  for (int c = 0; c < 200; ++c) table[absl::StrCat("cat-", c)] = absl::StrCat("dept-", c % 20);
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back(absl::StrCat("cat-", i % 200));
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(table.find(keys[i++ % keys.size()])->second);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BaselineCategoryLookup);

}  // namespace
}  // namespace meldpunt::routing

BENCHMARK_MAIN();
