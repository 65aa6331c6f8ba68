#include "libs/events/ids.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <array>
#include <cctype>
#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace meldpunt::events {
namespace {

std::array<unsigned char, SHA256_DIGEST_LENGTH> Digest(
    absl::string_view kind, std::initializer_list<absl::string_view> parts) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  auto add = [&ctx](absl::string_view part) {
    const uint64_t size = part.size();
    unsigned char prefix[8];
    for (int i = 0; i < 8; ++i) prefix[i] = static_cast<unsigned char>(size >> (8 * i));
    SHA256_Update(&ctx, prefix, sizeof prefix);
    SHA256_Update(&ctx, part.data(), part.size());
  };
  add(kind);
  for (absl::string_view part : parts) add(part);
  std::array<unsigned char, SHA256_DIGEST_LENGTH> out;
  SHA256_Final(out.data(), &ctx);
  return out;
}

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

}  // namespace

std::string DeterministicId(absl::string_view kind,
                            std::initializer_list<absl::string_view> parts) {
  auto digest = Digest(kind, parts);
  return absl::StrCat(
      kind, "-",
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest.data()), 16)));
}

std::string RandomId(absl::string_view kind) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // RAND_bytes fails only without an entropy source; never hand out a predictable id silently.
    std::abort();
  }
  return absl::StrCat(
      kind, "-", absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(bytes), 16)));
}

std::string CaseIdFor(absl::string_view submitting_system, absl::string_view request_key) {
  auto digest = Digest("case", {submitting_system, request_key});
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits = (bits << 8) | digest[i];
  std::string id = "MP-";
  // 13 characters of 5 bits cover 65 bits; the top character carries the highest 4.
  for (int i = 12; i >= 0; --i) id.push_back(kCrockford[(bits >> (5 * i)) & 31]);
  return id;
}

bool IsCaseId(absl::string_view text) {
  if (text.size() != 16 || text.substr(0, 3) != "MP-") return false;
  for (char c : text.substr(3)) {
    bool found = false;
    for (const char* p = kCrockford; *p; ++p) found |= (*p == c);
    if (!found) return false;
  }
  return true;
}

}  // namespace meldpunt::events

namespace meldpunt::events {
namespace {

int CrockfordValue(char c) {
  for (int i = 0; i < 32; ++i)
    if (kCrockford[i] == c) return i;
  return -1;
}

// Luhn mod N over the Crockford alphabet: catches every single-character error and most swaps.
char CheckCharacter(absl::string_view code) {
  int factor = 2;
  int sum = 0;
  for (int i = static_cast<int>(code.size()) - 1; i >= 0; --i) {
    int addend = factor * CrockfordValue(code[i]);
    factor = factor == 2 ? 1 : 2;
    addend = addend / 32 + addend % 32;
    sum += addend;
  }
  return kCrockford[(32 - sum % 32) % 32];
}

}  // namespace

std::string ReferenceFor(absl::string_view case_id, int year, int length) {
  absl::string_view code = case_id.substr(3);  // after "MP-"
  // The first character of a case id carries only 4 bits; take the fully random ones after it.
  std::string part(code.substr(1, std::min<size_t>(length, code.size() - 1)));
  return absl::StrCat("MP-", year, "-", part, std::string(1, CheckCharacter(part)));
}

std::string NormalizeReference(absl::string_view text, bool* check_ok) {
  std::string cleaned;
  for (char c : text) {
    if (c == ' ' || c == '-' || c == '.') continue;
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    cleaned.push_back(c);
  }
  *check_ok = false;
  // MP + 4-digit year + code (>= 2 characters, the last being the check character).
  if (cleaned.size() < 2 + 4 + 3 || cleaned.substr(0, 2) != "MP") return "";
  std::string year = cleaned.substr(2, 4);
  for (char c : year)
    if (c < '0' || c > '9') return "";
  std::string code;
  for (char c : cleaned.substr(6)) {
    if (c == 'I' || c == 'L') c = '1';
    if (c == 'O') c = '0';
    if (CrockfordValue(c) < 0) return "";
    code.push_back(c);
  }
  std::string body = code.substr(0, code.size() - 1);
  *check_ok = CheckCharacter(body) == code.back();
  return absl::StrCat("MP-", year, "-", code);
}

}  // namespace meldpunt::events
