#include "services/notification/rules.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace meldpunt::notification {

const std::set<std::string>& KnownEvents() {
  static const auto* known = new std::set<std::string>{
      "CaseSubmitted",   "InformationRequested", "AdmissibilityDecided", "CaseReferred",
      "CaseAnswered",    "CaseLinked",           "CaseMerged",           "CaseRouted",
      "CaseReassigned",  "CaseAccepted",         "CaseClosed",           "CaseWithdrawn",
      "DeadlineWarning", "DeadlineBreached",     "CaseEscalated",        "ClockExtended"};
  return *known;
}

std::vector<const Rule*> NotificationRules::Match(const events::Envelope& e,
                                                  types::v1::CaseKind kind) const {
  std::vector<const Rule*> out;
  for (const Rule& r : rules) {
    if (r.on != e.type()) continue;
    if (!r.kinds.empty() && !r.kinds.count(kind)) continue;
    // The team decides per extension whether the reporter is told.
    if (e.has_clock_extended() && !e.clock_extended().notify_reporter()) continue;
    if (!r.when.empty() && e.has_admissibility_decided() &&
        (r.when == "admissible") != e.admissibility_decided().admissible()) {
      continue;
    }
    out.push_back(&r);
  }
  return out;
}

const Recipient* NotificationRules::Find(const std::string& role,
                                         const std::string& department) const {
  if (!department.empty()) {
    auto it = recipients.find(absl::StrCat(role, "@", department));
    if (it != recipients.end()) return &it->second;
  }
  auto it = recipients.find(role);
  return it == recipients.end() ? nullptr : &it->second;
}

absl::StatusOr<NotificationRules> ParseRules(
    const YAML::Node& rules, const YAML::Node& recipients,
    const std::function<std::optional<std::string>(const std::string&)>& getenv) {
  NotificationRules out;
  try {
    if (rules && !rules.IsNull()) {
      if (!rules.IsSequence())
        return absl::InvalidArgumentError("notification.rules: must be a list");
      for (size_t i = 0; i < rules.size(); ++i) {
        const std::string where = absl::StrCat("notification.rules[", i, "]");
        const YAML::Node& node = rules[i];
        if (!node.IsMap())
          return absl::InvalidArgumentError(absl::StrCat(where, ": must be a mapping"));
        Rule r;
        for (const auto& item : node) {
          const std::string key = item.first.as<std::string>();
          if (key == "on") {
            r.on = item.second.as<std::string>();
          } else if (key == "when") {
            r.when = item.second.as<std::string>();
          } else if (key == "kinds") {
            for (const auto& k : item.second) {
              types::v1::CaseKind kind;
              if (!types::v1::CaseKind_Parse(k.as<std::string>(), &kind) ||
                  kind == types::v1::CASE_KIND_UNSPECIFIED) {
                return absl::InvalidArgumentError(
                    absl::StrCat(where, ".kinds: unknown kind '", k.as<std::string>(), "'"));
              }
              r.kinds.insert(kind);
            }
          } else if (key == "to") {
            r.to = item.second.as<std::string>();
          } else if (key == "template") {
            r.template_name = item.second.as<std::string>();
          } else if (key == "channel") {
            r.channel = item.second.as<std::string>();
          } else {
            return absl::InvalidArgumentError(absl::StrCat(where, ": unknown key '", key, "'"));
          }
        }
        if (!KnownEvents().count(r.on)) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ".on: '", r.on, "' is not an event notification handles"));
        }
        if (!r.when.empty() && (r.on != "AdmissibilityDecided" ||
                                (r.when != "admissible" && r.when != "inadmissible"))) {
          return absl::InvalidArgumentError(absl::StrCat(
              where, ".when: only for AdmissibilityDecided: admissible or inadmissible"));
        }
        if (r.to.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ".to: required"));
        if (r.to == "escalation-target" && r.on != "CaseEscalated") {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ".to: escalation-target only on CaseEscalated"));
        }
        if (r.on == "ClockExtended" && r.to != "reporter") {
          return absl::InvalidArgumentError(absl::StrCat(
              where, ".to: ClockExtended is told to the reporter only (when notify_reporter)"));
        }
        if (r.template_name.empty())
          return absl::InvalidArgumentError(absl::StrCat(where, ".template: required"));
        if (!r.channel.empty() && r.channel != "email" && r.channel != "webhook") {
          return absl::InvalidArgumentError(absl::StrCat(where, ".channel: email or webhook"));
        }
        out.rules.push_back(std::move(r));
      }
    }
    if (recipients && !recipients.IsNull()) {
      if (!recipients.IsMap())
        return absl::InvalidArgumentError("notification.recipients: must be a mapping");
      for (const auto& item : recipients) {
        const std::string name = item.first.as<std::string>();
        const std::string where = absl::StrCat("notification.recipients.", name);
        if (!item.second.IsMap())
          return absl::InvalidArgumentError(absl::StrCat(where, ": must be a mapping"));
        Recipient r;
        std::string secret_env;
        for (const auto& field : item.second) {
          const std::string key = field.first.as<std::string>();
          const std::string value = field.second.as<std::string>();
          if (key == "email") {
            r.email = value;
            if (value.find('@') == std::string::npos ||
                value.find_first_of(" \r\n<>") != std::string::npos) {
              return absl::InvalidArgumentError(
                  absl::StrCat(where, ".email: '", value, "' is not an e-mail address"));
            }
          } else if (key == "webhook") {
            r.webhook = value;
            if (!absl::StartsWith(value, "https://") && !absl::StartsWith(value, "http://") &&
                !absl::StartsWith(value, "/")) {
              return absl::InvalidArgumentError(absl::StrCat(
                  where, ".webhook: must be an http(s) URL, or a path under webhook.base_url"));
            }
          } else if (key == "secret_env") {
            secret_env = value;
          } else if (key == "language") {
            r.language = value;
            if (value != "nl" && value != "fr" && value != "en")
              return absl::InvalidArgumentError(absl::StrCat(where, ".language: nl, fr or en"));
          } else {
            return absl::InvalidArgumentError(absl::StrCat(where, ": unknown key '", key, "'"));
          }
        }
        if (r.email.empty() && r.webhook.empty())
          return absl::InvalidArgumentError(absl::StrCat(where, ": needs email or webhook"));
        if (!r.webhook.empty()) {
          if (secret_env.empty()) {
            return absl::InvalidArgumentError(absl::StrCat(
                where, ".secret_env: required with a webhook (the signing secret's variable)"));
          }
          std::optional<std::string> secret = getenv(secret_env);
          if (!secret || secret->size() < 16) {
            return absl::InvalidArgumentError(
                absl::StrCat(where, ".secret_env: the environment variable ", secret_env,
                             " must hold the signing secret (at least 16 characters)"));
          }
          r.secret = *secret;
        }
        out.recipients[name] = std::move(r);
      }
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("notification.rules: ", e.what()));
  }
  return out;
}

}  // namespace meldpunt::notification
