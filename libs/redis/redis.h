// Redis access over hiredis: an RAII connection that reconnects, loads its Lua scripts on every
// connect and calls them by SHA, and pipelines commands; and a small thread-safe pool of them.
// With Sentinels it finds the primary through them and follows a failover; it can wait until
// replicas hold what it wrote (WaitForReplicas), so a failover loses nothing acknowledged.
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
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
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
  // host:port of Redis, used when there are no sentinels.
  std::string address = "127.0.0.1:6379";
  // host:port of Redis Sentinels: when set, every connect asks them in turn for the primary of
  // `master_name` (SENTINEL get-master-addr-by-name), connects there and checks with ROLE that it
  // is the primary; a -READONLY reply (the primary became a replica) drops the connection and the
  // call is sent again to the primary the Sentinels name then.
  std::vector<std::string> sentinels;
  std::string master_name;
  // How many replicas must acknowledge the writes before WaitForReplicas() says they are durable
  // (0: it never asks), and how long it waits for them.
  int wait_replicas = 0;
  absl::Duration wait_timeout = absl::Seconds(2);
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
  // WAIT until options.wait_replicas replicas hold every command this connection sent: OK at once
  // when nothing was sent since the last OK; UNAVAILABLE when fewer acknowledged in time.
  absl::Status WaitForReplicas();
  // For commands that span round trips on one connection (WATCH, then MULTI and EXEC; see
  // Client::Exclusive): Connected() connects when it is not; SendOnce() sends on this connection
  // as it is and never reconnects or repeats (a WATCH ends with its connection), so a broken
  // connection is the caller's UNAVAILABLE (retry in place: from the WATCH).
  absl::Status Connected();
  absl::StatusOr<std::vector<Reply>> SendOnce(
      const std::vector<std::vector<std::string>>& commands);
  // Where it is connected ("" when it is not).
  const std::string& address() const { return address_; }

 private:
  friend class Client;
  Connection(Options options, std::atomic<int64_t>* losses)
      : options_(std::move(options)), losses_(losses != nullptr ? losses : &own_losses_) {}
  absl::Status Reconnect();
  // The address to connect to: options.address, or the primary the sentinels name.
  absl::StatusOr<std::string> Primary();
  absl::StatusOr<std::vector<Reply>> Send(const std::vector<std::vector<std::string>>& commands);
  // Writes `count` commands with `append` (each formatted into out_, then Appended) and reads
  // their replies.
  absl::StatusOr<std::vector<Reply>> Exchange(size_t count, absl::FunctionRef<void()> append);
  // After a command was formatted into out_: every kFlushBytes, hands out_ over and writes it out
  // (HandOver(true)).
  void Appended();
  // Hands the commands in out_ to hiredis's buffer and, when `write`, writes the buffer out (a
  // failure sets write_failed_, which Exchange reports).
  void HandOver(bool write);
  // Closes the connection; when it sent commands no WAIT confirmed, counts a loss (they may be
  // gone with a failover).
  void Drop();

  Options options_;
  std::atomic<int64_t>* losses_;  // the pool's, or own_losses_
  std::atomic<int64_t> own_losses_{0};
  redisContext* context_ = nullptr;
  std::string address_;
  bool unconfirmed_ = false;  // commands sent since the last WAIT that confirmed them
  std::string out_;           // commands formatted and not yet handed to hiredis
  bool write_failed_ = false;
  size_t sentinel_ = 0;  // the sentinel asked first (the last one that answered)
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
  // Runs `f(Connection&)` with one connection of the pool held for it alone, for a transaction
  // over several round trips (WATCH, reads, MULTI ... EXEC; Connection::SendOnce).
  template <typename F>
  auto Exclusive(F&& f) -> decltype(f(std::declval<Connection&>())) {
    return With(std::forward<F>(f));
  }

  // Durability of writes across a failover. Take a mark before the writes, then:
  //   int64_t mark = redis.DurabilityMark();
  //   ... writes ...
  //   RETURN_IF_ERROR(redis.WaitForReplicas(mark));  // before anything says they are done
  // OK once options.wait_replicas replicas acknowledged every command sent on the pool (WAIT on
  // each connection used since its last confirmed WAIT), at once with wait_replicas 0.
  // UNAVAILABLE (retry in place: do the writes again) when fewer replicas acknowledged within
  // wait_timeout, or when since `mark` a connection was lost before its commands were confirmed,
  // since those may be gone with the primary.
  int64_t DurabilityMark() const { return losses_.load(); }
  absl::Status WaitForReplicas(int64_t mark);
  int wait_replicas() const { return wait_replicas_; }

 private:
  struct Slot {
    std::mutex mu;
    std::unique_ptr<Connection> connection;
  };
  template <typename F>
  auto With(F&& f) -> decltype(f(std::declval<Connection&>())) {
    Slot& slot = *slots_[next_.fetch_add(1) % slots_.size()];
    std::lock_guard<std::mutex> lock(slot.mu);
    return f(*slot.connection);
  }

  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<size_t> next_{0};
  std::atomic<int64_t> losses_{0};
  int wait_replicas_ = 0;
};

// An error reply as a Status (OK for any other reply).
absl::Status ReplyStatus(const Reply& reply);

// Deletes every key matching a SCAN pattern (in batches, without blocking Redis); returns how
// many were removed. For rebuilding derived state, not for hot paths.
absl::StatusOr<int64_t> DeleteMatching(Client& client, const std::string& pattern);
// The same for several patterns in one pass over the keyspace: a pattern without glob characters
// is one key, removed at once; the others are matched against each key SCAN returns (glob rules
// of fnmatch, as Redis's MATCH for these patterns). One SCAN walk costs about one round trip per
// 5,000 keys of the whole keyspace, whatever the number of patterns.
absl::StatusOr<int64_t> DeleteMatching(Client& client, const std::vector<std::string>& patterns);

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
