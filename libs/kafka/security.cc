#include "libs/kafka/security.h"

#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace meldpunt::kafka {
namespace {

struct Process {
  absl::Mutex mu;
  std::map<std::string, std::string> properties ABSL_GUARDED_BY(mu);
};

Process& TheProcess() {
  static Process* process = new Process();
  return *process;
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> SecurityProperties(
    const ClientSecurity& security) {
  std::map<std::string, std::string> properties = {{"security.protocol", security.protocol}};
  if (security.protocol == "PLAINTEXT") return properties;
  if (security.protocol != "SSL" && security.protocol != "SASL_SSL") {
    return absl::InvalidArgumentError(absl::StrCat("'kafka.security.protocol': ", security.protocol,
                                                   " is not PLAINTEXT, SSL or SASL_SSL"));
  }
  // The broker's certificate must name the host the client dialled (librdkafka's default since
  // 2.0, said here so that no pass-through can turn it off unnoticed).
  properties["ssl.endpoint.identification.algorithm"] = "https";
  properties["enable.ssl.certificate.verification"] = "true";
  if (security.cert_file.empty() != security.key_file.empty()) {
    return absl::InvalidArgumentError(
        "'kafka.tls.cert_file' and 'kafka.tls.key_file': set both or neither");
  }
  // The files are read here, when a client is made, and a missing one is named by its key.
  for (const auto& [key, path] :
       {std::pair<const char*, const std::string*>{"kafka.tls.ca_file", &security.ca_file},
        {"kafka.tls.cert_file", &security.cert_file},
        {"kafka.tls.key_file", &security.key_file}}) {
    if (!path->empty() && !std::ifstream(*path)) {
      return absl::InvalidArgumentError(absl::StrCat("'", key, "': cannot read the file ", *path));
    }
  }
  if (!security.ca_file.empty()) properties["ssl.ca.location"] = security.ca_file;
  if (!security.cert_file.empty()) {
    properties["ssl.certificate.location"] = security.cert_file;
    properties["ssl.key.location"] = security.key_file;
  }
  if (security.protocol == "SASL_SSL") {
    if (security.sasl_mechanism != "SCRAM-SHA-512" && security.sasl_mechanism != "SCRAM-SHA-256") {
      return absl::InvalidArgumentError(
          absl::StrCat("'kafka.sasl.mechanism': ", security.sasl_mechanism,
                       " is not SCRAM-SHA-512 or SCRAM-SHA-256"));
    }
    if (security.sasl_username.empty()) {
      return absl::InvalidArgumentError(
          "'kafka.sasl.username': required with kafka.security.protocol SASL_SSL");
    }
    auto password = ReadSecretFile("kafka.sasl.password_file", security.sasl_password_file);
    if (!password.ok()) return password.status();
    properties["sasl.mechanisms"] = security.sasl_mechanism;
    properties["sasl.username"] = security.sasl_username;
    properties["sasl.password"] = *password;
  }
  return properties;
}

void SetProcessSecurity(std::map<std::string, std::string> properties) {
  Process& p = TheProcess();
  absl::MutexLock lock(&p.mu);
  p.properties = std::move(properties);
}

std::map<std::string, std::string> ProcessSecurity() {
  Process& p = TheProcess();
  absl::MutexLock lock(&p.mu);
  return p.properties;
}

}  // namespace meldpunt::kafka
