#include "tests/testing/webhook_sink.h"

#include <curl/curl.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "tests/testing/stack.h"

extern char** environ;

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

std::string PythonSignature(const nlohmann::json& request, const std::string& secret) {
  // The request and the secret (raw bytes) go through files, never through a shell.
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / UniqueName("webhook-signature");
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "request.json") << request.dump();
  {
    std::ofstream out(dir / "secret", std::ios::binary);
    out.write(secret.data(), static_cast<std::streamsize>(secret.size()));
  }
  constexpr char kScript[] = R"(
import base64, hashlib, hmac, json, sys
record = json.load(open(sys.argv[1], encoding="utf-8"))
headers = {k.lower(): v for k, v in record["headers"].items()}
secret = open(sys.argv[2], "rb").read()
signed = "%s.%s.%s" % (headers["webhook-id"], headers["webhook-timestamp"], record["body"])
mac = hmac.new(secret, signed.encode("utf-8"), hashlib.sha256).digest()
print("v1," + base64.b64encode(mac).decode("ascii"))
)";
  std::vector<std::string> args = {"python3", "-c", kScript, (dir / "request.json").string(),
                                   (dir / "secret").string()};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string out = (dir / "out").string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, "python3", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  std::string line;
  if (rc == 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) std::getline(std::ifstream(out), line);
  }
  std::filesystem::remove_all(dir);
  return std::string(absl::StripAsciiWhitespace(line));
}

}  // namespace meldpunt::testing
