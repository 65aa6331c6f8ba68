#include "libs/catalog/catalog_file.h"

#include <sys/stat.h>

#include "absl/time/clock.h"
#include "libs/observability/log.h"

namespace meldpunt::catalog {
namespace {

// The file's modification time and size, to notice a change; -1 when it cannot be read.
int64_t Stamp(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec +
         static_cast<int64_t>(st.st_size);
}

}  // namespace

absl::StatusOr<std::unique_ptr<CatalogFile>> CatalogFile::Open(const std::string& path,
                                                               absl::Duration check_every) {
  std::unique_ptr<CatalogFile> file(new CatalogFile(path, check_every));
  absl::MutexLock lock(&file->mu_);
  if (absl::Status loaded = file->ReloadLocked(); !loaded.ok()) return loaded;
  return file;
}

CatalogFile::CatalogFile(std::shared_ptr<const Catalog> fixed) { current_ = std::move(fixed); }

std::shared_ptr<const Catalog> CatalogFile::Current() {
  absl::MutexLock lock(&mu_);
  if (path_.empty()) return current_;
  const absl::Time now = absl::Now();
  if (now < next_check_) return current_;
  next_check_ = now + check_every_;
  const int64_t stamp = Stamp(path_);
  if (stamp == stamp_ || stamp == refused_stamp_ || stamp < 0) return current_;
  if (absl::Status reloaded = ReloadLocked(); !reloaded.ok()) {
    refused_stamp_ = stamp;
    log::Error("the changed category catalogue is refused; the one in force stays",
               {{"path", path_}, {"error", std::string(reloaded.message())}});
  } else {
    log::Info("category catalogue read again", {{"path", path_}});
  }
  return current_;
}

absl::Status CatalogFile::Reload() {
  absl::MutexLock lock(&mu_);
  if (path_.empty()) return absl::OkStatus();
  return ReloadLocked();
}

absl::Status CatalogFile::ReloadLocked() {
  const int64_t stamp = Stamp(path_);
  absl::StatusOr<std::shared_ptr<const Catalog>> loaded = Catalog::LoadFile(path_);
  if (!loaded.ok()) return loaded.status();
  current_ = *std::move(loaded);
  stamp_ = stamp;
  refused_stamp_ = -1;
  return absl::OkStatus();
}

}  // namespace meldpunt::catalog
