#include "libs/auth/certificates.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace meldpunt::auth {
namespace {

struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};

absl::Status Refused(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("client certificate: ", why));
}

// A name in a certificate: 1-128 characters of letters, digits and . _ - @, so that nothing in it
// reads as part of a distinguished name (no , + = ; " \ < > #) or as a space-padded look-alike.
bool IsCertificateName(absl::string_view text) {
  if (text.empty() || text.size() > 128) return false;
  for (char c : text) {
    if (!(absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-' || c == '@')) return false;
  }
  return true;
}

// The one value of `nid` in `name`: an error when it is absent, repeated or not a name.
absl::StatusOr<std::string> OnlyValue(X509_NAME* name, int nid, absl::string_view label) {
  const int first = X509_NAME_get_index_by_NID(name, nid, -1);
  if (first < 0) return Refused(absl::StrCat("the subject has no ", label));
  if (X509_NAME_get_index_by_NID(name, nid, first) >= 0) {
    return Refused(absl::StrCat("the subject has more than one ", label));
  }
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, first));
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) return Refused(absl::StrCat("the subject's ", label, " does not decode"));
  std::string value(reinterpret_cast<char*>(utf8), static_cast<size_t>(length));
  OPENSSL_free(utf8);
  if (!IsCertificateName(value)) {
    return Refused(absl::StrCat("the subject's ", label,
                                " must be 1-128 letters, digits, '.', '_', '-' or '@'"));
  }
  return value;
}

}  // namespace

absl::StatusOr<Principal> CertificatePrincipal(absl::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  std::unique_ptr<X509, X509Deleter> cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  if (cert == nullptr) return Refused("not a PEM certificate");
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (subject == nullptr) return Refused("no subject");
  absl::StatusOr<std::string> cn = OnlyValue(subject, NID_commonName, "CN");
  if (!cn.ok()) return cn.status();
  absl::StatusOr<std::string> ou = OnlyValue(subject, NID_organizationalUnitName, "OU");
  if (!ou.ok()) return ou.status();
  Principal who;
  if (!ParseRole(*ou, &who.role)) {
    return Refused("the subject's OU must be one of submitter, department, team, ops, admin");
  }
  who.subject = *std::move(cn);
  if (who.role == Role::kDepartment) who.department = who.subject;
  return who;
}

}  // namespace meldpunt::auth
