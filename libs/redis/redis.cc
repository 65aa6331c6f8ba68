#include "libs/redis/redis.h"

#include <fnmatch.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <charconv>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/status/retry.h"
#include "libs/status/status_macros.h"

namespace meldpunt::redis {
namespace {

Reply Convert(const redisReply* raw) {
  Reply reply;
  switch (raw->type) {
    case REDIS_REPLY_STRING:
      reply.type = Reply::Type::kString;
      reply.str.assign(raw->str, raw->len);
      break;
    case REDIS_REPLY_STATUS:
      reply.type = Reply::Type::kStatus;
      reply.str.assign(raw->str, raw->len);
      break;
    case REDIS_REPLY_ERROR:
      reply.type = Reply::Type::kError;
      reply.str.assign(raw->str, raw->len);
      break;
    case REDIS_REPLY_INTEGER:
      reply.type = Reply::Type::kInteger;
      reply.integer = raw->integer;
      break;
    case REDIS_REPLY_ARRAY:
      reply.type = Reply::Type::kArray;
      reply.elements.reserve(raw->elements);
      for (size_t i = 0; i < raw->elements; ++i) reply.elements.push_back(Convert(raw->element[i]));
      break;
    default:
      reply.type = Reply::Type::kNil;
  }
  return reply;
}

// Appends one command in the protocol's form (RESP: an array of bulk strings) to `out`. Written
// here rather than by hiredis's redisAppendCommandArgv, which formats each command into a string
// of its own (after two arrays of pointers and lengths) and then copies it into its buffer: a
// replay's run is tens of thousands of commands, and the live paths' every write is one.
template <typename Words>
void AppendCommand(std::string& out, const Words& words) {
  char head[24];
  auto line = [&](char kind, size_t count) {
    head[0] = kind;
    char* end = std::to_chars(head + 1, head + sizeof head - 2, count).ptr;
    *end++ = '\r';
    *end++ = '\n';
    out.append(head, static_cast<size_t>(end - head));
  };
  line('*', words.size());
  for (const auto& word : words) {
    line('$', word.size());
    out.append(word.data(), word.size());
    out.append("\r\n", 2);
  }
}

// hiredis keeps a pipeline's commands in one buffer, which it grows by copying: past 1 MiB by
// 1 MiB at a time, so a pipeline of many megabytes (a replay's run in one transaction) would be
// copied over and over. The commands are handed to it and written out whenever this much was
// formatted instead.
constexpr size_t kFlushBytes = 256 * 1024;

}  // namespace

absl::Status ReplyStatus(const Reply& reply) {
  if (reply.type != Reply::Type::kError) return absl::OkStatus();
  // The replies of a server that cannot serve anyone right now (loading its data, out of memory,
  // a replica, a busy script, a failover) are an outage: retried in place. Any other error reply
  // is the answer to this command and would be the same again (a wrong type, a script's error).
  static constexpr absl::string_view kOutage[] = {"LOADING",
                                                  "OOM",
                                                  "BUSY",
                                                  "MASTERDOWN",
                                                  "READONLY",
                                                  "TRYAGAIN",
                                                  "CLUSTERDOWN",
                                                  "NOREPLICAS",
                                                  "MISCONF",
                                                  "NOAUTH",
                                                  "NOPERM",
                                                  "WRONGPASS",
                                                  "ERR max number of clients"};
  for (absl::string_view prefix : kOutage) {
    if (absl::StartsWith(reply.str, prefix)) {
      return status::InPlace(absl::UnavailableError(absl::StrCat("redis: ", reply.str)));
    }
  }
  return status::GiveUp(absl::InternalError(absl::StrCat("redis: ", reply.str)));
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Connect(const Options& options) {
  std::unique_ptr<Connection> connection(new Connection(options, nullptr));
  RETURN_IF_ERROR(connection->Reconnect());
  return connection;
}

Connection::~Connection() {
  if (context_) redisFree(context_);
}

void Connection::Drop() {
  if (context_) redisFree(context_);
  context_ = nullptr;
  address_.clear();
  shas_.clear();
  if (unconfirmed_) {
    unconfirmed_ = false;
    losses_->fetch_add(1);
  }
}

namespace {

absl::StatusOr<std::pair<std::string, int>> SplitHostPort(const std::string& address) {
  size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis address '", address, "' is not host:port"));
  }
  return std::make_pair(address.substr(0, colon), port);
}

}  // namespace

absl::StatusOr<std::string> Connection::Primary() {
  if (options_.sentinels.empty()) return options_.address;
  std::string errors;
  for (size_t n = 0; n < options_.sentinels.size(); ++n) {
    const size_t i = (sentinel_ + n) % options_.sentinels.size();
    const std::string& sentinel = options_.sentinels[i];
    ASSIGN_OR_RETURN(auto host_port, SplitHostPort(sentinel));
    redisContext* s = redisConnectWithTimeout(host_port.first.c_str(), host_port.second,
                                              absl::ToTimeval(options_.connect_timeout));
    std::string error;
    if (s == nullptr || s->err) {
      error = s ? s->errstr : "out of memory";
    } else {
      redisSetTimeout(s, absl::ToTimeval(options_.command_timeout));
      auto* raw = static_cast<redisReply*>(redisCommand(s, "SENTINEL get-master-addr-by-name %b",
                                                        options_.master_name.data(),
                                                        options_.master_name.size()));
      if (raw == nullptr) {
        error = s->errstr;
      } else {
        const Reply reply = Convert(raw);
        freeReplyObject(raw);
        if (reply.type == Reply::Type::kArray && reply.elements.size() == 2) {
          redisFree(s);
          sentinel_ = i;
          return absl::StrCat(reply.elements[0].str, ":", reply.elements[1].str);
        }
        error = reply.type == Reply::Type::kError ? reply.str : "does not know the primary";
      }
    }
    if (s) redisFree(s);
    absl::StrAppend(&errors, errors.empty() ? "" : "; ", sentinel, ": ", error);
  }
  return status::InPlace(absl::UnavailableError(absl::StrCat(
      "redis: no sentinel named the primary of '", options_.master_name, "' (", errors, ")")));
}

absl::Status Connection::Reconnect() {
  Drop();
  ASSIGN_OR_RETURN(const std::string address, Primary());
  ASSIGN_OR_RETURN(auto host_port, SplitHostPort(address));
  context_ = redisConnectWithTimeout(host_port.first.c_str(), host_port.second,
                                     absl::ToTimeval(options_.connect_timeout));
  if (context_ == nullptr || context_->err) {
    std::string error = context_ ? context_->errstr : "out of memory";
    if (context_) redisFree(context_);
    context_ = nullptr;
    return status::InPlace(absl::UnavailableError(absl::StrCat("redis ", address, ": ", error)));
  }
  address_ = address;
  redisSetTimeout(context_, absl::ToTimeval(options_.command_timeout));
  redisEnableKeepAlive(context_);
  if (!options_.sentinels.empty()) {
    // The sentinels may still name a primary that has become a replica (a failover under way,
    // or an old primary back before they reconfigured it): only the primary is kept.
    absl::StatusOr<std::vector<Reply>> role = Send({{"ROLE"}});
    std::string what = role.ok() ? "" : std::string(role.status().message());
    if (role.ok() && ((*role)[0].type != Reply::Type::kArray || (*role)[0].elements.empty() ||
                      (*role)[0].elements[0].str != "master")) {
      what = absl::StrCat("is not the primary of '", options_.master_name, "' (role ",
                          (*role)[0].elements.empty() ? (*role)[0].str : (*role)[0].elements[0].str,
                          ")");
    }
    unconfirmed_ = false;
    if (!what.empty()) {
      Drop();
      return status::InPlace(absl::UnavailableError(absl::StrCat("redis ", address, ": ", what)));
    }
  }
  for (const redis::Script& script : options_.scripts) {
    absl::StatusOr<std::vector<Reply>> replies = Send({{"SCRIPT", "LOAD", script.source}});
    absl::Status loaded = replies.ok() ? ReplyStatus((*replies)[0]) : replies.status();
    if (!loaded.ok()) {
      // E.g. "LOADING" while a restarted Redis replays its AOF. A connection without its
      // scripts is never kept: the next call connects again and loads them then.
      unconfirmed_ = false;
      Drop();
      return status::InPlace(absl::UnavailableError(
          absl::StrCat("redis ", address, ": loading scripts: ", loaded.message())));
    }
    shas_.emplace_back(script.name, (*replies)[0].str);
  }
  // Loading scripts writes nothing a failover could lose.
  unconfirmed_ = false;
  return absl::OkStatus();
}

namespace {

// A -READONLY reply: the primary this connection reached has become a replica (a failover).
bool Demoted(const std::vector<Reply>& replies) {
  for (const Reply& reply : replies) {
    if (reply.type == Reply::Type::kError && absl::StartsWith(reply.str, "READONLY")) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::vector<Reply>> Connection::Send(
    const std::vector<std::vector<std::string>>& commands) {
  return Exchange(commands.size(), [&] {
    for (const auto& command : commands) {
      AppendCommand(out_, command);
      Appended();
    }
  });
}

void Connection::Appended() {
  if (out_.size() < kFlushBytes || write_failed_) return;
  HandOver(true);
}

void Connection::HandOver(bool write) {
  if (!out_.empty()) {
    if (redisAppendFormattedCommand(context_, out_.data(), out_.size()) != REDIS_OK) {
      write_failed_ = true;  // hiredis could not grow its buffer
      return;
    }
    out_.clear();
  }
  if (!write) return;
  for (int done = 0; !done;) {
    if (redisBufferWrite(context_, &done) != REDIS_OK) {
      write_failed_ = true;
      return;
    }
  }
}

absl::StatusOr<std::vector<Reply>> Connection::Exchange(size_t count,
                                                        absl::FunctionRef<void()> append) {
  if (context_ == nullptr) return status::InPlace(absl::UnavailableError("redis: not connected"));
  unconfirmed_ = true;
  out_.clear();
  write_failed_ = false;
  append();
  if (!write_failed_) HandOver(false);
  // A buffer a large pipeline grew is not kept for the small ones after it.
  if (out_.capacity() > 2 * kFlushBytes) std::string().swap(out_);
  if (write_failed_) {
    std::string error = absl::StrCat("redis ", address_, ": ", context_->errstr);
    Drop();  // part of the commands may have gone out: never reuse the stream
    return status::InPlace(absl::UnavailableError(error));
  }
  std::vector<Reply> replies;
  replies.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
      std::string error = absl::StrCat("redis ", address_, ": ", context_->errstr);
      Drop();  // the stream is out of step now; never reuse it
      return status::InPlace(absl::UnavailableError(error));
    }
    replies.push_back(Convert(static_cast<redisReply*>(raw)));
    freeReplyObject(raw);
  }
  // A replica writes nothing; the next call asks the sentinels for the new primary.
  if (!options_.sentinels.empty() && Demoted(replies)) Drop();
  return replies;
}

absl::Status Connection::WaitForReplicas() {
  if (options_.wait_replicas <= 0 || !unconfirmed_) return absl::OkStatus();
  if (context_ == nullptr) return status::InPlace(absl::UnavailableError("redis: not connected"));
  // WAIT blocks for up to wait_timeout: the socket may take that long to answer, and more.
  redisSetTimeout(context_, absl::ToTimeval(options_.command_timeout + options_.wait_timeout));
  absl::StatusOr<std::vector<Reply>> waited =
      Send({{"WAIT", absl::StrCat(options_.wait_replicas),
             absl::StrCat(absl::ToInt64Milliseconds(options_.wait_timeout))}});
  if (context_ != nullptr) redisSetTimeout(context_, absl::ToTimeval(options_.command_timeout));
  ASSIGN_OR_RETURN(std::vector<Reply> replies, std::move(waited));
  RETURN_IF_ERROR(ReplyStatus(replies[0]));
  if (replies[0].integer < options_.wait_replicas) {
    return status::InPlace(absl::UnavailableError(absl::StrCat(
        "redis ", address_, ": ", replies[0].integer, " of ", options_.wait_replicas,
        " replicas acknowledged the writes within ", absl::FormatDuration(options_.wait_timeout))));
  }
  unconfirmed_ = false;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Reply>> Connection::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  if (commands.empty()) return std::vector<Reply>();
  if (context_ != nullptr) {
    absl::StatusOr<std::vector<Reply>> replies = Send(commands);
    // Sent again, once, after a broken connection or a failover: to the primary then.
    const bool again = replies.ok() ? context_ == nullptr
                                    : replies.status().code() == absl::StatusCode::kUnavailable;
    if (!again) return replies;
  }
  RETURN_IF_ERROR(Reconnect());
  return Send(commands);
}

absl::Status Connection::Connected() {
  if (context_ != nullptr) return absl::OkStatus();
  return Reconnect();
}

absl::StatusOr<std::vector<Reply>> Connection::SendOnce(
    const std::vector<std::vector<std::string>>& commands) {
  if (commands.empty()) return std::vector<Reply>();
  return Send(commands);
}

absl::StatusOr<Reply> Connection::Command(const std::vector<std::string>& args) {
  ASSIGN_OR_RETURN(std::vector<Reply> replies, Pipeline({args}));
  return std::move(replies[0]);
}

absl::StatusOr<Reply> Connection::Script(const std::string& name,
                                         const std::vector<std::string>& keys,
                                         const std::vector<std::string>& args) {
  ASSIGN_OR_RETURN(std::vector<Reply> replies, Scripts({{name, keys, args}}));
  return std::move(replies[0]);
}

absl::StatusOr<std::vector<Reply>> Connection::Scripts(const std::vector<ScriptCall>& calls) {
  for (const ScriptCall& call : calls) {
    bool known = false;
    for (const redis::Script& script : options_.scripts) known = known || script.name == call.name;
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat("redis: no script '", call.name, "'"));
    }
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (context_ == nullptr || shas_.size() != options_.scripts.size()) {
      RETURN_IF_ERROR(Reconnect());
      continue;
    }
    absl::StatusOr<std::vector<Reply>> replies = Exchange(calls.size(), [&] {
      std::vector<absl::string_view> words;
      for (const ScriptCall& call : calls) {
        words.clear();
        const std::string* sha = nullptr;
        for (const auto& [script, hash] : shas_)
          if (script == call.name) sha = &hash;
        const std::string numkeys = absl::StrCat(call.keys.size());
        words.push_back("EVALSHA");
        words.push_back(sha != nullptr ? absl::string_view(*sha) : absl::string_view());
        words.push_back(numkeys);
        for (const std::string& key : call.keys) words.push_back(key);
        for (const std::string& arg : call.args) words.push_back(arg);
        AppendCommand(out_, words);
        Appended();
      }
    });
    if (!replies.ok()) {
      if (replies.status().code() != absl::StatusCode::kUnavailable) return replies.status();
      RETURN_IF_ERROR(Reconnect());
      continue;
    }
    // After a failover (the connection was dropped on -READONLY), or SCRIPT FLUSH or a Redis
    // restart without our reconnect noticing: connect, load and repeat.
    bool unknown = context_ == nullptr;
    for (const Reply& reply : *replies) {
      unknown =
          unknown || (reply.type == Reply::Type::kError && absl::StartsWith(reply.str, "NOSCRIPT"));
    }
    if (unknown) {
      RETURN_IF_ERROR(Reconnect());
      continue;
    }
    return replies;
  }
  return status::InPlace(absl::UnavailableError("redis: the scripts could not run"));
}

