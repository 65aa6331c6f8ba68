// Structured logs: one JSON object per line on stderr, with the service name, a level and any
// fields the caller adds (case_id, trace_id, ...).
//
//   log::Init("intake", log::Level::kInfo);
//   log::Info("case submitted", {{"case_id", id}, {"trace_id", trace}});
//
// Init is called once in main before threads start; writes are serialised by a mutex.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace meldpunt::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

absl::StatusOr<Level> ParseLevel(const std::string& text);

void Init(std::string service, Level level);

// Renders the line Write would print (exposed for tests).
std::string Format(Level level, const std::string& message, const nlohmann::json& fields);

void Write(Level level, const std::string& message,
           const nlohmann::json& fields = nlohmann::json::object());

inline void Debug(const std::string& m, const nlohmann::json& f = nlohmann::json::object()) {
  Write(Level::kDebug, m, f);
}
inline void Info(const std::string& m, const nlohmann::json& f = nlohmann::json::object()) {
  Write(Level::kInfo, m, f);
}
inline void Warning(const std::string& m, const nlohmann::json& f = nlohmann::json::object()) {
  Write(Level::kWarning, m, f);
}
inline void Error(const std::string& m, const nlohmann::json& f = nlohmann::json::object()) {
  Write(Level::kError, m, f);
}

}  // namespace meldpunt::log
