#include "libs/config/config.h"

#include <cctype>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

extern char** environ;

namespace meldpunt::config {

Environment ProcessEnvironment() {
  Environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    absl::string_view text(*entry);
    if (!absl::StartsWith(text, "MELDPUNT_")) continue;
    size_t eq = text.find('=');
    if (eq == absl::string_view::npos) continue;
    env.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  return env;
}

std::string EnvName(const std::string& key) {
  std::string name = "MELDPUNT_";
  for (char c : key) name.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(c)));
  return name;
}

absl::StatusOr<absl::Duration> ParseDuration(const std::string& raw) {
  std::string text(absl::StripAsciiWhitespace(raw));
  if (text.empty()) return absl::InvalidArgumentError("empty duration");
  struct Unit {
    const char* suffix;
    absl::Duration unit;
  };
  static const Unit kUnits[] = {{"ms", absl::Milliseconds(1)},
                                {"s", absl::Seconds(1)},
                                {"m", absl::Minutes(1)},
                                {"h", absl::Hours(1)},
                                {"d", absl::Hours(24)}};
  for (const Unit& unit : kUnits) {
    absl::string_view number = text;
    if (!absl::ConsumeSuffix(&number, unit.suffix)) continue;
    // "ms" must not be read as minutes followed by garbage, nor "5m" as "5" + "m" of "ms".
    double value = 0;
    if (!absl::SimpleAtod(number, &value) || value < 0) continue;
    return value * unit.unit;
  }
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds) && seconds >= 0) return seconds * absl::Seconds(1);
  return absl::InvalidArgumentError(
      absl::StrCat("'", text, "' is not a duration (use a number with ms, s, m, h or d)"));
}

std::string FormatDuration(absl::Duration duration) { return absl::FormatDuration(duration); }

Validator<int64_t> Range(int64_t min, int64_t max) {
  return [min, max](const int64_t& value) -> std::string {
    if (value < min || value > max)
      return absl::StrCat("must be between ", min, " and ", max, ", got ", value);
    return "";
  };
}

Validator<std::string> NonEmpty() {
  return [](const std::string& value) -> std::string {
    return value.empty() ? "must not be empty" : "";
  };
}

Validator<std::string> HostPort(bool allow_zero) {
  return [allow_zero](const std::string& value) -> std::string {
    size_t colon = value.rfind(':');
    if (colon == std::string::npos || colon == 0)
      return absl::StrCat("'", value, "' is not host:port");
    int port = 0;
    if (!absl::SimpleAtoi(value.substr(colon + 1), &port) || port < (allow_zero ? 0 : 1) ||
        port > 65535) {
      return absl::StrCat("'", value, "' has no valid port");
    }
    return "";
  };
}

std::vector<std::string> SplitList(const std::string& value) {
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) parts.emplace_back(part);
  }
  return parts;
}

Validator<std::string> HostPortList() {
  return [](const std::string& value) -> std::string {
    if (value.empty()) return "";
    for (absl::string_view part : absl::StrSplit(value, ',')) {
      const std::string error = HostPort()(std::string(absl::StripAsciiWhitespace(part)));
      if (!error.empty()) return error;
    }
    return "";
  };
}

