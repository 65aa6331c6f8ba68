// Crypto-shredding of the reporter's personal data: each case has its own AES-256-GCM data key in
// a key store, the personal fields of the reporter travel and rest only sealed with it (in events
// and in Redis), and destroying the key erases the person from every copy at once, the log's
// included, while the case's figures (kind, category, dates, states) stay readable.
//
//   RedisKeyStore keys(*key_redis, master_key);
//   Sealer sealer(keys);
//   RETURN_IF_ERROR(sealer.SealReporter(case_id, draft.mutable_reporter()));  // before appending
//   ...
//   RETURN_IF_ERROR(sealer.OpenReporter(case_id, c.mutable_draft()->mutable_reporter()));
//   // name, email, phone and address are back; or empty with `erased` set once the key is gone.
//
// A data key is stored wrapped (sealed with the master key, bound to its case id), so the key
// store alone reveals nothing. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "libs/redis/redis.h"
#include "meldpunt/types/v1/case.pb.h"

namespace meldpunt::privacy {

inline constexpr size_t kKeyBytes = 32;    // AES-256
inline constexpr size_t kNonceBytes = 12;  // GCM's 96-bit nonce, random per seal
inline constexpr size_t kTagBytes = 16;

// n bytes from OpenSSL's CSPRNG.
std::string RandomBytes(size_t n);

// nonce || ciphertext || tag of `plaintext` under `key` (32 bytes), authenticating `aad` too.
absl::StatusOr<std::string> Seal(absl::string_view key, absl::string_view plaintext,
                                 absl::string_view aad);
// The plaintext; DATA_LOSS when the bytes, the key or the aad do not match.
absl::StatusOr<std::string> Open(absl::string_view key, absl::string_view sealed,
                                 absl::string_view aad);

// The master key from a file: 64 hex characters (whitespace around them ignored). The error
// names `key` (the config key) and says what is wrong.
absl::StatusOr<std::string> ReadMasterKey(const std::string& key, const std::string& path);

class KeyStore {
 public:
  virtual ~KeyStore() = default;
  // The case's data key, made on first use: every caller and every retry gets the same one.
  // FAILED_PRECONDITION once the key was destroyed (it is never made again).
  virtual absl::StatusOr<std::string> KeyFor(const std::string& case_id) = 0;
  // The key; NOT_FOUND when it was destroyed or never made.
  virtual absl::StatusOr<std::string> Find(const std::string& case_id) = 0;
  // Destroys the key for good (a tombstone stays so that it is not made again); true when there
  // was a key to destroy.
  virtual absl::StatusOr<bool> Destroy(const std::string& case_id) = 0;
  // The keys of several cases (those Find answers NOT_FOUND for are left out). The default asks
  // Find for each; RedisKeyStore reads them in one round trip.
  virtual absl::StatusOr<std::map<std::string, std::string>> FindAll(
      const std::vector<std::string>& case_ids);
  // KeyFor for several cases, in their order. The default asks KeyFor for each; RedisKeyStore
  // makes them in one round trip (and one wait for the replicas).
  virtual std::vector<absl::StatusOr<std::string>> KeysFor(
      const std::vector<std::string>& case_ids);
};

// Keys in Redis (a store of its own in production: persistent and backed up, not the Redis of
// the derived state, which may be flushed and rebuilt): "mp:dek:{<case id>}" holds the wrapped
// key, or "erased".
class RedisKeyStore final : public KeyStore {
 public:
  RedisKeyStore(redis::Client& redis, std::string master_key)
      : redis_(redis), master_(std::move(master_key)) {}
  absl::StatusOr<std::string> KeyFor(const std::string& case_id) override;
  absl::StatusOr<std::string> Find(const std::string& case_id) override;
  absl::StatusOr<bool> Destroy(const std::string& case_id) override;
  // One pipeline of GETs (the keys are of different slots: no MGET).
  absl::StatusOr<std::map<std::string, std::string>> FindAll(
      const std::vector<std::string>& case_ids) override;
  // A SET NX and a GET per case, all in one pipeline.
  std::vector<absl::StatusOr<std::string>> KeysFor(
      const std::vector<std::string>& case_ids) override;