absl::StatusOr<std::unique_ptr<Client>> Client::Create(const Options& options) {
  auto client = std::make_unique<Client>();
  client->wait_replicas_ = options.wait_replicas;
  const int size = std::max(1, options.pool_size);
  for (int i = 0; i < size; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->connection.reset(new Connection(options, &client->losses_));
    RETURN_IF_ERROR(slot->connection->Reconnect());
    client->slots_.push_back(std::move(slot));
  }
  return client;
}

absl::Status Client::WaitForReplicas(int64_t mark) {
  if (wait_replicas_ <= 0) return absl::OkStatus();
  for (const auto& slot : slots_) {
    std::lock_guard<std::mutex> lock(slot->mu);
    RETURN_IF_ERROR(slot->connection->WaitForReplicas());
  }
  if (losses_.load() != mark) {
    return status::InPlace(absl::UnavailableError(
        "redis: a connection was lost before replicas acknowledged its writes; they may be gone "
        "with the primary"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Reply> Client::Command(const std::vector<std::string>& args) {
  return With([&](Connection& c) { return c.Command(args); });
}

absl::StatusOr<std::vector<Reply>> Client::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  return With([&](Connection& c) { return c.Pipeline(commands); });
}

absl::StatusOr<Reply> Client::Script(const std::string& name, const std::vector<std::string>& keys,
                                     const std::vector<std::string>& args) {
  return With([&](Connection& c) { return c.Script(name, keys, args); });
}

absl::StatusOr<std::vector<Reply>> Client::Scripts(const std::vector<ScriptCall>& calls) {
  return With([&](Connection& c) { return c.Scripts(calls); });
}

absl::StatusOr<bool> HasMarker(Client& client, const std::string& key) {
  ASSIGN_OR_RETURN(Reply reply, client.Command({"EXISTS", key}));
  RETURN_IF_ERROR(ReplyStatus(reply));
  return reply.integer == 1;
}

absl::Status SetMarker(Client& client, const std::string& key) {
  ASSIGN_OR_RETURN(Reply reply, client.Command({"SET", key, "1"}));
  return ReplyStatus(reply);
}

absl::StatusOr<bool> SetMarkerIfLocked(Client& client, const std::string& key,
                                       const std::string& lock, const std::string& owner) {
  ASSIGN_OR_RETURN(Reply reply,
                   client.Command({"EVAL",
                                   "if redis.call('GET', KEYS[2]) == ARGV[1] then "
                                   "redis.call('SET', KEYS[1], '1') return 1 end return 0",
                                   "2", key, lock, owner}));
  RETURN_IF_ERROR(ReplyStatus(reply));
  return reply.integer == 1;
}

absl::StatusOr<bool> TryLock(Client& client, const std::string& key, const std::string& owner,
                             absl::Duration ttl) {
  ASSIGN_OR_RETURN(Reply reply, client.Command({"SET", key, owner, "NX", "PX",
                                                absl::StrCat(absl::ToInt64Milliseconds(ttl))}));
  RETURN_IF_ERROR(ReplyStatus(reply));
  return !reply.is_nil();
}

absl::Status Unlock(Client& client, const std::string& key, const std::string& owner) {
  // Compare and delete in one step: after an expiry another replica may hold the lock.
  ASSIGN_OR_RETURN(Reply reply, client.Command({"EVAL",
                                                "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                                                "return redis.call('DEL', KEYS[1]) end return 0",
                                                "1", key, owner}));
  return ReplyStatus(reply);
}

absl::StatusOr<int64_t> DeleteMatching(Client& client, const std::string& pattern) {
  return DeleteMatching(client, std::vector<std::string>{pattern});
}

absl::StatusOr<int64_t> DeleteMatching(Client& client, const std::vector<std::string>& patterns) {
  int64_t removed = 0;
  std::vector<std::string> globs;
  std::vector<std::string> unlink = {"UNLINK"};
  for (const std::string& pattern : patterns) {
    if (pattern.find_first_of("*?[\\") == std::string::npos) {
      unlink.push_back(pattern);
    } else {
      globs.push_back(pattern);
    }
  }
  auto flush = [&]() -> absl::Status {
    if (unlink.size() == 1) return absl::OkStatus();
    ASSIGN_OR_RETURN(Reply deleted, client.Command(unlink));
    RETURN_IF_ERROR(ReplyStatus(deleted));
    removed += deleted.integer;
    unlink.resize(1);
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(flush());
  if (globs.empty()) return removed;
  // One pattern: Redis filters (MATCH). Several: one walk, each key matched here.
  std::vector<std::string> scan = {"SCAN", "0", "COUNT", "5000"};
  if (globs.size() == 1) {
    scan.push_back("MATCH");
    scan.push_back(globs.front());
  }
  do {
    ASSIGN_OR_RETURN(Reply reply, client.Command(scan));
    RETURN_IF_ERROR(ReplyStatus(reply));
    if (reply.elements.size() != 2) return absl::InternalError("redis: unexpected SCAN reply");
    scan[1] = reply.elements[0].str;
    for (const Reply& key : reply.elements[1].elements) {
      const bool matches = globs.size() == 1 ||
                           std::any_of(globs.begin(), globs.end(), [&key](const std::string& glob) {
                             return fnmatch(glob.c_str(), key.str.c_str(), 0) == 0;
                           });
      if (matches) unlink.push_back(key.str);
    }
    RETURN_IF_ERROR(flush());
  } while (scan[1] != "0");
  return removed;
}

}  // namespace meldpunt::redis
