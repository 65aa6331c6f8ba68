// Typed service configuration: a YAML file plus environment overrides, validated once at start.
//
// A service declares one struct with defaults and a Schema that names every key, describes it and
// validates it. Unknown keys are rejected; a bad value names the key and the reason.
//
//   struct Config { std::string brokers = "127.0.0.1:9092"; int64_t partitions = 6; };
//   Schema<Config> schema("intake");
//   schema.String("kafka.brokers", &Config::brokers, "bootstrap servers")
//         .Int("kafka.partitions", &Config::partitions, "partitions of the case topic", Range(1,
//         256));
//   absl::StatusOr<Config> config = schema.LoadFile("intake.yaml", ProcessEnvironment());
//
// Environment override: MELDPUNT_<KEY> with dots as underscores, upper case
// (kafka.brokers -> MELDPUNT_KAFKA_BROKERS). Non-string values are parsed as YAML.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "yaml-cpp/yaml.h"

namespace meldpunt::config {

using Environment = std::map<std::string, std::string>;

// The variables of this process that start with MELDPUNT_.
Environment ProcessEnvironment();

// "MELDPUNT_" + key upper-cased with '.' -> '_'.
std::string EnvName(const std::string& key);

// "250ms", "10s", "5m", "2h", "3d"; a bare number is seconds.
absl::StatusOr<absl::Duration> ParseDuration(const std::string& text);
std::string FormatDuration(absl::Duration duration);

// Validators return an error message, or "" when the value is fine.
template <typename V>
using Validator = std::function<std::string(const V&)>;

Validator<int64_t> Range(int64_t min, int64_t max);
Validator<std::string> NonEmpty();
// host:port with a port in 1..65535 (port 0 allowed when allow_zero).
Validator<std::string> HostPort(bool allow_zero = false);
// "" or host:port[,host:port...].
Validator<std::string> HostPortList();
// The parts of a comma-separated list, trimmed, without empty ones.
std::vector<std::string> SplitList(const std::string& value);
Validator<std::string> OneOf(std::vector<std::string> values);

namespace internal {

// Converts one YAML node or environment string into a typed value.
absl::Status Convert(const YAML::Node& node, std::string* out);
absl::Status Convert(const YAML::Node& node, int64_t* out);
absl::Status Convert(const YAML::Node& node, double* out);
absl::Status Convert(const YAML::Node& node, bool* out);
absl::Status Convert(const YAML::Node& node, absl::Duration* out);
absl::Status Convert(const YAML::Node& node, std::vector<std::string>* out);
absl::Status Convert(const YAML::Node& node, std::map<std::string, std::string>* out);
absl::Status Convert(const YAML::Node& node, YAML::Node* out);

std::string Show(const std::string& v);
std::string Show(int64_t v);
std::string Show(double v);
std::string Show(bool v);
std::string Show(absl::Duration v);
std::string Show(const std::vector<std::string>& v);
std::string Show(const std::map<std::string, std::string>& v);
std::string Show(const YAML::Node& v);

const char* TypeName(const std::string*);
const char* TypeName(const int64_t*);
const char* TypeName(const double*);
const char* TypeName(const bool*);
const char* TypeName(const absl::Duration*);
const char* TypeName(const std::vector<std::string>*);
const char* TypeName(const std::map<std::string, std::string>*);
const char* TypeName(const YAML::Node*);

struct FieldInfo {
  std::string key;
  std::string type;
  std::string description;
};

// Walks a YAML document, calling apply(key, node) for every known key and failing on unknown ones.
absl::Status Walk(const YAML::Node& root, const std::vector<FieldInfo>& fields,
                  const std::function<absl::Status(const std::string&, const YAML::Node&)>& apply);

}  // namespace internal

template <typename T>
class Schema {
 public:
  explicit Schema(std::string component) : component_(std::move(component)) {}

  template <typename V>
  Schema& Field(std::string key, V T::*member, std::string description,
                Validator<V> validate = {}) {
    Entry entry;
    entry.info = {key, internal::TypeName(static_cast<const V*>(nullptr)), std::move(description)};
    entry.apply = [member, validate, key](T& target, const YAML::Node& node) -> absl::Status {
      V value{};
      if (absl::Status status = internal::Convert(node, &value); !status.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("config key '", key, "': ", status.message()));
      }
      if (validate) {
        if (std::string problem = validate(value); !problem.empty()) {
          return absl::InvalidArgumentError(absl::StrCat("config key '", key, "': ", problem));
        }
      }
      target.*member = std::move(value);
      return absl::OkStatus();
    };
    entry.is_string = std::is_same_v<V, std::string>;
    entry.show = [member](const T& source) { return internal::Show(source.*member); };
    entries_.push_back(std::move(entry));
    return *this;
  }

