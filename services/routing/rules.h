// Routing rules as data, loaded from a YAML file (docs in services/routing/README.md):
// departments with teams and members, the department, team and skills of categories (the tree of
// categories is the catalogue's, libs/catalog), districts (postcodes, GeoJSON polygons),
// ordered rules, danger words, the Meldpunt's triage queue (`default_department`: where a case goes
// that nobody can take) and the queue of confidential cases (domain::IsConfidential: any kind),
// which no rule or category overrides.
//
//   ASSIGN_OR_RETURN(std::shared_ptr<const RuleSet> rules,
//                    LoadRules("routing-rules.yaml", "categories.yaml"));
//   RouteDecision d = rules->Decide({.draft = draft, .submitting_system = "web-form"});
//
// A RuleSet is immutable once loaded and holds the catalogue it was checked against: a reload
// reads both and swaps one pointer, so every decision sees rules and a tree that agree (a rules
// file is never used with a catalogue that lacks its categories). Decide is thread-safe.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/catalog/catalog.h"
#include "meldpunt/routing/v1/routing.pb.h"
#include "meldpunt/types/v1/case.pb.h"
#include "re2/re2.h"
#include "services/routing/districts.h"
#include "yaml-cpp/yaml.h"

namespace meldpunt::routing {

struct Member {
  std::string id;
  int64_t capacity = 0;  // open cases at most
  std::set<std::string> skills;
  bool available = true;
};

struct Team {
  std::string id;
  std::vector<Member> members;
};

struct Department {
  std::string id;
  std::string name;
  // Whether the department may read who reported, through GetCase (audited); never on its feed.
  // Never for a confidential or anonymous case (domain::ReporterVisible).
  bool may_see_reporter = false;
  std::vector<std::string> contacts;
  std::vector<std::string> escalation;
  std::vector<Team> teams;
};

// What routing says of a category of the catalogue. Its place in the tree is the catalogue's.
struct Category {
  std::string id;
  std::string department;  // empty: the nearest ancestor's (in the catalogue) with one
  std::string team;
  std::set<std::string> skills;
};

struct Match {
  std::set<types::v1::CaseKind> kinds;
  std::set<std::string> categories;  // a category matches its whole subtree (in the catalogue)
  std::set<std::string> districts;
  std::set<std::string> postcodes;
  std::set<types::v1::Priority> priorities;
  std::vector<std::string> keywords;  // lower case, whole words
  std::unique_ptr<RE2> regex;
  std::set<types::v1::Channel> channels;
  std::set<std::string> systems;
  // Every one of these departments bounced the case: a next candidate after a bounce (a
  // neighbouring department, or an outside body with refer_to).
  std::set<std::string> bounced_by;
};

struct Result {
  std::string department;
  std::string team;
  types::v1::Priority priority = types::v1::PRIORITY_UNSPECIFIED;
  std::string deadline_policy;
  std::set<std::string> skills;
  std::string refer_to;  // an outside body: the case is referred, not routed
};

struct Rule {
  std::string id;
  int line = 0;
  Match match;
  Result result;
};

// When a new case is a likely duplicate of an open one: same category, within `radius_m`,
// submitted within `window`.
struct DuplicatePolicy {
  bool enabled = false;
  std::set<types::v1::CaseKind> kinds;
  double radius_m = 50;
  absl::Duration window = absl::Hours(24 * 14);
  bool merge = false;  // merge into the master instead of linking to it
};

// What routing knows about a case when it decides.
struct RouteInput {
  types::v1::CaseDraft draft;
  std::string submitting_system;
  std::set<std::string> bounced;  // departments that bounced the case
  int hops = 0;                   // routings so far
  // Set by the Meldpunt team (PriorityChanged): it decides, whatever the draft or danger words say.
  types::v1::Priority team_priority = types::v1::PRIORITY_UNSPECIFIED;
};

// The rule ids of decisions no rule of the file makes (a rule of the file may not take them).
inline constexpr char kRuleConfidential[] = "confidential";
inline constexpr char kRuleReassigned[] = "reassigned";
// Triage: nobody can take the case, the Meldpunt team decides (CaseTriaged, not CaseRouted).
inline constexpr char kRuleNoRule[] = "default";          // no rule or category decides
inline constexpr char kRuleAllBounced[] = "all-bounced";  // every candidate bounced the case
inline constexpr char kRuleHopLimit[] = "hop-limit";      // routed max_hops times already

// Whether the decision sends the case to the triage queue: its department is then the queue
// (default_department), its rule one of the three above and its explanation the reason.
bool IsTriage(const v1::RouteDecision& decision);

class RuleSet {
 public:
  // Every category the rules name must be in `catalog`, which gives the tree. A null catalogue is
  // for tools without one (benchmarks): each category then stands alone, checked as a slug only.
  // The service always passes one (catalog.file is required: LoadRules).
  static absl::StatusOr<std::shared_ptr<const RuleSet>> LoadFile(
      const std::string& path, std::shared_ptr<const catalog::Catalog> catalog = nullptr);
  // `source` names the text in errors ("routing-rules.yaml:12:5: rules[3].match.kind: ...").
  static absl::StatusOr<std::shared_ptr<const RuleSet>> Parse(
      const std::string& yaml_text, const std::string& source,
      std::shared_ptr<const catalog::Catalog> catalog = nullptr);

