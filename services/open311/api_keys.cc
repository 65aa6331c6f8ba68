#include "services/open311/api_keys.h"

#include <openssl/evp.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/catalog/slug.h"
#include "libs/config/config.h"
#include "libs/observability/log.h"
#include "yaml-cpp/yaml.h"

namespace meldpunt::open311 {
namespace {

bool IsHexDigest(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string Sha256Hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), static_cast<size_t>(length)));
}

absl::StatusOr<std::shared_ptr<const ApiKeys>> ApiKeys::LoadFile(const std::string& path) {
  absl::StatusOr<std::string> text = config::ReadFile(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("open311.api_keys_file: cannot read '", path, "'"));
  }
  return Parse(*text, path);
}

absl::StatusOr<std::shared_ptr<const ApiKeys>> ApiKeys::Parse(const std::string& yaml_text,
                                                              const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not YAML: ", e.what()));
  }
  const auto bad = [&](size_t i, const std::string& field, const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": keys[", i, "].", field, ": ", why));
  };
  if (!root.IsMap() || !root["keys"] || !root["keys"].IsSequence()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": keys: must be a list"));
  }
  auto keys = std::shared_ptr<ApiKeys>(new ApiKeys());
  size_t i = 0;
  for (const YAML::Node& entry : root["keys"]) {
    if (!entry.IsMap()) return bad(i, "", "must be a map of sha256, system and role");
    for (const auto& field : entry) {
      const std::string name = field.first.as<std::string>("");
      if (name != "sha256" && name != "system" && name != "role") {
        return bad(i, name, "unknown field (sha256, system, role)");
      }
    }
    const std::string digest = absl::AsciiStrToLower(entry["sha256"].as<std::string>(""));
    const std::string system = entry["system"].as<std::string>("");
    const std::string role = entry["role"].as<std::string>("");
    if (!IsHexDigest(digest)) {
      return bad(i, "sha256", "must be the 64 hex digits of the key's SHA-256");
    }
    if (!catalog::IsSlug(system)) return bad(i, "system", catalog::kSlugRule);
    if (role != "submitter") {
      return bad(i, "role", "must be submitter: the gateway speaks for submitting systems only");
    }
    auth::Principal who;
    who.subject = system;
    who.role = auth::Role::kSubmitter;
    if (!keys->by_digest_.emplace(digest, who).second) return bad(i, "sha256", "appears twice");
    ++i;
  }
  return std::shared_ptr<const ApiKeys>(std::move(keys));
}

std::optional<auth::Principal> ApiKeys::Find(const std::string& key) const {
  if (key.empty() || key.size() > 512) return std::nullopt;
  auto it = by_digest_.find(Sha256Hex(key));
  if (it == by_digest_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::unique_ptr<ApiKeyFile>> ApiKeyFile::Open(const std::string& path) {
  auto file = std::unique_ptr<ApiKeyFile>(new ApiKeyFile(path));
  absl::StatusOr<std::shared_ptr<const ApiKeys>> keys = ApiKeys::Parse("keys: []", "(none)");
  if (!path.empty()) {
    absl::StatusOr<std::string> text = file->file_.Read("open311.api_keys_file");
    if (!text.ok()) return text.status();
    keys = ApiKeys::Parse(*text, path);
  }
  if (!keys.ok()) return keys.status();
  file->keys_ = *std::move(keys);
  return file;
}

std::optional<auth::Principal> ApiKeyFile::Find(const std::string& key) {
  if (!file_.path().empty()) {
    if (auto changed = file_.Changed("open311.api_keys_file")) {
      absl::StatusOr<std::shared_ptr<const ApiKeys>> keys =
          changed->ok() ? ApiKeys::Parse(**changed, file_.path())
                        : absl::StatusOr<std::shared_ptr<const ApiKeys>>(changed->status());
      if (keys.ok()) {
        log::Info("open311.api_keys_file read again", {{"keys", (*keys)->size()}});
        absl::MutexLock lock(&mu_);
        keys_ = *std::move(keys);
      } else {
        log::Error("open311.api_keys_file changed but cannot be read; keeping the last keys",
                   {{"error", std::string(keys.status().message())}});
      }
    }
  }
  std::shared_ptr<const ApiKeys> keys;
  {
    absl::MutexLock lock(&mu_);
    keys = keys_;
  }
  return keys->Find(key);
}

}  // namespace meldpunt::open311
