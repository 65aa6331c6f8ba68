#include "libs/privacy/privacy.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/status/status_macros.h"

namespace meldpunt::privacy {
namespace {

constexpr char kErased[] = "erased";

struct CipherDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using Cipher = std::unique_ptr<EVP_CIPHER_CTX, CipherDeleter>;

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    std::abort();  // no randomness: never seal with a predictable key or nonce
  }
  return out;
}

absl::StatusOr<std::string> Seal(absl::string_view key, absl::string_view plaintext,
                                 absl::string_view aad) {
  if (key.size() != kKeyBytes) return absl::InternalError("seal: the key is not 32 bytes");
  const std::string nonce = RandomBytes(kNonceBytes);
  Cipher ctx(EVP_CIPHER_CTX_new());
  std::string out = nonce;
  out.resize(kNonceBytes + plaintext.size() + kTagBytes);
  auto* body = reinterpret_cast<unsigned char*>(out.data()) + kNonceBytes;
  int len = 0;
  int total = 0;
  if (ctx == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key), Bytes(nonce)) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(aad),
                                         static_cast<int>(aad.size())) != 1) ||
      EVP_EncryptUpdate(ctx.get(), body, &len, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1) {
    return absl::InternalError("seal: AES-256-GCM failed");
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), body + total, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, body + plaintext.size()) !=
          1) {
    return absl::InternalError("seal: AES-256-GCM failed");
  }
  return out;
}

absl::StatusOr<std::string> Open(absl::string_view key, absl::string_view sealed,
                                 absl::string_view aad) {
  if (key.size() != kKeyBytes) return absl::InternalError("open: the key is not 32 bytes");
  if (sealed.size() < kNonceBytes + kTagBytes) {
    return absl::DataLossError("open: sealed data too short");
  }
  const size_t size = sealed.size() - kNonceBytes - kTagBytes;
  std::string out(size, '\0');
  std::string tag(sealed.substr(kNonceBytes + size));
  Cipher ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (ctx == nullptr ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key),
                         Bytes(sealed.substr(0, kNonceBytes))) != 1 ||
      (!aad.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(aad),
                                         static_cast<int>(aad.size())) != 1) ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                        Bytes(sealed.substr(kNonceBytes, size)), static_cast<int>(size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len) !=
          1) {
    return absl::DataLossError("open: the sealed data does not authenticate");
  }
  return out;
}

absl::StatusOr<std::string> ReadMasterKey(const std::string& key, const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(key, ": cannot read '", path, "'"));
  std::ostringstream text;
  text << in.rdbuf();
  const std::string hex(absl::StripAsciiWhitespace(text.str()));
  if (hex.size() != 2 * kKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": '", path, "' must hold 64 hex characters (a 256-bit key), it holds ",
                     hex.size(), " characters"));
  }
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, ": '", path, "' must hold hex characters only"));
    }
  }
  return absl::HexStringToBytes(hex);
}

std::string RedisKeyStore::KeyName(const std::string& case_id) {
  return absl::StrCat("mp:dek:{", case_id, "}");
}

absl::StatusOr<std::string> RedisKeyStore::Unwrap(const std::string& case_id,
                                                  const std::string& wrapped) {
  absl::StatusOr<std::string> key = Open(master_, wrapped, absl::StrCat("dek:", case_id));
  if (!key.ok()) {
    return absl::DataLossError(absl::StrCat("the data key of ", case_id,
                                            " does not open with the master key (wrong "
                                            "privacy.master_key_file?)"));
  }
  return key;
}

absl::StatusOr<std::string> RedisKeyStore::KeyFor(const std::string& case_id) {
  return std::move(KeysFor({case_id})[0]);
}

std::vector<absl::StatusOr<std::string>> RedisKeyStore::KeysFor(
    const std::vector<std::string>& case_ids) {
  std::vector<absl::StatusOr<std::string>> out(case_ids.size());
  if (case_ids.empty()) return out;
  // SET NX then GET in one round trip for every case: the first caller's key wins, every other
  // caller reads it.
  std::vector<std::vector<std::string>> commands;
  commands.reserve(2 * case_ids.size());
  for (const std::string& case_id : case_ids) {
    absl::StatusOr<std::string> wrapped = Seal(master_, RandomBytes(kKeyBytes), "dek:" + case_id);
    if (!wrapped.ok()) {
      out.assign(case_ids.size(), wrapped.status());
      return out;
    }
    const std::string name = KeyName(case_id);
    commands.push_back({"SET", name, *std::move(wrapped), "NX"});
    commands.push_back({"GET", name});
  }
  const int64_t mark = redis_.DurabilityMark();
  absl::StatusOr<std::vector<redis::Reply>> replies = redis_.Pipeline(commands);
  // A key that a failover could still lose would leave sealed data no one can open.
  absl::Status durable = replies.ok() ? redis_.WaitForReplicas(mark) : replies.status();
  if (!durable.ok()) {
    out.assign(case_ids.size(), durable);
    return out;
  }
  for (size_t i = 0; i < case_ids.size(); ++i) {
    out[i] = Made(case_ids[i], (*replies)[2 * i], (*replies)[2 * i + 1]);
  }
  return out;
}

