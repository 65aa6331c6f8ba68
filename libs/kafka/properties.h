// Applies librdkafka properties to a configuration, naming the one that was refused.
#pragma once

#include <map>
#include <string>

#include <librdkafka/rdkafkacpp.h>

#include "absl/status/status.h"

namespace meldpunt::kafka {

absl::Status ApplyProperties(RdKafka::Conf& conf,
                             const std::map<std::string, std::string>& properties);

}  // namespace meldpunt::kafka