  // The department (or outside body), team, priority, deadline policy, matched rule and reasons.
  // The assignee is left to the caller (it needs workload counts): see PickAssignee.
  // Nobody can take the case (IsTriage): the department is default_department, the explanation
  // starts with the reason in words an operator understands.
  v1::RouteDecision Decide(const RouteInput& input) const;

  // The Meldpunt team sent a case from triage to `department` (which must be one of the file's):
  // its priority (danger words) and skills (the category's, when the category belongs to that
  // department) as Decide would give them, rule `reassigned`.
  v1::RouteDecision DecideReassigned(const RouteInput& input, const std::string& department,
                                     const std::string& team, const std::string& reason) const;

  // The member of `department`/`team` with the fewest open cases among the available ones with
  // capacity left and the skills; ties go to the smallest id. Empty when nobody qualifies.
  std::string PickAssignee(const std::string& department, const std::string& team,
                           const std::set<std::string>& skills,
                           const std::map<std::string, int64_t>& open_cases) const;

  const Department* FindDepartment(const std::string& id) const;
  const std::map<std::string, Department>& departments() const { return departments_; }
  // Ids of every member of the department's teams.
  std::vector<std::string> Members(const std::string& department) const;
  // The Meldpunt team's triage queue: its feed gets the cases nobody can take.
  const std::string& default_department() const { return default_department_; }
  // Where every confidential case goes, whatever its category: the Meldpunt team's queue.
  const std::string& confidential_department() const { return confidential_department_; }
  int max_hops() const { return max_hops_; }
  const DuplicatePolicy& duplicates() const { return duplicates_; }
  // The catalogue the rules were checked against (null: none, tools only).
  const std::shared_ptr<const catalog::Catalog>& catalog() const { return catalog_; }
  // Every category of the catalogue (without one: of the file) with the department it goes to
  // without a rule.
  v1::GetRulesResponse Describe() const;
  std::vector<std::string> DispatchTopics() const;
  size_t rule_count() const { return rules_.size(); }

 private:
  RuleSet() = default;
  // A confidential case: the team's queue, with reasons that quote nothing of the case.
  v1::RouteDecision DecideConfidential(const RouteInput& input) const;
  // The team's priority when it set one; else the draft's, URGENT with a danger word (its reason
  // in `reason`, quoting the word).
  types::v1::Priority PriorityOf(const RouteInput& input, std::string* reason) const;
  // The category, then its parents up to the top (the catalogue's tree); just the category when
  // the catalogue does not hold it.
  std::vector<std::string> Lineage(const std::string& category) const;
  bool InCategory(const std::string& category, const std::string& ancestor) const;
  std::optional<std::string> DistrictOf(const types::v1::Location& location) const;
  // The category's own entry, or the nearest ancestor's with a department; null when none.
  const Category* CategoryWithDepartment(const std::string& category) const;
  // Whether the file says anything of the category or of a category above it.
  bool InRules(const std::string& category) const;

  std::shared_ptr<const catalog::Catalog> catalog_;
  std::map<std::string, Department> departments_;
  std::map<std::string, Category> categories_;
  std::vector<std::unique_ptr<District>> districts_;
  std::vector<Rule> rules_;
  std::vector<std::string> danger_words_;
  std::string default_department_;
  std::string confidential_department_;
  int max_hops_ = 3;
  DuplicatePolicy duplicates_;
};

// The catalogue (`catalog_file`), then the rules file checked against it: what routing loads at
// start, on ReloadRules and SIGHUP, and what --check-config checks. An error in either is
// returned (INVALID_ARGUMENT naming the file and line); nothing is half loaded.
absl::StatusOr<std::shared_ptr<const RuleSet>> LoadRules(const std::string& rules_file,
                                                         const std::string& catalog_file);

// Lower-cased whole words of a text (UTF-8 bytes >= 0x80 count as letters).
std::vector<std::string> Words(const std::string& text);

}  // namespace meldpunt::routing
