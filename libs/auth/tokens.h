// Bearer tokens: JWTs verified against a key set (a JSON Web Key Set, RFC 7517), so keys rotate
// without a restart: the identity provider publishes the new key beside the old one, the file is
// read again when it changes, tokens signed with either verify until the old key is removed.
//
//   ASSIGN_OR_RETURN(auto verifier, TokenVerifier::FromFile("/etc/meldpunt/jwt/jwks.json", rules));
//   absl::StatusOr<Principal> who = verifier->Verify(token, absl::Now());
//
// A token must name its key (`kid` in its header) and be signed with that key's `alg`; `none`,
// an algorithm other than the key's, and a key the set does not hold are refused. Claims: `sub`,
// `role`, `department` (the department role), and always `iss` (equal to the configured issuer),
// `aud` (holding the configured audience), `iat` and `exp`, with exp - iat at most the configured
// lifetime. Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/auth/principal.h"

namespace meldpunt::auth {

// One verification key of the set.
struct VerificationKey {
  std::string kid;
  std::string algorithm;  // "ES256", "RS256", "HS256", ...
  std::string key;        // the PEM public key (RS*, ES*) or the secret (HS*)
};

// The keys of a JWKS document ({"keys": [{"kty", "kid", "alg", ...}]}): RSA (n, e), EC (crv
// P-256/P-384/P-521, x, y) and oct (k, at least 32 bytes) keys. Private parts are refused. The
// error names `key` (the config key) and the entry ("auth.jwt.key_set_file: keys[1].crv: ...").
absl::StatusOr<std::vector<VerificationKey>> ParseKeySet(absl::string_view json,
                                                         absl::string_view key);

// The JWK of a PEM public key (RSA or EC) with its kid and alg: what an operator or a test puts in
// the key set (`meldctl jwk`).
absl::StatusOr<std::string> PublicKeyJwk(absl::string_view pem, absl::string_view kid,
                                         absl::string_view algorithm);

struct TokenRules {
  std::string issuer;    // required
  std::string audience;  // required
  absl::Duration max_lifetime = absl::Hours(24);
  absl::Duration clock_skew = absl::Seconds(30);
};

class TokenVerifier {
 public:
  // Reads the key set from `path` now and again when the file changes (checked at most every
  // 5 seconds, on a call). A changed file that does not parse leaves the keys in force.
  static absl::StatusOr<std::unique_ptr<TokenVerifier>> FromFile(std::string path,
                                                                 TokenRules rules);
  // A fixed key set (tests).
  static absl::StatusOr<std::unique_ptr<TokenVerifier>> FromKeys(std::vector<VerificationKey> keys,
                                                                 TokenRules rules);

  // The principal of a valid token; UNAUTHENTICATED saying what is wrong otherwise.
  absl::StatusOr<Principal> Verify(absl::string_view token, absl::Time now) const;

 private:
  TokenVerifier(std::string path, TokenRules rules) : path_(std::move(path)), rules_(rules) {}
  std::shared_ptr<const std::vector<VerificationKey>> Keys(absl::Time now) const;

  const std::string path_;  // "" for a fixed set
  const TokenRules rules_;
  mutable absl::Mutex mu_;  // guards the key set and its file's state
  mutable std::shared_ptr<const std::vector<VerificationKey>> keys_ ABSL_GUARDED_BY(mu_);
  mutable absl::Time checked_ ABSL_GUARDED_BY(mu_);
  mutable int64_t modified_ns_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace meldpunt::auth
