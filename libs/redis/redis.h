// Redis access over hiredis: an RAII connection that reconnects, loads its Lua scripts on every
// connect and calls them by SHA, and pipelines commands; and a small thread-safe pool of them.
//
//   ASSIGN_OR_RETURN(auto redis, Client::Create({.address = "127.0.0.1:6379",
//                                                .scripts = {{"cas", kCasLua}}}));
//   ASSIGN_OR_RETURN(Reply r, redis->Command({"HGET", key, "state"}));
//   ASSIGN_OR_RETURN(Reply s, redis->Script("cas", {key}, {expected, value}));
//
// Errors: UNAVAILABLE when Redis cannot be reached (retry), INTERNAL for an error reply.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct redisContext;

namespace meldpunt::redis {

struct Reply {
  enum class Type { kNil, kString, kInteger, kArray, kStatus, kError };
  Type type = Type::kNil;
  std::string str;
  int64_t integer = 0;
  std::vector<Reply> elements;

  bool is_nil() const { return type == Type::kNil; }
};

struct Script {
  std::string name;
  std::string source;
};

// One call of a loaded script, for Scripts(): many calls in one round trip.
struct ScriptCall {
  std::string name;
  std::vector<std::string> keys;
  std::vector<std::string> args;
};

struct Options {
  std::string address = "127.0.0.1:6379";
  absl::Duration connect_timeout = absl::Seconds(2);
  absl::Duration command_timeout = absl::Seconds(2);
  std::vector<Script> scripts;
  int pool_size = 4;
};

// One connection; not thread-safe (the pool serialises access).
class Connection {
 public:
  static absl::StatusOr<std::unique_ptr<Connection>> Connect(const Options& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one command. On a broken connection it reconnects once and repeats the command, so
  // commands must be safe to repeat (ours are: SETs, CAS scripts, idempotent adds).
  absl::StatusOr<Reply> Command(const std::vector<std::string>& args);
  // Sends all commands in one round trip; the replies come back in order (error replies included).
  absl::StatusOr<std::vector<Reply>> Pipeline(
      const std::vector<std::vector<std::string>>& commands);
  absl::StatusOr<Reply> Script(const std::string& name, const std::vector<std::string>& keys,
                               const std::vector<std::string>& args);
  // Runs every call in one round trip; the replies in order. A script Redis no longer knows
  // (NOSCRIPT) reloads them all and repeats every call, so the scripts must be safe to repeat.
  absl::StatusOr<std::vector<Reply>> Scripts(const std::vector<ScriptCall>& calls);

 private:
  explicit Connection(Options options) : options_(std::move(options)) {}
  absl::Status Reconnect();
  absl::StatusOr<std::vector<Reply>> Send(const std::vector<std::vector<std::string>>& commands);

  Options options_;
  redisContext* context_ = nullptr;
  std::vector<std::pair<std::string, std::string>> shas_;  // script name -> sha1
};

// A fixed pool of connections, each guarded by its own mutex; safe from any thread.
class Client {
 public:
  static absl::StatusOr<std::unique_ptr<Client>> Create(const Options& options);

  absl::StatusOr<Reply> Command(const std::vector<std::string>& args);
  absl::StatusOr<std::vector<Reply>> Pipeline(
      const std::vector<std::vector<std::string>>& commands);
  absl::StatusOr<Reply> Script(const std::string& name, const std::vector<std::string>& keys,
                               const std::vector<std::string>& args);
  absl::StatusOr<std::vector<Reply>> Scripts(const std::vector<ScriptCall>& calls);

 private:
  struct Slot {
    std::mutex mu;
    std::unique_ptr<Connection> connection;
  };
  template <typename F>
  auto With(F&& f) -> decltype(f(std::declval<Connection&>()));

  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<size_t> next_{0};
};

// An error reply as a Status (OK for any other reply).
absl::Status ReplyStatus(const Reply& reply);

// Deletes every key matching a SCAN pattern (in batches, without blocking Redis); returns how
// many were removed. For rebuilding derived state, not for hot paths.
absl::StatusOr<int64_t> DeleteMatching(Client& client, const std::string& pattern);

// The marker of derived state known to be complete (e.g. mp:intake:intact), set after a rebuild
// from the log: gone when Redis lost its data (FLUSHALL, a new instance), which a service checks
// for and repairs by itself.
absl::StatusOr<bool> HasMarker(Client& client, const std::string& key);
absl::Status SetMarker(Client& client, const std::string& key);
// Sets the marker only while `owner` holds `lock` (one step): false when the lock is gone (Redis
// lost its data again during the rebuild) or another owner's.
absl::StatusOr<bool> SetMarkerIfLocked(Client& client, const std::string& key,
                                       const std::string& lock, const std::string& owner);

// A lock over all replicas (SET NX PX): true when `owner` took it. It expires after `ttl`;
// Unlock releases it only while `owner` still holds it.
absl::StatusOr<bool> TryLock(Client& client, const std::string& key, const std::string& owner,
                             absl::Duration ttl);
absl::Status Unlock(Client& client, const std::string& key, const std::string& owner);

}  // namespace meldpunt::redis
