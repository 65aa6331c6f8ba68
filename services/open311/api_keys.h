// The API keys of the Open311 port: each names a submitting system and its role. The file holds
// the SHA-256 of each key, never the key, so that reading the file does not give the keys away:
//
//   keys:
//     - sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//       system: city-app     # the submitting system (catalog::IsSlug: 1-64 of a-z, 0-9, '-')
//       role: submitter      # the only role the gateway speaks for
//
// A key is made with `openssl rand -hex 32`; its entry with `printf %s KEY | sha256sum`.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/auth/principal.h"
#include "services/open311/watched_file.h"

namespace meldpunt::open311 {

// Lowercase hex SHA-256 of `text`.
std::string Sha256Hex(const std::string& text);

class ApiKeys {
 public:
  // Checks every entry and names the file, entry and field of the first problem.
  static absl::StatusOr<std::shared_ptr<const ApiKeys>> LoadFile(const std::string& path);
  static absl::StatusOr<std::shared_ptr<const ApiKeys>> Parse(const std::string& yaml_text,
                                                              const std::string& source);

  // The principal of `key`, or nullopt for a key the file does not hold.
  std::optional<auth::Principal> Find(const std::string& key) const;
  size_t size() const { return by_digest_.size(); }

 private:
  absl::flat_hash_map<std::string, auth::Principal> by_digest_;
};

// The keys file, read again when it changes (WatchedFile), so that keys are added and revoked
// without a restart. A file that turns bad keeps the last good keys and is logged. Thread-safe.
class ApiKeyFile {
 public:
  // Empty path: no keys (every api_key is unknown).
  static absl::StatusOr<std::unique_ptr<ApiKeyFile>> Open(const std::string& path);
  std::optional<auth::Principal> Find(const std::string& key);

 private:
  explicit ApiKeyFile(const std::string& path) : file_(path) {}

  WatchedFile file_;
  absl::Mutex mu_;
  std::shared_ptr<const ApiKeys> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace meldpunt::open311
