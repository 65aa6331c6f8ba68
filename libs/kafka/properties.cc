#include "libs/kafka/properties.h"

#include "absl/strings/str_cat.h"

namespace meldpunt::kafka {

absl::Status ApplyProperties(RdKafka::Conf& conf,
                             const std::map<std::string, std::string>& properties) {
  std::string error;
  for (const auto& [key, value] : properties) {
    if (conf.set(key, value, error) != RdKafka::Conf::CONF_OK) {
      return absl::InvalidArgumentError(absl::StrCat("kafka property '", key, "': ", error));
    }
  }
  return absl::OkStatus();
}

}  // namespace meldpunt::kafka
