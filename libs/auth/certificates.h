// The principal of a client certificate (mTLS): read from the certificate itself, parsed by
// OpenSSL, never from a printed subject string.
//
//   absl::StatusOr<Principal> who = CertificatePrincipal(pem);  // gRPC's x509_pem_cert
//
// The subject must hold exactly one commonName (who: a system, a person, or for the department
// role the department) and exactly one organizationalUnitName (the role: submitter, department,
// team, ops, admin). Both are read by NID from the parsed X509_NAME, so a CN that spells
// "evil,OU=admin" is a (refused) name with a comma, not a second OU. gRPC has verified the chain
// against grpc.tls.client_ca_file before any of this runs.
#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/auth/principal.h"

namespace meldpunt::auth {

// UNAUTHENTICATED saying what is wrong with the certificate's subject.
absl::StatusOr<Principal> CertificatePrincipal(absl::string_view pem);

}  // namespace meldpunt::auth
