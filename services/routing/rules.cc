#include "services/routing/rules.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/events/topics.h"

namespace meldpunt::routing {
namespace {

bool IsSlug(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-')) return false;
  return true;
}

}  // namespace

absl::StatusOr<Rules> Rules::FromConfig(const std::map<std::string, std::string>& categories,
                                        const YAML::Node& departments,
                                        const std::string& default_department) {
  Rules rules;
  if (!departments || !departments.IsSequence() || departments.size() == 0) {
    return absl::InvalidArgumentError("routing.departments: must be a non-empty list");
  }
  for (size_t i = 0; i < departments.size(); ++i) {
    const YAML::Node& node = departments[i];
    const std::string where = absl::StrCat("routing.departments[", i, "]");
    if (!node.IsMap())
      return absl::InvalidArgumentError(absl::StrCat(where, ": must be a mapping"));
    Department d;
    for (const auto& item : node) {
      const std::string key = item.first.as<std::string>();
      if (key == "id") {
        d.id = item.second.as<std::string>();
      } else if (key == "name") {
        d.name = item.second.as<std::string>();
      } else if (key == "may_see_reporter") {
        std::string v = item.second.as<std::string>();
        if (v != "true" && v != "false") {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ".may_see_reporter: expected true or false"));
        }
        d.may_see_reporter = v == "true";
      } else {
        return absl::InvalidArgumentError(absl::StrCat(where, ": unknown key '", key, "'"));
      }
    }
    if (!IsSlug(d.id)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".id: must be 1-64 characters of a-z, 0-9 and '-'"));
    }
    if (d.name.empty()) d.name = d.id;
    if (!rules.departments_.emplace(d.id, d).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".id: '", d.id, "' is listed twice"));
    }
  }
  for (const auto& [category, department] : categories) {
    if (!IsSlug(category)) {
      return absl::InvalidArgumentError(
          absl::StrCat("routing.categories: '", category, "' is not a valid category"));
    }
    if (!rules.departments_.count(department)) {
      return absl::InvalidArgumentError(absl::StrCat("routing.categories.", category,
                                                     ": department '", department,
                                                     "' is not in routing.departments"));
    }
  }
  if (!rules.departments_.count(default_department)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "routing.default_department: '", default_department, "' is not in routing.departments"));
  }
  rules.categories_ = categories;
  rules.default_department_ = default_department;
  return rules;
}

v1::RouteDecision Rules::Decide(const types::v1::CaseDraft& draft) const {
  v1::RouteDecision decision;
  auto it = categories_.find(draft.category());
  if (it != categories_.end()) {
    decision.set_department(it->second);
    decision.set_rule_id(absl::StrCat("category:", draft.category()));
    decision.set_explanation(
        absl::StrCat("category '", draft.category(), "' is handled by ", it->second));
  } else {
    decision.set_department(default_department_);
    decision.set_rule_id("default");
    decision.set_explanation(
        absl::StrCat("no rule for category '", draft.category(), "': to ", default_department_));
  }
  decision.set_priority(draft.priority() == types::v1::PRIORITY_UNSPECIFIED ? types::v1::NORMAL
                                                                            : draft.priority());
  decision.set_dispatch_topic(events::DispatchTopic(decision.department()));
  return decision;
}

const Department* Rules::FindDepartment(const std::string& id) const {
  auto it = departments_.find(id);
  return it == departments_.end() ? nullptr : &it->second;
}

v1::GetRulesResponse Rules::Describe() const {
  v1::GetRulesResponse out;
  for (const auto& [id, d] : departments_) {
    auto* department = out.add_departments();
    department->set_id(id);
    department->set_name(d.name);
    department->set_dispatch_topic(events::DispatchTopic(id));
    department->set_may_see_reporter(d.may_see_reporter);
  }
  for (const auto& [category, department] : categories_) {
    auto* route = out.add_categories();
    route->set_category(category);
    route->set_department(department);
  }
  out.set_default_department(default_department_);
  return out;
}

std::vector<std::string> Rules::DispatchTopics() const {
  std::vector<std::string> topics;
  for (const auto& [id, d] : departments_) topics.push_back(events::DispatchTopic(id));
  return topics;
}

}  // namespace meldpunt::routing
