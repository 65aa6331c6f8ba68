// Child processes and small helpers for tests that run the real binaries: fork and exec with
// the output in a file, stopped and reaped by the destructor; reading files and logs; GET on an
// admin port.
#pragma once

#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "libs/redis/redis.h"
#include "nlohmann/json.hpp"
#include "tests/testing/stack.h"

extern char** environ;

namespace meldpunt::testing {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

inline std::string Tail(const std::string& path, size_t lines) {
  std::vector<std::string> all = absl::StrSplit(ReadFile(path), '\n', absl::SkipEmpty());
  const size_t from = all.size() > lines ? all.size() - lines : 0;
  return absl::StrJoin(all.begin() + static_cast<std::ptrdiff_t>(from), all.end(), "\n");
}

// Calls `fn` for every JSON log line (the services log one object per line on stderr) of `text`
// that starts before byte `end`.
inline void ForEachLogLine(const std::string& text, size_t end,
                           const std::function<void(const nlohmann::json&)>& fn) {
  size_t at = 0;
  while (at < text.size() && at < end) {
    size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    nlohmann::json line = nlohmann::json::parse(text.substr(at, nl - at), nullptr, false);
    if (line.is_object()) fn(line);
    at = nl + 1;
  }
}

// A child process (fork + exec) with stdout and stderr in a file. The destructor stops and reaps
// it, so nothing outlives the test; PR_SET_PDEATHSIG kills it if the test process dies first.
class Child {
 public:
  Child(std::string name, std::vector<std::string> argv, std::string log)
      : name_(std::move(name)), argv_(std::move(argv)), log_(std::move(log)) {}
  ~Child() { Stop(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool Spawn() {
    std::vector<char*> argv;
    for (std::string& a : argv_) argv.push_back(a.data());
    argv.push_back(nullptr);
    // The children get the test's environment without MELDPUNT_* (their config is the file).
    std::vector<char*> envp;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e)
      if (!absl::StartsWith(*e, "MELDPUNT_")) envp.push_back(*e);
    envp.push_back(nullptr);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
      // Only async-signal-safe calls from here on.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      const int in = open("/dev/null", O_RDONLY);
      const int out = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
      if (in < 0 || out < 0) _exit(127);
      dup2(in, 0);
      dup2(out, 1);
      dup2(out, 2);
      execvpe(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    pid_ = pid;
    return true;
  }

  // False once the process exited (it is reaped then).
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      exit_status_ = status;
    }
    return pid_ > 0;
  }

  void Kill() {
    if (!Running()) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, &exit_status_, 0);
    pid_ = -1;
  }

  // SIGTERM, up to 5 s to drain, then SIGKILL; always reaped.
  void Stop() {
    if (!Running()) return;
    kill(pid_, SIGTERM);
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (absl::Now() < deadline) {
      if (!Running()) return;
      absl::SleepFor(absl::Milliseconds(50));
    }
    Kill();
  }

  std::string Describe() const {
    return absl::StrCat("--- ", name_, " (", log_, ", exit status ", exit_status_,
                        "), last lines:\n", Tail(log_, 40), "\n");
  }

  const std::string& log() const { return log_; }
  // The wait status once it exited (-1 before).
  int exit_status() const { return exit_status_; }
  void Signal(int signal) {
    if (pid_ > 0) kill(pid_, signal);
  }

 private:
  std::string name_;
  std::vector<std::string> argv_;
  std::string log_;
  pid_t pid_ = -1;
  int exit_status_ = -1;
};

// The status of GET `path` on 127.0.0.1:`port` (-1 when nothing answered); the body in `body`.
inline int HttpGet(int port, const std::string& path, std::string* body = nullptr) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1, 0);
  client.set_read_timeout(3, 0);
  auto response = client.Get(path);
  if (!response) return -1;
  if (body != nullptr) *body = response->body;
  return response->status;
}

// A redis-server of the test's own on `port` (no persistence), its output in `log`; null when it
// did not answer PING within 20 s.
inline std::unique_ptr<Child> StartPrivateRedis(int port, const std::string& log) {
  auto redis = std::make_unique<Child>(
      "redis-server",
      std::vector<std::string>{"redis-server", "--port", absl::StrCat(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no", "--daemonize", "no"},
      log);
  if (!redis->Spawn()) return nullptr;
  const bool up = Eventually(
      [&] {
        if (!redis->Running()) return true;
        auto client =
            redis::Client::Create({.address = absl::StrCat("127.0.0.1:", port), .pool_size = 1});
        if (!client.ok()) return false;
        auto pong = (*client)->Command({"PING"});
        return pong.ok() && pong->str == "PONG";
      },
      absl::Seconds(20));
  if (!up || !redis->Running()) return nullptr;
  return redis;
}

}  // namespace meldpunt::testing
