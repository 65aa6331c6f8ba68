// A file the gateway reads again when it changes (the API keys, the intake token): looked at no
// more than once a `check_every`, by its modification time and size. Thread-safe.
#pragma once

#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace meldpunt::open311 {

class WatchedFile {
 public:
  explicit WatchedFile(std::string path, absl::Duration check_every = absl::Seconds(1))
      : path_(std::move(path)), check_every_(check_every) {}

  // The file's text now (and from then on it counts as seen). NOT_FOUND naming `key` when it
  // cannot be read.
  absl::StatusOr<std::string> Read(const std::string& key);
  // The file's text when it changed since it was last seen, nullopt otherwise (also when it is
  // not time to look yet); an error when it changed and cannot be read (it is not looked at
  // again until it changes once more).
  std::optional<absl::StatusOr<std::string>> Changed(const std::string& key);
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  const absl::Duration check_every_;
  absl::Mutex mu_;
  int64_t stamp_ ABSL_GUARDED_BY(mu_) = -1;
  absl::Time next_check_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace meldpunt::open311
