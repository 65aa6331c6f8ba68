// Notification rules: the text is the `notification:` part of notification.yaml (a mapping with
// `rules` and `recipients`), parsed as YAML and checked by ParseRules as the service does at start;
// rules that load are matched against a few events.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "libs/events/codec.h"
#include "services/notification/rules.h"
#include "yaml-cpp/yaml.h"

namespace {
namespace notification = ::meldpunt::notification;
namespace events = ::meldpunt::events;
namespace t = ::meldpunt::types::v1;

std::optional<std::string> Getenv(const std::string& name) {
  if (name == "ELOKET_SECRET") return "0123456789abcdef0123";
  if (name == "SHORT_SECRET") return "short";
  return std::nullopt;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const YAML::Exception&) {
    return 0;  // not YAML: the config loader's error, before the rules are looked at
  }
  if (!root.IsMap()) return 0;
  const YAML::Node& map = root;
  absl::StatusOr<notification::NotificationRules> rules =
      notification::ParseRules(map["rules"], map["recipients"], Getenv);
  if (!rules.ok()) {
    if (rules.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  for (const char* type : {"CaseSubmitted", "AdmissibilityDecided", "CaseEscalated"}) {
    events::Envelope e = events::NewEnvelope("MP-0000000000000", "intake", absl::UnixEpoch());
    if (std::string(type) == "AdmissibilityDecided") e.mutable_admissibility_decided();
    if (std::string(type) == "CaseSubmitted") e.mutable_case_submitted();
    if (std::string(type) == "CaseEscalated") e.mutable_case_escalated();
    events::Finish(e, "ev-fuzz");
    for (const notification::Rule* rule : rules->Match(e, t::COMPLAINT)) {
      (void)rules->Find(rule->to, "public-works");
    }
  }
  return 0;
}
