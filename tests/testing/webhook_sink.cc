#include "tests/testing/webhook_sink.h"

#include <curl/curl.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/ascii.h"

namespace meldpunt::testing {
namespace {
size_t Discard(char*, size_t size, size_t count, void*) { return size * count; }
}  // namespace

std::vector<nlohmann::json> SinkRequests(const std::string& dir, const std::string& path) {
  std::vector<std::pair<std::string, nlohmann::json>> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".json" || name[0] == '.') continue;
    std::ifstream in(entry.path());
    nlohmann::json json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (json.is_object() && json.value("path", "") == path) found.emplace_back(name, json);
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<nlohmann::json> out;
  for (auto& [name, json] : found) out.push_back(std::move(json));
  return out;
}

std::string SinkHeader(const nlohmann::json& request, const std::string& name) {
  if (!request.contains("headers")) return "";
  for (const auto& [key, value] : request["headers"].items()) {
    if (absl::AsciiStrToLower(key) == absl::AsciiStrToLower(name)) return value.get<std::string>();
  }
  return "";
}

long SinkControl(const std::string& base, const char* method, const std::string& json) {
  CURL* curl = curl_easy_init();
  const std::string url = base + "/_sink/respond";
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Discard);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");
  if (!json.empty()) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json.c_str());
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return status;
}

}  // namespace meldpunt::testing