Validator<std::string> OneOf(std::vector<std::string> values) {
  return [values](const std::string& value) -> std::string {
    for (const std::string& allowed : values)
      if (allowed == value) return "";
    return absl::StrCat("'", value, "' is not one of: ", absl::StrJoin(values, ", "));
  };
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open config file '", path, "'"));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

namespace internal {
namespace {
bool IsScalar(const YAML::Node& node) { return node && node.IsScalar(); }
}  // namespace

absl::Status Convert(const YAML::Node& node, std::string* out) {
  if (!IsScalar(node)) return absl::InvalidArgumentError("expected a string");
  *out = node.Scalar();
  return absl::OkStatus();
}

absl::Status Convert(const YAML::Node& node, int64_t* out) {
  if (!IsScalar(node) || !absl::SimpleAtoi(node.Scalar(), out)) {
    return absl::InvalidArgumentError("expected an integer");
  }
  return absl::OkStatus();
}

absl::Status Convert(const YAML::Node& node, double* out) {
  if (!IsScalar(node) || !absl::SimpleAtod(node.Scalar(), out)) {
    return absl::InvalidArgumentError("expected a number");
  }
  return absl::OkStatus();
}

absl::Status Convert(const YAML::Node& node, bool* out) {
  if (IsScalar(node)) {
    std::string value = absl::AsciiStrToLower(node.Scalar());
    if (value == "true" || value == "yes" || value == "on" || value == "1") {
      *out = true;
      return absl::OkStatus();
    }
    if (value == "false" || value == "no" || value == "off" || value == "0") {
      *out = false;
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError("expected true or false");
}

absl::Status Convert(const YAML::Node& node, absl::Duration* out) {
  if (!IsScalar(node)) return absl::InvalidArgumentError("expected a duration such as 30s");
  absl::StatusOr<absl::Duration> parsed = ParseDuration(node.Scalar());
  if (!parsed.ok()) return parsed.status();
  *out = *parsed;
  return absl::OkStatus();
}

absl::Status Convert(const YAML::Node& node, std::vector<std::string>* out) {
  out->clear();
  if (IsScalar(node)) {  // "a,b,c" from the environment
    for (absl::string_view part : absl::StrSplit(node.Scalar(), ',', absl::SkipWhitespace())) {
      out->emplace_back(absl::StripAsciiWhitespace(part));
    }
    return absl::OkStatus();
  }
  if (!node || !node.IsSequence()) return absl::InvalidArgumentError("expected a list of strings");
  for (const YAML::Node& item : node) {
    if (!IsScalar(item)) return absl::InvalidArgumentError("expected a list of strings");
    out->push_back(item.Scalar());
  }
  return absl::OkStatus();
}

absl::Status Convert(const YAML::Node& node, std::map<std::string, std::string>* out) {
  out->clear();
  if (!node || node.IsNull()) return absl::OkStatus();
  if (!node.IsMap()) return absl::InvalidArgumentError("expected a mapping of strings");
  for (const auto& item : node) {
    if (!IsScalar(item.first) || !IsScalar(item.second)) {
      return absl::InvalidArgumentError("expected a mapping of strings to strings");
    }
    (*out)[item.first.Scalar()] = item.second.Scalar();
  }
  return absl::OkStatus();
}

absl::Status Convert(const YAML::Node& node, YAML::Node* out) {
  *out = YAML::Clone(node);
  return absl::OkStatus();
}

std::string Show(const std::string& v) { return v.empty() ? "\"\"" : v; }
std::string Show(int64_t v) { return absl::StrCat(v); }
std::string Show(double v) { return absl::StrCat(v); }
std::string Show(bool v) { return v ? "true" : "false"; }
std::string Show(absl::Duration v) { return absl::FormatDuration(v); }
std::string Show(const std::vector<std::string>& v) {
  return absl::StrCat("[", absl::StrJoin(v, ", "), "]");
}
std::string Show(const std::map<std::string, std::string>& v) {
  return absl::StrCat("{", absl::StrJoin(v, ", ", absl::PairFormatter(": ")), "}");
}
std::string Show(const YAML::Node& v) {
  if (!v || v.IsNull()) return "(none)";
  YAML::Emitter emitter;
  emitter << YAML::Flow << v;
  return emitter.c_str();
}

const char* TypeName(const std::string*) { return "string"; }
const char* TypeName(const int64_t*) { return "integer"; }
const char* TypeName(const double*) { return "number"; }
const char* TypeName(const bool*) { return "bool"; }
const char* TypeName(const absl::Duration*) { return "duration"; }
const char* TypeName(const std::vector<std::string>*) { return "list"; }
const char* TypeName(const std::map<std::string, std::string>*) { return "map"; }
const char* TypeName(const YAML::Node*) { return "tree"; }

absl::Status Walk(const YAML::Node& root, const std::vector<FieldInfo>& fields,
                  const std::function<absl::Status(const std::string&, const YAML::Node&)>& apply) {
  std::function<absl::Status(const YAML::Node&, const std::string&)> visit =
      [&](const YAML::Node& node, const std::string& prefix) -> absl::Status {
    for (const auto& item : node) {
      if (!item.first.IsScalar()) return absl::InvalidArgumentError("keys must be strings");
      std::string key =
          prefix.empty() ? item.first.Scalar() : absl::StrCat(prefix, ".", item.first.Scalar());
      bool exact = false;
      bool is_prefix = false;
      for (const FieldInfo& field : fields) {
        if (field.key == key) exact = true;
        if (absl::StartsWith(field.key, key + ".")) is_prefix = true;
      }
      if (exact) {
        absl::Status status = apply(key, item.second);
        if (!status.ok()) return status;
      } else if (is_prefix && item.second.IsMap()) {
        absl::Status status = visit(item.second, key);
        if (!status.ok()) return status;
      } else if (is_prefix) {
        return absl::InvalidArgumentError(absl::StrCat("config key '", key, "' must be a mapping"));
      } else {
        return absl::InvalidArgumentError(absl::StrCat("unknown config key '", key, "'"));
      }
    }
    return absl::OkStatus();
  };
  return visit(root, "");
}

}  // namespace internal
}  // namespace meldpunt::config
