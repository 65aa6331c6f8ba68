#include "services/routing/rules.h"

#include <algorithm>
#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/catalog/slug.h"
#include "libs/config/config.h"
#include "libs/domain/disclosure.h"
#include "libs/events/topics.h"
#include "nlohmann/json.hpp"

namespace meldpunt::routing {
namespace {

namespace t = ::meldpunt::types::v1;

using ::meldpunt::catalog::IsSlug;
using ::meldpunt::catalog::kSlugRule;

// Builds errors that name the file, the line and column, the path and the reason.
class Errors {
 public:
  explicit Errors(std::string source) : source_(std::move(source)) {}
  absl::Status At(const YAML::Node& node, const std::string& path,
                  const std::string& reason) const {
    const YAML::Mark mark = node.Mark();
    if (mark.line >= 0) {
      return absl::InvalidArgumentError(absl::StrCat(source_, ":", mark.line + 1, ":",
                                                     mark.column + 1, ": ", path, ": ", reason));
    }
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", path, ": ", reason));
  }

 private:
  std::string source_;
};

#define RETURN_IF_BAD(expr)            \
  do {                                 \
    absl::Status status_ = (expr);     \
    if (!status_.ok()) return status_; \
  } while (0)

absl::Status CheckKeys(const Errors& err, const YAML::Node& node, const std::string& path,
                       const std::set<std::string>& allowed) {
  if (!node.IsMap()) return err.At(node, path, "must be a mapping");
  for (const auto& item : node) {
    const std::string key = item.first.Scalar();
    if (!allowed.count(key)) {
      return err.At(
          item.first, path,
          absl::StrCat("unknown key '", key, "' (allowed: ", absl::StrJoin(allowed, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Scalar(const Errors& err, const YAML::Node& node,
                                   const std::string& path) {
  if (!node.IsScalar()) return err.At(node, path, "must be a single value");
  return node.Scalar();
}

absl::StatusOr<std::vector<std::string>> List(const Errors& err, const YAML::Node& node,
                                              const std::string& path) {
  std::vector<std::string> out;
  if (!node) return out;
  if (node.IsScalar()) return std::vector<std::string>{node.Scalar()};
  if (!node.IsSequence()) return err.At(node, path, "must be a list");
  for (size_t i = 0; i < node.size(); ++i) {
    if (!node[i].IsScalar())
      return err.At(node[i], absl::StrCat(path, "[", i, "]"), "must be a value");
    out.push_back(node[i].Scalar());
  }
  return out;
}

absl::StatusOr<bool> Bool(const Errors& err, const YAML::Node& node, const std::string& path) {
  if (node.IsScalar()) {
    std::string v = absl::AsciiStrToLower(node.Scalar());
    if (v == "true" || v == "yes") return true;
    if (v == "false" || v == "no") return false;
  }
  return err.At(node, path, "must be true or false");
}

// YAML to JSON (for GeoJSON written as YAML): numbers stay numbers.
nlohmann::json ToJson(const YAML::Node& node) {
  if (node.IsMap()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& item : node) out[item.first.Scalar()] = ToJson(item.second);
    return out;
  }
  if (node.IsSequence()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : node) out.push_back(ToJson(item));
    return out;
  }
  if (node.IsScalar()) {
    double number = 0;
    if (absl::SimpleAtod(node.Scalar(), &number) && node.Tag() != "!") return number;
    return node.Scalar();
  }
  return nullptr;
}

template <typename Enum>
absl::StatusOr<std::set<Enum>> Enums(const Errors& err, const YAML::Node& node,
                                     const std::string& path,
                                     bool (*parse)(const std::string&, Enum*)) {
  std::set<Enum> out;
  auto values = List(err, node, path);
  if (!values.ok()) return values.status();
  for (const std::string& v : *values) {
    Enum e{};
    if (!parse(v, &e) || static_cast<int>(e) == 0)
      return err.At(node, path, absl::StrCat("unknown value '", v, "'"));
    out.insert(e);
  }
  return out;
}

bool HasWord(const std::vector<std::string>& words, const std::string& phrase) {
  // A keyword of several words matches them in sequence.
  std::vector<std::string> parts = Words(phrase);
  if (parts.empty()) return false;
  for (size_t i = 0; i + parts.size() <= words.size(); ++i) {
    bool all = true;
    for (size_t k = 0; k < parts.size() && all; ++k) all = words[i + k] == parts[k];
    if (all) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> words;
  std::string current;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c >= 0x80) {
      current.push_back(static_cast<char>(absl::ascii_tolower(c)));
    } else if (!current.empty()) {
      words.push_back(std::move(current));
      current.clear();
    }
  }
  if (!current.empty()) words.push_back(std::move(current));
  return words;
}

absl::StatusOr<std::shared_ptr<const RuleSet>> RuleSet::LoadFile(
    const std::string& path, std::shared_ptr<const catalog::Catalog> catalog) {
  absl::StatusOr<std::string> text = config::ReadFile(path);
  if (!text.ok()) return text.status();
  return Parse(*text, path, std::move(catalog));
}

absl::StatusOr<std::shared_ptr<const RuleSet>> LoadRules(const std::string& rules_file,
                                                         const std::string& catalog_file) {
  absl::StatusOr<std::shared_ptr<const catalog::Catalog>> catalog =
      catalog::Catalog::LoadFile(catalog_file);
  if (!catalog.ok()) return catalog.status();
  return RuleSet::LoadFile(rules_file, *std::move(catalog));
}

absl::StatusOr<std::shared_ptr<const RuleSet>> RuleSet::Parse(
    const std::string& yaml_text, const std::string& source,
    std::shared_ptr<const catalog::Catalog> catalog) {
  const Errors err(source);
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ":", e.mark.line + 1, ":",
                                                   e.mark.column + 1, ": not valid YAML: ", e.msg));
  }
  std::shared_ptr<RuleSet> rules(new RuleSet());
  rules->catalog_ = std::move(catalog);
  // A category id the file names: a slug, and one of the catalogue's when there is one.
  auto check_category = [&](const YAML::Node& node, const std::string& path,
                            const std::string& id) -> absl::Status {
    if (!IsSlug(id)) return err.At(node, path, absl::StrCat("'", id, "' ", kSlugRule));
    if (rules->catalog_ != nullptr && !rules->catalog_->Contains(id)) {
      return err.At(node, path,
                    absl::StrCat("'", id,
                                 "' is not in the category catalogue (catalog.file): add it "
                                 "there first, then reload the rules"));
    }
    return absl::OkStatus();
  };
  RETURN_IF_BAD(
      CheckKeys(err, root, "routing rules",
                {"default_department", "confidential_department", "max_hops", "danger_words",
                 "departments", "categories", "districts", "rules", "duplicates"}));
  // Departments.
  const YAML::Node departments = root["departments"];
  if (!departments || !departments.IsSequence() || departments.size() == 0) {
    return err.At(departments ? departments : root, "departments", "must be a non-empty list");
  }
  for (size_t i = 0; i < departments.size(); ++i) {
    const YAML::Node node = departments[i];
    const std::string path = absl::StrCat("departments[", i, "]");
    RETURN_IF_BAD(CheckKeys(err, node, path,
                            {"id", "name", "may_see_reporter", "contacts", "escalation", "teams"}));
    Department d;
    if (!node["id"] || !IsSlug(node["id"].Scalar())) {
      return err.At(node, path + ".id", absl::StrCat("required, and ", kSlugRule));
    }
    d.id = node["id"].Scalar();
    d.name = node["name"] ? node["name"].Scalar() : d.id;
    if (node["may_see_reporter"]) {
      auto b = Bool(err, node["may_see_reporter"], path + ".may_see_reporter");
      if (!b.ok()) return b.status();
      d.may_see_reporter = *b;
    }
    auto contacts = List(err, node["contacts"], path + ".contacts");
    if (!contacts.ok()) return contacts.status();
    d.contacts = *contacts;
    auto escalation = List(err, node["escalation"], path + ".escalation");
    if (!escalation.ok()) return escalation.status();
    d.escalation = *escalation;
    if (const YAML::Node teams = node["teams"]) {
      if (!teams.IsSequence()) return err.At(teams, path + ".teams", "must be a list");
      for (size_t k = 0; k < teams.size(); ++k) {
        const std::string tpath = absl::StrCat(path, ".teams[", k, "]");
        RETURN_IF_BAD(CheckKeys(err, teams[k], tpath, {"id", "members"}));
        Team team;
        if (!teams[k]["id"] || !IsSlug(teams[k]["id"].Scalar()))
          return err.At(teams[k], tpath + ".id", absl::StrCat("required, and ", kSlugRule));
        team.id = teams[k]["id"].Scalar();
        const YAML::Node members = teams[k]["members"];
        if (members && !members.IsSequence())
          return err.At(members, tpath + ".members", "must be a list");
        for (size_t m = 0; members && m < members.size(); ++m) {
          const std::string mpath = absl::StrCat(tpath, ".members[", m, "]");
          RETURN_IF_BAD(
              CheckKeys(err, members[m], mpath, {"id", "capacity", "skills", "available"}));
          Member member;
          if (!members[m]["id"]) return err.At(members[m], mpath + ".id", "required");
          member.id = members[m]["id"].Scalar();
          if (members[m]["capacity"] &&
              (!absl::SimpleAtoi(members[m]["capacity"].Scalar(), &member.capacity) ||
               member.capacity < 0)) {
            return err.At(members[m]["capacity"], mpath + ".capacity",
                          "must be a number of cases >= 0");
          }
          auto skills = List(err, members[m]["skills"], mpath + ".skills");
          if (!skills.ok()) return skills.status();
          member.skills = {skills->begin(), skills->end()};
          if (members[m]["available"]) {
            auto b = Bool(err, members[m]["available"], mpath + ".available");
            if (!b.ok()) return b.status();
            member.available = *b;
          }
          team.members.push_back(std::move(member));
        }
        d.teams.push_back(std::move(team));
      }
    }
    if (!rules->departments_.emplace(d.id, d).second) {
      return err.At(node["id"], path + ".id", absl::StrCat("'", d.id, "' is listed twice"));
    }
  }
  auto team_exists = [&](const std::string& department, const std::string& team) {
    const Department* d = rules->FindDepartment(department);
    if (d == nullptr) return false;
    for (const Team& t : d->teams)
      if (t.id == team) return true;
    return false;
  };
  // Default and hop limit.
  if (!root["default_department"] ||
      !rules->departments_.count(root["default_department"].Scalar())) {
    return err.At(root["default_department"] ? root["default_department"] : root,
                  "default_department", "required, and must be one of the departments");
  }
  rules->default_department_ = root["default_department"].Scalar();
  // The Meldpunt team's queue for confidential cases; the triage queue when the file names none.
  rules->confidential_department_ = rules->default_department_;
  if (const YAML::Node node = root["confidential_department"]) {
    if (!node.IsScalar() || !rules->departments_.count(node.Scalar())) {
      return err.At(node, "confidential_department", "must be one of the departments");
    }
    rules->confidential_department_ = node.Scalar();
  }
  if (root["max_hops"]) {
    int64_t hops = 0;
    if (!absl::SimpleAtoi(root["max_hops"].Scalar(), &hops) || hops < 1 || hops > 20) {
      return err.At(root["max_hops"], "max_hops", "must be between 1 and 20");
    }
    rules->max_hops_ = static_cast<int>(hops);
  }
  if (const YAML::Node dup = root["duplicates"]) {
    RETURN_IF_BAD(CheckKeys(err, dup, "duplicates", {"kinds", "radius_m", "window", "action"}));
    DuplicatePolicy& p = rules->duplicates_;
    p.enabled = true;
    auto kinds = Enums<t::CaseKind>(err, dup["kinds"], "duplicates.kinds", &t::CaseKind_Parse);
    if (!kinds.ok()) return kinds.status();
    p.kinds = kinds->empty() ? std::set<t::CaseKind>{t::REPORT} : *kinds;
    if (dup["radius_m"] && (!absl::SimpleAtod(dup["radius_m"].Scalar(), &p.radius_m) ||
                            p.radius_m <= 0 || p.radius_m > 10000)) {
      return err.At(dup["radius_m"], "duplicates.radius_m", "metres, between 0 and 10000");
    }
    if (dup["window"]) {
      auto window = config::ParseDuration(dup["window"].Scalar());
      if (!window.ok() || *window <= absl::ZeroDuration()) {
        return err.At(dup["window"], "duplicates.window", "a positive duration such as 14d");
      }
      p.window = *window;
    }
    if (dup["action"]) {
      const std::string action = dup["action"].Scalar();
      if (action != "link" && action != "merge")
        return err.At(dup["action"], "duplicates.action", "link or merge");
      p.merge = action == "merge";
    }
  }
  auto danger = List(err, root["danger_words"], "danger_words");
  if (!danger.ok()) return danger.status();
  for (const std::string& w : *danger) rules->danger_words_.push_back(absl::AsciiStrToLower(w));
  // Categories: what routing says of them; the tree is the catalogue's.
  if (const YAML::Node categories = root["categories"]) {
    if (!categories.IsSequence()) return err.At(categories, "categories", "must be a list");
    for (size_t i = 0; i < categories.size(); ++i) {
      const YAML::Node node = categories[i];
      const std::string path = absl::StrCat("categories[", i, "]");
      if (node.IsMap() && node["parent"]) {
        return err.At(node["parent"], path + ".parent",
                      "the category tree is in the category catalogue (catalog.file), not in "
                      "the routing rules: remove parent here (a category without a department "
                      "goes where its nearest ancestor in the catalogue goes)");
      }
      RETURN_IF_BAD(CheckKeys(err, node, path, {"id", "department", "team", "skills"}));
      if (!node["id"] || !node["id"].IsScalar()) return err.At(node, path + ".id", "required");
      Category c;
      c.id = node["id"].Scalar();
      RETURN_IF_BAD(check_category(node["id"], path + ".id", c.id));
      if (node["department"]) {
        c.department = node["department"].Scalar();
        if (!rules->departments_.count(c.department)) {
          return err.At(node["department"], path + ".department",
                        absl::StrCat("'", c.department, "' is not a department"));
        }
      }
      if (node["team"]) {
        c.team = node["team"].Scalar();
        if (!team_exists(c.department, c.team)) {
          return err.At(node["team"], path + ".team",
                        absl::StrCat("'", c.team, "' is not a team of '", c.department, "'"));
        }
      }
      auto skills = List(err, node["skills"], path + ".skills");
      if (!skills.ok()) return skills.status();
      c.skills = {skills->begin(), skills->end()};
      if (!rules->categories_.emplace(c.id, c).second) {
        return err.At(node["id"], path + ".id", absl::StrCat("'", c.id, "' is listed twice"));
      }
    }
  }
  // Districts.
  if (const YAML::Node districts = root["districts"]) {
    if (!districts.IsSequence()) return err.At(districts, "districts", "must be a list");
    std::set<std::string> ids;
    for (size_t i = 0; i < districts.size(); ++i) {
      const std::string path = absl::StrCat("districts[", i, "]");
      RETURN_IF_BAD(CheckKeys(err, districts[i], path, {"id", "postcodes", "polygon"}));
      if (!districts[i]["id"] || !IsSlug(districts[i]["id"].Scalar())) {
        return err.At(districts[i], path + ".id", absl::StrCat("required, and ", kSlugRule));
      }
      const std::string id = districts[i]["id"].Scalar();
      if (!ids.insert(id).second) return err.At(districts[i]["id"], path + ".id", "listed twice");
      auto postcodes = List(err, districts[i]["postcodes"], path + ".postcodes");
      if (!postcodes.ok()) return postcodes.status();
      std::string geojson;
      if (const YAML::Node polygon = districts[i]["polygon"]) {
        try {
          geojson = polygon.IsScalar() ? polygon.Scalar() : ToJson(polygon).dump();
        } catch (const nlohmann::json::exception& e) {
          // dump() refuses strings that are not UTF-8.
          return err.At(polygon, path + ".polygon", absl::StrCat("not valid GeoJSON: ", e.what()));
        }
      }
      if (postcodes->empty() && geojson.empty()) {
        return err.At(districts[i], path, "needs postcodes, a polygon, or both");
      }
      auto district = District::Create(id, {postcodes->begin(), postcodes->end()}, geojson);
      if (!district.ok())
        return err.At(districts[i]["polygon"], path + ".polygon",
                      std::string(district.status().message()));
      rules->districts_.push_back(std::move(*district));
    }
  }
  // Rules.
  if (const YAML::Node list = root["rules"]) {
    if (!list.IsSequence()) return err.At(list, "rules", "must be a list");
    std::set<std::string> ids;
    for (size_t i = 0; i < list.size(); ++i) {
      const YAML::Node node = list[i];
      const std::string path = absl::StrCat("rules[", i, "]");
      RETURN_IF_BAD(CheckKeys(err, node, path, {"id", "match", "result"}));
      Rule rule;
      rule.line = node.Mark().line + 1;
      if (!node["id"] || !ids.insert(node["id"].Scalar()).second) {
        return err.At(node, path + ".id", "required and unique");
      }
      rule.id = node["id"].Scalar();
      for (const char* reserved :
           {kRuleConfidential, kRuleReassigned, kRuleNoRule, kRuleAllBounced, kRuleHopLimit}) {
        if (rule.id == reserved || absl::StartsWith(rule.id, "category:")) {
          return err.At(node["id"], path + ".id",
                        absl::StrCat("'", rule.id, "' is the id of a decision no rule makes"));
        }
      }
      const YAML::Node m = node["match"];
      if (!m)
        return err.At(node, path + ".match", "required (an empty mapping matches every case)");
      const std::string mp = path + ".match";
      RETURN_IF_BAD(CheckKeys(err, m, mp,
                              {"kind", "category", "district", "postcode", "priority", "keywords",
                               "regex", "channel", "system", "bounced_by"}));
      auto kinds = Enums<t::CaseKind>(err, m["kind"], mp + ".kind", &t::CaseKind_Parse);
      if (!kinds.ok()) return kinds.status();
      rule.match.kinds = *kinds;
      auto priorities =
          Enums<t::Priority>(err, m["priority"], mp + ".priority", &t::Priority_Parse);
      if (!priorities.ok()) return priorities.status();
      rule.match.priorities = *priorities;
      auto channels = Enums<t::Channel>(err, m["channel"], mp + ".channel", &t::Channel_Parse);
      if (!channels.ok()) return channels.status();
      rule.match.channels = *channels;
      auto categories = List(err, m["category"], mp + ".category");
      if (!categories.ok()) return categories.status();
      for (size_t k = 0; k < categories->size(); ++k) {
        const std::string& c = (*categories)[k];
        const bool listed = m["category"].IsSequence();
        RETURN_IF_BAD(
            check_category(listed ? m["category"][k] : m["category"],
                           listed ? absl::StrCat(mp, ".category[", k, "]") : mp + ".category", c));
        // Without a catalogue (tools only) a rule may name only the file's categories.
        if (rules->catalog_ == nullptr && !rules->categories_.count(c)) {
          return err.At(m["category"], mp + ".category",
                        absl::StrCat("'", c, "' is not a category"));
        }
        rule.match.categories.insert(c);
      }
      auto districts = List(err, m["district"], mp + ".district");
      if (!districts.ok()) return districts.status();
      for (const std::string& d : *districts) {
        bool known = false;
        for (const auto& district : rules->districts_) known |= district->id() == d;
        if (!known)
          return err.At(m["district"], mp + ".district",
                        absl::StrCat("'", d, "' is not a district"));
        rule.match.districts.insert(d);
      }
      auto postcodes = List(err, m["postcode"], mp + ".postcode");
      if (!postcodes.ok()) return postcodes.status();
      rule.match.postcodes = {postcodes->begin(), postcodes->end()};
      auto keywords = List(err, m["keywords"], mp + ".keywords");
      if (!keywords.ok()) return keywords.status();
      for (const std::string& k : *keywords)
        rule.match.keywords.push_back(absl::AsciiStrToLower(k));
      if (m["regex"]) {
        RE2::Options options;
        options.set_case_sensitive(false);
        options.set_log_errors(false);
        rule.match.regex = std::make_unique<RE2>(m["regex"].Scalar(), options);
        if (!rule.match.regex->ok()) {
          return err.At(m["regex"], mp + ".regex",
                        absl::StrCat("not a valid RE2 expression: ", rule.match.regex->error()));
        }
      }
      auto systems = List(err, m["system"], mp + ".system");
      if (!systems.ok()) return systems.status();
      rule.match.systems = {systems->begin(), systems->end()};
      auto bounced_by = List(err, m["bounced_by"], mp + ".bounced_by");
      if (!bounced_by.ok()) return bounced_by.status();
      for (const std::string& d : *bounced_by) {
        if (!rules->departments_.count(d))
          return err.At(m["bounced_by"], mp + ".bounced_by",
                        absl::StrCat("'", d, "' is not a department"));
        rule.match.bounced_by.insert(d);
      }
      const YAML::Node r = node["result"];
      const std::string rp = path + ".result";
      if (!r) return err.At(node, rp, "required");
      RETURN_IF_BAD(CheckKeys(
          err, r, rp, {"department", "team", "priority", "deadline_policy", "skills", "refer_to"}));
      if (r["refer_to"]) {
        rule.result.refer_to = r["refer_to"].Scalar();
        if (rule.result.refer_to.empty() || r["department"]) {
          return err.At(r, rp, "refer_to names an outside body and excludes department");
        }
      } else {
        if (!r["department"] || !rules->departments_.count(r["department"].Scalar())) {
          return err.At(r["department"] ? r["department"] : r, rp + ".department",
                        "required (or refer_to), and must be one of the departments");
        }
        rule.result.department = r["department"].Scalar();
      }
      if (r["team"]) {
        rule.result.team = r["team"].Scalar();
        if (!team_exists(rule.result.department, rule.result.team)) {
          return err.At(r["team"], rp + ".team",
                        absl::StrCat("'", rule.result.team, "' is not a team of '",
                                     rule.result.department, "'"));
        }
      }
      if (r["priority"]) {
        t::Priority p{};
        if (!t::Priority_Parse(r["priority"].Scalar(), &p) || p == t::PRIORITY_UNSPECIFIED) {
          return err.At(r["priority"], rp + ".priority", "one of LOW, NORMAL, HIGH, URGENT");
        }
        rule.result.priority = p;
      }
      if (r["deadline_policy"]) rule.result.deadline_policy = r["deadline_policy"].Scalar();
      auto skills = List(err, r["skills"], rp + ".skills");
      if (!skills.ok()) return skills.status();
      rule.result.skills = {skills->begin(), skills->end()};
      rules->rules_.push_back(std::move(rule));
    }
  }
  return std::shared_ptr<const RuleSet>(std::move(rules));
}

const Department* RuleSet::FindDepartment(const std::string& id) const {
  auto it = departments_.find(id);
  return it == departments_.end() ? nullptr : &it->second;
}

std::vector<std::string> RuleSet::Members(const std::string& department) const {
  std::vector<std::string> out;
  if (const Department* d = FindDepartment(department)) {
    for (const Team& t : d->teams)
      for (const Member& m : t.members) out.push_back(m.id);
  }
  return out;
}

std::vector<std::string> RuleSet::Lineage(const std::string& category) const {
  if (category.empty()) return {};
  if (catalog_ != nullptr && catalog_->Contains(category)) return catalog_->Ancestors(category);
  return {category};
}

bool RuleSet::InCategory(const std::string& category, const std::string& ancestor) const {
  if (category == ancestor) return true;
  return catalog_ != nullptr && catalog_->IsWithin(category, ancestor);
}

const Category* RuleSet::CategoryWithDepartment(const std::string& category) const {
  for (const std::string& at : Lineage(category)) {
    auto it = categories_.find(at);
    if (it != categories_.end() && !it->second.department.empty()) return &it->second;
  }
  return nullptr;
}

bool RuleSet::InRules(const std::string& category) const {
  for (const std::string& at : Lineage(category))
    if (categories_.count(at)) return true;
  return false;
}

std::optional<std::string> RuleSet::DistrictOf(const t::Location& location) const {
  if (!location.postcode().empty()) {
    for (const auto& d : districts_)
      if (d->HasPostcode(location.postcode())) return d->id();
  }
  if (location.has_coordinates()) {
    for (const auto& d : districts_)
      if (d->Contains(location.latitude(), location.longitude())) return d->id();
  }
  if (!location.district().empty()) return location.district();
  return std::nullopt;
}

v1::RouteDecision RuleSet::DecideConfidential(const RouteInput& input) const {
  // No rule, category, district or keyword decides, and the reasons quote nothing of the case:
  // the explanation goes on the case log and into the dispatch message.
  const t::CaseDraft& draft = input.draft;
  v1::RouteDecision decision;
  const t::Priority priority = PriorityOf(input, nullptr);
  decision.set_department(confidential_department_);
  decision.set_dispatch_topic(events::DispatchTopic(confidential_department_));
  decision.set_rule_id("confidential");
  decision.set_priority(priority);
  decision.add_reasons(absl::StrCat("confidential case: for the Meldpunt team only, to ",
                                    confidential_department_, " (confidential_department)"));
  if (input.team_priority != t::PRIORITY_UNSPECIFIED) {
    decision.add_reasons(
        absl::StrCat("priority ", t::Priority_Name(priority), " set by the Meldpunt team"));
  } else if (priority == t::URGENT && draft.priority() != t::URGENT) {
    decision.add_reasons("a danger word: priority URGENT");
  }
  decision.set_explanation(absl::StrJoin(decision.reasons(), "; "));
  return decision;
}

t::Priority RuleSet::PriorityOf(const RouteInput& input, std::string* reason) const {
  // The team's decision stands above the draft and the danger words (ChangePriority).
  if (input.team_priority != t::PRIORITY_UNSPECIFIED) {
    if (reason != nullptr)
      *reason = absl::StrCat("priority ", t::Priority_Name(input.team_priority),
                             " set by the Meldpunt team");
    return input.team_priority;
  }
  const t::CaseDraft& draft = input.draft;
  t::Priority priority = draft.priority() == t::PRIORITY_UNSPECIFIED ? t::NORMAL : draft.priority();
  const std::vector<std::string> words = Words(draft.description());
  for (const std::string& word : danger_words_) {
    if (HasWord(words, word)) {
      if (priority != t::URGENT && reason != nullptr)
        *reason = absl::StrCat("'", word, "' signals danger: priority URGENT");
      return t::URGENT;
    }
  }
  return priority;
}

bool IsTriage(const v1::RouteDecision& decision) {
  if (!decision.refer_to().empty()) return false;
  const std::string& rule = decision.rule_id();
  return rule == kRuleNoRule || rule == kRuleAllBounced || rule == kRuleHopLimit;
}

v1::RouteDecision RuleSet::Decide(const RouteInput& input) const {
  const t::CaseDraft& draft = input.draft;
  if (domain::IsConfidential(draft)) return DecideConfidential(input);
  v1::RouteDecision decision;
  std::vector<std::string> reasons;
  const std::vector<std::string> words = Words(draft.description());
  const std::optional<std::string> district = DistrictOf(draft.location());
  if (district) {
    decision.set_district(*district);
    reasons.push_back(absl::StrCat("district ", *district));
  }
  std::string danger;
  t::Priority priority = PriorityOf(input, &danger);
  if (!danger.empty()) reasons.push_back(danger);
  const std::string bounced_by =
      input.bounced.empty()
          ? ""
          : absl::StrCat(" (bounced by ", absl::StrJoin(input.bounced, ", "), ")");
  std::string department;
  std::string team;
  std::set<std::string> skills;
  // Nobody can take the case: the reason leads the explanation (it becomes CaseTriaged.reason).
  std::string triage_rule;
  std::string triage_reason;
  // A candidate was passed over because its department bounced the case.
  bool skipped_bounced = false;
  if (input.hops >= max_hops_) {
    triage_rule = kRuleHopLimit;
    triage_reason = absl::StrCat("routed ", input.hops, " times already, the limit is ", max_hops_,
                                 " (max_hops)", bounced_by);
  }
  for (const Rule& rule : rules_) {
    if (!department.empty() || !triage_rule.empty()) break;
    const Match& m = rule.match;
    if (!m.kinds.empty() && !m.kinds.count(draft.kind())) continue;
    if (!m.priorities.empty() && !m.priorities.count(priority)) continue;
    if (!m.channels.empty() && !m.channels.count(draft.channel())) continue;
    if (!m.systems.empty() && !m.systems.count(input.submitting_system)) continue;
    if (!m.postcodes.empty() && !m.postcodes.count(draft.location().postcode())) continue;
    if (!m.districts.empty() && (!district || !m.districts.count(*district))) continue;
    if (!std::includes(input.bounced.begin(), input.bounced.end(), m.bounced_by.begin(),
                       m.bounced_by.end())) {
      continue;
    }
    if (!m.categories.empty()) {
      bool in = false;
      for (const std::string& c : m.categories) in |= InCategory(draft.category(), c);
      if (!in) continue;
    }
    if (!m.keywords.empty()) {
      bool any = false;
      for (const std::string& k : m.keywords) any |= HasWord(words, k);
      if (!any) continue;
    }
    if (m.regex && !RE2::PartialMatch(draft.description(), *m.regex)) continue;
    if (!rule.result.refer_to.empty()) {
      decision.set_refer_to(rule.result.refer_to);
      decision.set_rule_id(rule.id);
      reasons.push_back(absl::StrCat("rule ", rule.id, " (line ", rule.line, "): refer to ",
                                     rule.result.refer_to));
      department.clear();
      break;
    }
    if (input.bounced.count(rule.result.department)) {
      skipped_bounced = true;
      reasons.push_back(absl::StrCat("rule ", rule.id, " skipped: ", rule.result.department,
                                     " bounced the case"));
      continue;
    }
    department = rule.result.department;
    team = rule.result.team;
    skills = rule.result.skills;
    if (rule.result.priority != t::PRIORITY_UNSPECIFIED && rule.result.priority != priority) {
      priority = rule.result.priority;
      reasons.push_back(
          absl::StrCat("priority ", t::Priority_Name(priority), " by rule ", rule.id));
    }
    decision.set_deadline_policy(rule.result.deadline_policy);
    decision.set_rule_id(rule.id);
    reasons.insert(reasons.begin(),
                   absl::StrCat("rule ", rule.id, " (line ", rule.line, ") matched: ", department));
  }
  if (department.empty() && decision.refer_to().empty() && triage_rule.empty()) {
    // The catalogue's tree: the nearest category up the tree with a department not bounced.
    for (const std::string& at : Lineage(draft.category())) {
      auto it = categories_.find(at);
      if (it == categories_.end() || it->second.department.empty()) continue;
      const Category* c = &it->second;
      if (!input.bounced.count(c->department)) {
        department = c->department;
        team = c->team;
        skills = c->skills;
        decision.set_rule_id(absl::StrCat("category:", c->id));
        reasons.insert(
            reasons.begin(),
            absl::StrCat("category ", draft.category(),
                         c->id == draft.category() ? "" : absl::StrCat(" (under ", c->id, ")"),
                         " is handled by ", department));
        break;
      }
      skipped_bounced = true;
      reasons.push_back(absl::StrCat("category ", c->id, ": ", c->department, " bounced the case"));
    }
  }
  if (department.empty() && decision.refer_to().empty() && triage_rule.empty()) {
    if (skipped_bounced) {
      triage_rule = kRuleAllBounced;
      triage_reason =
          absl::StrCat("every department that could handle the case bounced it", bounced_by);
    } else {
      triage_rule = kRuleNoRule;
      if (draft.category().empty()) {
        triage_reason = "the case has no category and no rule matches it";
      } else if (catalog_ != nullptr && !catalog_->Contains(draft.category())) {
        triage_reason = absl::StrCat("category ", draft.category(),
                                     " is not in the category catalogue and no rule matches the "
                                     "case");
      } else if (!InRules(draft.category())) {
        triage_reason = absl::StrCat("category ", draft.category(),
                                     " is not in the routing rules and no rule matches the case");
      } else {
        triage_reason = absl::StrCat("no rule matches the case and category ", draft.category(),
                                     " has no department", bounced_by);
      }
    }
  }
  if (!triage_rule.empty()) {
    // The triage queue's feed; no team, no assignee, no skills: the team decides.
    decision.set_rule_id(triage_rule);
    decision.set_department(default_department_);
    decision.set_dispatch_topic(events::DispatchTopic(default_department_));
    reasons.insert(reasons.begin(),
                   absl::StrCat(triage_reason, ": to the Meldpunt's triage queue (",
                                default_department_, ")"));
  } else if (decision.refer_to().empty()) {
    decision.set_department(department);
    decision.set_team(team);
    decision.set_dispatch_topic(events::DispatchTopic(department));
    if (const auto* c =
            categories_.count(draft.category()) ? &categories_.at(draft.category()) : nullptr) {
      skills.insert(c->skills.begin(), c->skills.end());
    }
    for (const std::string& s : skills) decision.add_required_skills(s);
  }
  decision.set_priority(priority);
  for (const std::string& r : reasons) decision.add_reasons(r);
  decision.set_explanation(absl::StrJoin(reasons, "; "));
  return decision;
}

v1::RouteDecision RuleSet::DecideReassigned(const RouteInput& input, const std::string& department,
                                            const std::string& team,
                                            const std::string& reason) const {
  const t::CaseDraft& draft = input.draft;
  const bool confidential = domain::IsConfidential(draft);
  v1::RouteDecision decision;
  std::string danger;
  decision.set_priority(PriorityOf(input, &danger));
  decision.set_rule_id(kRuleReassigned);
  decision.set_department(department);
  decision.set_dispatch_topic(events::DispatchTopic(department));
  // A confidential case's reasons quote nothing of it (the reason is the team's own words).
  decision.add_reasons(absl::StrCat("the Meldpunt team sent the case from triage to ", department,
                                    reason.empty() || confidential ? "" : ": " + reason));
  bool team_known = false;
  if (const Department* d = FindDepartment(department)) {
    for (const Team& t : d->teams) team_known |= t.id == team;
  }
  if (team_known) {
    decision.set_team(team);
  } else if (!team.empty()) {
    decision.add_reasons(absl::StrCat("team ", team, " is not a team of ", department));
  }
  if (!danger.empty())
    decision.add_reasons(confidential && input.team_priority == t::PRIORITY_UNSPECIFIED
                             ? "a danger word: priority URGENT"
                             : danger);
  // The category's skills count where the category belongs to that department.
  if (const Category* owner = CategoryWithDepartment(draft.category());
      owner != nullptr && owner->department == department && !confidential) {
    std::set<std::string> skills = owner->skills;
    if (auto own = categories_.find(draft.category()); own != categories_.end()) {
      skills.insert(own->second.skills.begin(), own->second.skills.end());
    }
    for (const std::string& s : skills) decision.add_required_skills(s);
  }
  decision.set_explanation(absl::StrJoin(decision.reasons(), "; "));
  return decision;
}

std::string RuleSet::PickAssignee(const std::string& department, const std::string& team,
                                  const std::set<std::string>& skills,
                                  const std::map<std::string, int64_t>& open_cases) const {
  const Department* d = FindDepartment(department);
  if (d == nullptr) return "";
  std::string best;
  int64_t best_open = 0;
  for (const Team& t : d->teams) {
    if (!team.empty() && t.id != team) continue;
    for (const Member& m : t.members) {
      if (!m.available) continue;
      if (!std::includes(m.skills.begin(), m.skills.end(), skills.begin(), skills.end())) continue;
      auto it = open_cases.find(m.id);
      const int64_t open = it == open_cases.end() ? 0 : it->second;
      if (open >= m.capacity) continue;
      if (best.empty() || open < best_open || (open == best_open && m.id < best)) {
        best = m.id;
        best_open = open;
      }
    }
  }
  return best;
}

v1::GetRulesResponse RuleSet::Describe() const {
  v1::GetRulesResponse out;
  for (const auto& [id, d] : departments_) {
    auto* department = out.add_departments();
    department->set_id(id);
    department->set_name(d.name);
    department->set_dispatch_topic(events::DispatchTopic(id));
    department->set_may_see_reporter(d.may_see_reporter);
  }
  std::vector<std::string> ids;
  if (catalog_ != nullptr) {
    for (const catalog::Category& c : catalog_->categories()) ids.push_back(c.id);
  } else {
    for (const auto& [id, c] : categories_) ids.push_back(id);
  }
  for (const std::string& id : ids) {
    const Category* owner = CategoryWithDepartment(id);
    auto* route = out.add_categories();
    route->set_category(id);
    route->set_department(owner ? owner->department : default_department_);
  }
  for (const Rule& r : rules_) out.add_rules(absl::StrCat(r.id, " (line ", r.line, ")"));
  for (const auto& d : districts_) out.add_districts(d->id());
  out.set_default_department(default_department_);
  out.set_max_hops(max_hops_);
  return out;
}

std::vector<std::string> RuleSet::DispatchTopics() const {
  std::vector<std::string> topics;
  for (const auto& [id, d] : departments_) topics.push_back(events::DispatchTopic(id));
  return topics;
}

}  // namespace meldpunt::routing
