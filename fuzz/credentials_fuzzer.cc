// Credentials from outside the trust boundary: the bytes are a bearer token, a client
// certificate or a token key set (the first byte picks which), read the way the guard reads them
// (auth::TokenVerifier::Verify against a fixed key set, auth::CertificatePrincipal,
// auth::ParseKeySet). None of them may crash, hang or accept what it should not: a token must
// never verify without the key's signature, whatever its header and claims say.
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "libs/auth/certificates.h"
#include "libs/auth/tokens.h"

namespace {

namespace auth = ::meldpunt::auth;

const auth::TokenVerifier& Verifier() {
  // A shared secret only this target knows: no input can carry a valid signature by chance.
  static const auth::TokenVerifier* verifier = [] {
    auto made = auth::TokenVerifier::FromKeys(
        {{.kid = "k1", .algorithm = "HS256", .key = "fuzz-secret-of-at-least-32-bytes-long!"}},
        {.issuer = "idp", .audience = "meldpunt"});
    return made.ok() ? made->release() : nullptr;
  }();
  return *verifier;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      if (Verifier().Verify(input, absl::FromUnixSeconds(1'796'000'000)).ok()) {
        __builtin_trap();  // verified without the secret
      }
      break;
    }
    case 1:
      (void)auth::CertificatePrincipal(input);
      break;
    case 2:
      (void)auth::ParseKeySet(input, "auth.jwt.key_set_file");
      break;
  }
  return 0;
}
