// What goes to whom, as configuration: rules (case event x case kind x recipient -> template and
// channel) and the recipients other than the reporter (departments, managers, submitting systems).
//
//   notification:
//     rules:
//       - {on: CaseSubmitted, kinds: [COMPLAINT, REPORT], to: reporter, template: acknowledgement}
//       - {on: AdmissibilityDecided, when: inadmissible, to: reporter, template: inadmissible}
//       - {on: CaseRouted, to: department, template: dispatch}
//       - {on: CaseEscalated, to: escalation-target, template: escalation}
//     recipients:
//       department:public-works: {email: openbare-werken@gemeente.example, language: nl}
//       department-head@public-works: {email: diensthoofd.ow@gemeente.example}
//       meldpunt-coordinator: {email: coordinator@gemeente.example}
//       system:e-loket: {webhook: https://e-loket.gemeente.example/hooks, secret_env:
//       ELOKET_SECRET}
//
// `to`: reporter (by the reporter's choice: e-mail, the submitting system's webhook, or nothing;
// anonymous reporters get nothing), department (the case's department: `department:<id>`),
// escalation-target (CaseEscalated's target), or a role name. A role is looked up as
// `<role>@<department>` first, then `<role>`. Webhook secrets come from the environment only.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/events/codec.h"
#include "meldpunt/types/v1/case.pb.h"
#include "yaml-cpp/yaml.h"

namespace meldpunt::notification {

struct Rule {
  std::string on;    // event type, e.g. "CaseSubmitted"
  std::string when;  // AdmissibilityDecided: "admissible" or "inadmissible"; else empty
  std::set<types::v1::CaseKind> kinds;  // empty: every kind
  std::string to;
  std::string template_name;
  std::string channel;  // "", "email" or "webhook": which of the recipient's addresses
};

struct Recipient {
  std::string email;
  std::string webhook;
  std::string secret;  // resolved from secret_env at start
  std::string language = "nl";
};

struct NotificationRules {
  std::vector<Rule> rules;
  std::map<std::string, Recipient> recipients;

  // The rules that apply to an event of a case of `kind`.
  std::vector<const Rule*> Match(const events::Envelope& e, types::v1::CaseKind kind) const;
  // `<role>@<department>`, then `<role>`; nullptr when nobody is configured.
  const Recipient* Find(const std::string& role, const std::string& department) const;
};

// Parses and checks both trees (errors name the entry: "notification.rules[2].template: ...");
// `getenv` resolves secret_env (a missing variable is an error).
absl::StatusOr<NotificationRules> ParseRules(
    const YAML::Node& rules, const YAML::Node& recipients,
    const std::function<std::optional<std::string>(const std::string&)>& getenv);

// The event types rules may name.
const std::set<std::string>& KnownEvents();

}  // namespace meldpunt::notification