absl::StatusOr<std::string> RedisKeyStore::Made(const std::string& case_id, const redis::Reply& set,
                                                const redis::Reply& stored) {
  RETURN_IF_ERROR(redis::ReplyStatus(set));
  RETURN_IF_ERROR(redis::ReplyStatus(stored));
  if (stored.is_nil()) return absl::UnavailableError("the key store lost a key just written");
  if (stored.str == kErased) {
    return absl::FailedPreconditionError(
        absl::StrCat("the personal data of ", case_id, " was erased"));
  }
  return Unwrap(case_id, stored.str);
}

absl::StatusOr<std::string> RedisKeyStore::Find(const std::string& case_id) {
  absl::StatusOr<redis::Reply> stored = redis_.Command({"GET", KeyName(case_id)});
  if (!stored.ok()) return stored.status();
  RETURN_IF_ERROR(redis::ReplyStatus(*stored));
  if (stored->is_nil() || stored->str == kErased) {
    return absl::NotFoundError(absl::StrCat("no data key for ", case_id));
  }
  return Unwrap(case_id, stored->str);
}

absl::StatusOr<std::map<std::string, std::string>> KeyStore::FindAll(
    const std::vector<std::string>& case_ids) {
  std::map<std::string, std::string> found;
  for (const std::string& case_id : case_ids) {
    if (found.count(case_id) > 0) continue;
    absl::StatusOr<std::string> key = Find(case_id);
    if (absl::IsNotFound(key.status())) continue;
    if (!key.ok()) return key.status();
    found.emplace(case_id, *std::move(key));
  }
  return found;
}

std::vector<absl::StatusOr<std::string>> KeyStore::KeysFor(
    const std::vector<std::string>& case_ids) {
  std::vector<absl::StatusOr<std::string>> out;
  out.reserve(case_ids.size());
  for (const std::string& case_id : case_ids) out.push_back(KeyFor(case_id));
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> RedisKeyStore::FindAll(
    const std::vector<std::string>& case_ids) {
  std::map<std::string, std::string> found;
  std::set<std::string> seen;
  std::vector<std::string> unique;
  std::vector<std::vector<std::string>> gets;
  for (const std::string& case_id : case_ids) {
    if (!seen.insert(case_id).second) continue;
    unique.push_back(case_id);
    gets.push_back({"GET", KeyName(case_id)});
  }
  if (gets.empty()) return found;
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_.Pipeline(gets));
  for (size_t i = 0; i < replies.size(); ++i) {
    RETURN_IF_ERROR(redis::ReplyStatus(replies[i]));
    if (replies[i].is_nil() || replies[i].str == kErased) continue;
    ASSIGN_OR_RETURN(std::string key, Unwrap(unique[i], replies[i].str));
    found.emplace(unique[i], std::move(key));
  }
  return found;
}

absl::Status BatchKeys::Prefetch(const std::vector<std::string>& case_ids) {
  std::vector<std::string> wanted;
  for (const std::string& case_id : case_ids) {
    if (held_.count(case_id) == 0 && missing_.count(case_id) == 0) wanted.push_back(case_id);
  }
  if (wanted.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto found, keys_.FindAll(wanted));
  for (const std::string& case_id : wanted) {
    auto it = found.find(case_id);
    if (it == found.end()) {
      missing_.insert(case_id);
    } else {
      held_.insert_or_assign(case_id, it->second);
    }
  }
  return absl::OkStatus();
}

void BatchKeys::Make(const std::vector<std::string>& case_ids) {
  std::vector<std::string> wanted;
  for (const std::string& case_id : case_ids) {
    if (held_.count(case_id) == 0 && refused_.count(case_id) == 0) wanted.push_back(case_id);
  }
  if (wanted.empty()) return;
  std::vector<absl::StatusOr<std::string>> made = keys_.KeysFor(wanted);
  for (size_t i = 0; i < wanted.size(); ++i) {
    missing_.erase(wanted[i]);
    if (made[i].ok()) {
      held_.insert_or_assign(wanted[i], *std::move(made[i]));
    } else {
      refused_.insert_or_assign(wanted[i], made[i].status());
    }
  }
}

absl::StatusOr<std::string> BatchKeys::KeyFor(const std::string& case_id) {
  if (auto it = held_.find(case_id); it != held_.end()) return it->second;
  if (auto it = refused_.find(case_id); it != refused_.end()) return it->second;
  // Not read, or read as missing: the store makes it (or says it was destroyed).
  ASSIGN_OR_RETURN(std::string key, keys_.KeyFor(case_id));
  missing_.erase(case_id);
  held_.insert_or_assign(case_id, key);
  return key;
}

