// The catalogue file as a service holds it: loaded at start (a file with an error stops the
// start), read again when it changes (at most every `check_every`, as a mounted ConfigMap is
// updated), or at once by Reload (routing's ReloadRules and SIGHUP). A changed file with an error
// is refused, logged once, and the catalogue in force stays. Thread-safe.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<CatalogFile> file, CatalogFile::Open(config.catalog_file));
//   std::shared_ptr<const Catalog> catalog = file->Current();
#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/catalog/catalog.h"

namespace meldpunt::catalog {

class CatalogFile {
 public:
  static absl::StatusOr<std::unique_ptr<CatalogFile>> Open(
      const std::string& path, absl::Duration check_every = absl::Seconds(5));
  // A fixed catalogue that no file backs (tests, and a service configured without a file).
  explicit CatalogFile(std::shared_ptr<const Catalog> fixed);

  std::shared_ptr<const Catalog> Current() ABSL_LOCKS_EXCLUDED(mu_);
  // Reads the file again now. On error the catalogue in force stays and the error is returned.
  absl::Status Reload() ABSL_LOCKS_EXCLUDED(mu_);
  const std::string& path() const { return path_; }

 private:
  CatalogFile(std::string path, absl::Duration check_every)
      : path_(std::move(path)), check_every_(check_every) {}
  absl::Status ReloadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  const absl::Duration check_every_ = absl::InfiniteDuration();
  absl::Mutex mu_;
  std::shared_ptr<const Catalog> current_ ABSL_GUARDED_BY(mu_);
  int64_t stamp_ ABSL_GUARDED_BY(mu_) = -1;          // mtime and size of the file in force
  int64_t refused_stamp_ ABSL_GUARDED_BY(mu_) = -1;  // of a changed file that was refused
  absl::Time next_check_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace meldpunt::catalog
