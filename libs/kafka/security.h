// How a Kafka client proves who it is and checks whom it talks to: TLS with the broker's CA, and
// SASL/SCRAM credentials (the principal the broker's ACLs name). One place turns that into
// librdkafka properties, so the producer, the consumers and the admin client of a service all
// connect the same way.
//
//   ASSIGN_OR_RETURN(auto properties, SecurityProperties({.protocol = "SASL_SSL",
//                                                         .ca_file = "/etc/meldpunt/kafka-ca.pem",
//                                                         .sasl_username = "routing",
//                                                         .sasl_password_file =
//                                                         "/run/secrets/x"}));
//   options.extra = properties;  // before any pass-through properties
#pragma once

#include <fstream>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace meldpunt::kafka {

struct ClientSecurity {
  // PLAINTEXT (no TLS, no authentication: loopback development only), SSL or SASL_SSL.
  std::string protocol = "PLAINTEXT";
  // PEM CA bundle that signed the broker certificates; empty: the system's CAs.
  std::string ca_file;
  // Client certificate and key (PEM): with SSL the certificate's subject is the principal.
  std::string cert_file;
  std::string key_file;
  // SASL_SSL: SCRAM-SHA-512 or SCRAM-SHA-256, the user, and the file holding its password.
  std::string sasl_mechanism = "SCRAM-SHA-512";
  std::string sasl_username;
  std::string sasl_password_file;
};

// The librdkafka properties of `security` (security.protocol, ssl.*, sasl.*); reads the password
// file (every call: a client made after a rotation gets the new password). INVALID_ARGUMENT naming
// the field when something is missing or unreadable.
absl::StatusOr<std::map<std::string, std::string>> SecurityProperties(
    const ClientSecurity& security);

// Whether `property` is one of the client security properties that only ClientSecurity sets
// (security.*, ssl.*, sasl.*, enable.ssl.*, enable.sasl.*, and plugin.library.paths, since a
// plugin can change any of them): the pass-through properties may not name them.
// Header-only, so that config validation can use it without linking the Kafka client.
inline bool IsSecurityProperty(absl::string_view property) {
  for (absl::string_view prefix :
       {"security.", "ssl.", "ssl_", "sasl.", "sasl_", "enable.ssl.", "enable.sasl."}) {
    if (absl::StartsWith(property, prefix)) return true;
  }
  return property == "plugin.library.paths";
}

// The first line of a secret file, without surrounding white space. `what` names the config key
// in the error (INVALID_ARGUMENT) when the file is missing, unreadable or empty.
// Header-only, as IsSecurityProperty.
inline absl::StatusOr<std::string> ReadSecretFile(absl::string_view what, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat("'", what, "': not set"));
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("'", what, "': cannot read the file ", path));
  }
  std::string line;
  std::getline(in, line);
  std::string secret(absl::StripAsciiWhitespace(line));
  if (secret.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("'", what, "': the file ", path, " is empty"));
  }
  return secret;
}

// The security of clients this process makes without naming their own (properties applied
// before a client's `extra`): a service binary sets it once at start, before it makes any client
// (service::RunApp), so that no client of the binary - whichever code makes it - connects
// without it. Tests and tools pass their properties in `extra` and leave it empty. Thread-safe.
void SetProcessSecurity(std::map<std::string, std::string> properties);
std::map<std::string, std::string> ProcessSecurity();

}  // namespace meldpunt::kafka