absl::StatusOr<std::string> BatchKeys::Find(const std::string& case_id) {
  if (auto it = held_.find(case_id); it != held_.end()) return it->second;
  if (missing_.count(case_id) > 0) {
    return absl::NotFoundError(absl::StrCat("no data key for ", case_id));
  }
  absl::StatusOr<std::string> key = keys_.Find(case_id);
  if (absl::IsNotFound(key.status())) missing_.insert(case_id);
  if (key.ok()) held_.insert_or_assign(case_id, *key);
  return key;
}

absl::StatusOr<bool> BatchKeys::Destroy(const std::string& case_id) {
  Forget(case_id);
  absl::StatusOr<bool> destroyed = keys_.Destroy(case_id);
  if (destroyed.ok()) missing_.insert(case_id);
  return destroyed;
}

absl::StatusOr<bool> RedisKeyStore::Destroy(const std::string& case_id) {
  // The old value tells whether there was a key; the tombstone keeps it from being made again.
  const int64_t mark = redis_.DurabilityMark();
  absl::StatusOr<redis::Reply> old = redis_.Command({"SET", KeyName(case_id), kErased, "GET"});
  if (!old.ok()) return old.status();
  RETURN_IF_ERROR(redis::ReplyStatus(*old));
  // An erasure a failover could undo would bring the personal data back.
  RETURN_IF_ERROR(redis_.WaitForReplicas(mark));
  return !old->is_nil() && old->str != kErased;
}

absl::StatusOr<std::string> MemoryKeyStore::KeyFor(const std::string& case_id) {
  absl::MutexLock lock(&mu_);
  auto [it, made] = keys_.try_emplace(case_id, RandomBytes(kKeyBytes));
  if (it->second.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the personal data of ", case_id, " was erased"));
  }
  return it->second;
}

absl::StatusOr<std::string> MemoryKeyStore::Find(const std::string& case_id) {
  absl::MutexLock lock(&mu_);
  auto it = keys_.find(case_id);
  if (it == keys_.end() || it->second.empty()) {
    return absl::NotFoundError(absl::StrCat("no data key for ", case_id));
  }
  return it->second;
}

absl::StatusOr<bool> MemoryKeyStore::Destroy(const std::string& case_id) {
  absl::MutexLock lock(&mu_);
  std::string& key = keys_[case_id];
  const bool had = !key.empty();
  key.clear();
  return had;
}

bool Sealer::HasPersonalData(const types::v1::Reporter& r) {
  return !r.name().empty() || !r.email().empty() || !r.phone().empty() || !r.address().empty() ||
         !r.sealed().empty();
}

void Sealer::Withhold(types::v1::Reporter* r) {
  r->clear_name();
  r->clear_email();
  r->clear_phone();
  r->clear_address();
  r->clear_sealed();
}

bool Sealer::NeedsKey(const types::v1::Reporter& r) {
  return !r.name().empty() || !r.email().empty() || !r.phone().empty() || !r.address().empty();
}

absl::Status Sealer::SealReporter(const std::string& case_id, types::v1::Reporter* r) const {
  // Never trusted as sent: sealed data or an erasure mark from outside would pass unsealed
  // fields on, or keep a case out of retention.
  if (!r->sealed().empty() || r->erased()) {
    return absl::InvalidArgumentError(
        "draft.reporter: sealed and erased are set by Meldpunt only; send the plain fields");
  }
  if (!NeedsKey(*r)) return absl::OkStatus();
  absl::StatusOr<std::string> key = keys_.KeyFor(case_id);
  if (!key.ok()) return key.status();
  types::v1::Reporter personal;
  personal.set_name(r->name());
  personal.set_email(r->email());
  personal.set_phone(r->phone());
  personal.set_address(r->address());
  absl::StatusOr<std::string> sealed = Seal(*key, personal.SerializeAsString(), case_id);
  if (!sealed.ok()) return sealed.status();
  Withhold(r);
  r->set_sealed(*std::move(sealed));
  return absl::OkStatus();
}

absl::Status Sealer::OpenReporter(const std::string& case_id, types::v1::Reporter* r) const {
  if (r->sealed().empty()) return absl::OkStatus();
  absl::StatusOr<std::string> key = keys_.Find(case_id);
  if (absl::IsNotFound(key.status())) {
    Withhold(r);
    r->set_erased(true);
    return absl::OkStatus();
  }
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> plain = Open(*key, r->sealed(), case_id);
  if (!plain.ok()) return plain.status();
  types::v1::Reporter personal;
  if (!personal.ParseFromString(*plain)) {
    return absl::DataLossError(absl::StrCat("the sealed reporter of ", case_id, " does not parse"));
  }
  r->clear_sealed();
  r->set_name(personal.name());
  r->set_email(personal.email());
  r->set_phone(personal.phone());
  r->set_address(personal.address());
  return absl::OkStatus();
}

}  // namespace meldpunt::privacy