  static std::string KeyName(const std::string& case_id);

 private:
  absl::StatusOr<std::string> Unwrap(const std::string& case_id, const std::string& wrapped);
  // The key KeyFor answers from the GET that followed its SET NX.
  absl::StatusOr<std::string> Made(const std::string& case_id, const redis::Reply& set,
                                   const redis::Reply& stored);
  redis::Client& redis_;
  const std::string master_;
};

// In memory, for tests of code that seals and opens.
class MemoryKeyStore final : public KeyStore {
 public:
  absl::StatusOr<std::string> KeyFor(const std::string& case_id) override;
  absl::StatusOr<std::string> Find(const std::string& case_id) override;
  absl::StatusOr<bool> Destroy(const std::string& case_id) override;

 private:
  absl::Mutex mu_;
  std::map<std::string, std::string> keys_ ABSL_GUARDED_BY(mu_);  // "" = destroyed
};

// A batch's view of a KeyStore: the keys of its cases read at once (Prefetch), then Find and
// KeyFor answered from what was read; a case not read is asked of the store, and its answer is
// kept too. For one thread (a lane's run); the keys live no longer than the view, which lives no
// longer than the run. An erasure in the run: Forget the case (its key is destroyed by then).
//
//   BatchKeys keys(store);
//   RETURN_IF_ERROR(keys.Prefetch(case_ids));
//   Sealer(keys).OpenReporter(case_id, reporter);  // no round trip
class BatchKeys final : public KeyStore {
 public:
  explicit BatchKeys(KeyStore& keys) : keys_(keys) {}

  // Reads the keys of the cases not held yet, at once (KeyStore::FindAll).
  absl::Status Prefetch(const std::vector<std::string>& case_ids);
  // Makes the keys of new cases not held yet, at once (KeyStore::KeysFor); KeyFor then answers
  // from them, also with the error a case's key met.
  void Make(const std::vector<std::string>& case_ids);
  void Forget(const std::string& case_id) {
    held_.erase(case_id);
    missing_.erase(case_id);
    refused_.erase(case_id);
  }

  absl::StatusOr<std::string> KeyFor(const std::string& case_id) override;
  absl::StatusOr<std::string> Find(const std::string& case_id) override;
  absl::StatusOr<bool> Destroy(const std::string& case_id) override;

 private:
  KeyStore& keys_;
  std::map<std::string, std::string> held_;
  std::set<std::string> missing_;                // read, and NOT_FOUND (never made, or destroyed)
  std::map<std::string, absl::Status> refused_;  // Make met an error for them
};

class Sealer {
 public:
  explicit Sealer(KeyStore& keys) : keys_(keys) {}

  // Moves name, email, phone and address into `reporter->sealed` (sealed with the case's key,
  // bound to the case id). A reporter without any of them is left as is; one that arrives with
  // `sealed` or `erased` set is refused (INVALID_ARGUMENT): only Meldpunt sets them.
  absl::Status SealReporter(const std::string& case_id, types::v1::Reporter* reporter) const;
  // Whether SealReporter needs the case's key: the reporter has a plain personal field.
  static bool NeedsKey(const types::v1::Reporter& reporter);
  // Puts the sealed fields back. When the key is destroyed the fields stay empty and `erased` is
  // set. A reporter with nothing sealed is left as is.
  absl::Status OpenReporter(const std::string& case_id, types::v1::Reporter* reporter) const;
  // Whether the reporter carries any personal data, sealed or not.
  static bool HasPersonalData(const types::v1::Reporter& reporter);
  // Drops the sealed data and the personal fields (what a caller that may not see them gets).
  static void Withhold(types::v1::Reporter* reporter);

 private:
  KeyStore& keys_;
};

}  // namespace meldpunt::privacy