  Schema& String(std::string key, std::string T::*m, std::string d, Validator<std::string> v = {}) {
    return Field(std::move(key), m, std::move(d), std::move(v));
  }
  Schema& Int(std::string key, int64_t T::*m, std::string d, Validator<int64_t> v = {}) {
    return Field(std::move(key), m, std::move(d), std::move(v));
  }
  Schema& Double(std::string key, double T::*m, std::string d, Validator<double> v = {}) {
    return Field(std::move(key), m, std::move(d), std::move(v));
  }
  Schema& Bool(std::string key, bool T::*m, std::string d) {
    return Field(std::move(key), m, std::move(d));
  }
  Schema& Duration(std::string key, absl::Duration T::*m, std::string d,
                   Validator<absl::Duration> v = {}) {
    return Field(std::move(key), m, std::move(d), std::move(v));
  }
  Schema& StringList(std::string key, std::vector<std::string> T::*m, std::string d) {
    return Field(std::move(key), m, std::move(d));
  }
  Schema& StringMap(std::string key, std::map<std::string, std::string> T::*m, std::string d) {
    return Field(std::move(key), m, std::move(d));
  }
  // A subtree the owner parses itself (e.g. a list of policies); checked by `check` after loading.
  Schema& Tree(std::string key, YAML::Node T::*m, std::string d) {
    return Field(std::move(key), m, std::move(d));
  }
  // A check over the whole struct after every key is applied (cross-field rules).
  Schema& Check(std::function<absl::Status(const T&)> check) {
    checks_.push_back(std::move(check));
    return *this;
  }

  absl::StatusOr<T> LoadString(const std::string& yaml_text, const Environment& env,
                               const std::string& source = "<config>") const {
    T config{};
    YAML::Node root;
    try {
      root = YAML::Load(yaml_text);
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": not valid YAML: ", e.what()));
    }
    if (root && !root.IsNull() && !root.IsMap()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": the top level must be a mapping"));
    }
    std::vector<internal::FieldInfo> infos;
    for (const Entry& entry : entries_) infos.push_back(entry.info);
    if (root && root.IsMap()) {
      absl::Status status =
          internal::Walk(root, infos, [&](const std::string& key, const YAML::Node& node) {
            return Find(key)->apply(config, node);
          });
      if (!status.ok())
        return absl::InvalidArgumentError(absl::StrCat(source, ": ", status.message()));
    }
    for (const Entry& entry : entries_) {
      auto it = env.find(EnvName(entry.info.key));
      if (it == env.end()) continue;
      YAML::Node node;
      if (entry.is_string) {
        node = YAML::Node(it->second);
      } else {
        try {
          node = YAML::Load(it->second);
        } catch (const YAML::Exception& e) {
          return absl::InvalidArgumentError(
              absl::StrCat("environment ", it->first, ": not valid YAML: ", e.what()));
        }
      }
      if (absl::Status status = entry.apply(config, node); !status.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("environment ", it->first, ": ", status.message()));
      }
    }
    for (const auto& check : checks_) {
      if (absl::Status status = check(config); !status.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(source, ": ", status.message()));
      }
    }
    return config;
  }

  absl::StatusOr<T> LoadFile(const std::string& path, const Environment& env) const;

  // Every key with its type, default and description, for `--help-config`.
  std::string Describe() const {
    T defaults{};
    std::string out = absl::StrCat("Configuration keys of ", component_, ":\n");
    for (const Entry& entry : entries_) {
      absl::StrAppend(&out, "  ", entry.info.key, " (", entry.info.type, ", env ",
                      EnvName(entry.info.key), ")\n      ", entry.info.description,
                      "\n      default: ", entry.show(defaults), "\n");
    }
    return out;
  }

 private:
  struct Entry {
    internal::FieldInfo info;
    std::function<absl::Status(T&, const YAML::Node&)> apply;
    std::function<std::string(const T&)> show;
    bool is_string = false;
  };
  const Entry* Find(const std::string& key) const {
    for (const Entry& entry : entries_)
      if (entry.info.key == key) return &entry;
    return nullptr;
  }

  std::string component_;
  std::vector<Entry> entries_;
  std::vector<std::function<absl::Status(const T&)>> checks_;
};

absl::StatusOr<std::string> ReadFile(const std::string& path);

template <typename T>
absl::StatusOr<T> Schema<T>::LoadFile(const std::string& path, const Environment& env) const {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return LoadString(*text, env, path);
}

}  // namespace meldpunt::config
