// Routing rules as data: departments and a category table, loaded from the routing config.
//
//   ASSIGN_OR_RETURN(Rules rules, Rules::FromConfig(config.categories, config.departments,
//   "meldpunt-triage")); RouteDecision d = rules.Decide(draft);
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "meldpunt/routing/v1/routing.pb.h"
#include "meldpunt/types/v1/case.pb.h"
#include "yaml-cpp/yaml.h"

namespace meldpunt::routing {

struct Department {
  std::string id;
  std::string name;
  // Whether dispatch messages to this department carry the reporter's identity.
  bool may_see_reporter = false;
};

class Rules {
 public:
  // `departments` is the YAML list under routing.departments; every department a category or the
  // default names must be listed there. Errors name the offending entry.
  static absl::StatusOr<Rules> FromConfig(const std::map<std::string, std::string>& categories,
                                          const YAML::Node& departments,
                                          const std::string& default_department);

  v1::RouteDecision Decide(const types::v1::CaseDraft& draft) const;
  const Department* FindDepartment(const std::string& id) const;
  v1::GetRulesResponse Describe() const;
  std::vector<std::string> DispatchTopics() const;

 private:
  std::map<std::string, Department> departments_;
  std::map<std::string, std::string> categories_;
  std::string default_department_;
};

}  // namespace meldpunt::routing
