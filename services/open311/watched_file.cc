#include "services/open311/watched_file.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/config/config.h"

namespace meldpunt::open311 {
namespace {

// Modification time and size, to notice a change; -1 when the file cannot be read.
int64_t Stamp(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec +
         static_cast<int64_t>(st.st_size);
}

}  // namespace

absl::StatusOr<std::string> WatchedFile::Read(const std::string& key) {
  absl::MutexLock lock(&mu_);
  stamp_ = Stamp(path_);
  next_check_ = absl::Now() + check_every_;
  absl::StatusOr<std::string> text = config::ReadFile(path_);
  if (!text.ok()) {
    return absl::NotFoundError(absl::StrCat(key, ": cannot read '", path_, "'"));
  }
  return text;
}

std::optional<absl::StatusOr<std::string>> WatchedFile::Changed(const std::string& key) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  if (now < next_check_) return std::nullopt;
  next_check_ = now + check_every_;
  const int64_t stamp = Stamp(path_);
  if (stamp == stamp_) return std::nullopt;
  stamp_ = stamp;
  absl::StatusOr<std::string> text = config::ReadFile(path_);
  if (!text.ok()) {
    return absl::StatusOr<std::string>(
        absl::NotFoundError(absl::StrCat(key, ": cannot read '", path_, "'")));
  }
  return text;
}

}  // namespace meldpunt::open311
