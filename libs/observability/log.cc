#include "libs/observability/log.h"

#include <cstdio>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace meldpunt::log {
namespace {

struct State {
  std::mutex mu;
  std::string service = "meldpunt";
  Level level = Level::kInfo;
};

State& GetState() {
  static State* state = new State();
  return *state;
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarning:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "info";
}

}  // namespace

absl::StatusOr<Level> ParseLevel(const std::string& text) {
  if (text == "debug") return Level::kDebug;
  if (text == "info") return Level::kInfo;
  if (text == "warning" || text == "warn") return Level::kWarning;
  if (text == "error") return Level::kError;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level '", text, "' (debug, info, warning, error)"));
}

void Init(std::string service, Level level) {
  State& state = GetState();
  std::lock_guard<std::mutex> lock(state.mu);
  state.service = std::move(service);
  state.level = level;
}

std::string Format(Level level, const std::string& message, const nlohmann::json& fields) {
  State& state = GetState();
  nlohmann::json line = nlohmann::json::object();
  line["ts"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  line["level"] = LevelName(level);
  line["service"] = state.service;
  line["msg"] = message;
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) line[it.key()] = it.value();
  }
  // Invalid UTF-8 in a field must not throw out of a log call.
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Write(Level level, const std::string& message, const nlohmann::json& fields) {
  State& state = GetState();
  if (level < state.level) return;
  std::string text = Format(level, message, fields);
  std::lock_guard<std::mutex> lock(state.mu);
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

}  // namespace meldpunt::log
