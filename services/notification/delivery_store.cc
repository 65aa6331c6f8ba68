#include "services/notification/delivery_store.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/redis/lease_queue.h"
#include "libs/status/status_macros.h"

namespace meldpunt::notification {
namespace {
std::string JobsKey(const std::string& c) { return absl::StrCat("mp:notify:jobs:{", c, "}"); }
std::string CaseKey(const std::string& c) { return absl::StrCat("mp:notify:case:{", c, "}"); }
std::string Member(const v1::Job& job) {
  return absl::StrCat(job.delivery().case_id(), "|", job.delivery().idempotency_key());
}
std::string Ms(absl::Time t) { return absl::StrCat(absl::ToUnixMillis(t)); }
// When the message's round of attempts started (Delivery.at while it waits), else `due`.
std::string QueuedMs(const v1::Job& job, absl::Time due) {
  return job.delivery().has_at() ? Ms(events::GetTime(job.delivery().at())) : Ms(due);
}

absl::Status AllOk(const std::vector<redis::Reply>& replies) {
  for (const auto& r : replies) RETURN_IF_ERROR(redis::ReplyStatus(r));
  return absl::OkStatus();
}
}  // namespace

std::string RedisDeliveryStore::DueKey(int32_t p) {
  return absl::StrCat("mp:{p", p, "}:notify:due");
}
std::string RedisDeliveryStore::InflightKey(int32_t p) {
  return absl::StrCat("mp:{p", p, "}:notify:inflight");
}
std::string RedisDeliveryStore::QueuedKey(int32_t p) {
  return absl::StrCat("mp:{p", p, "}:notify:queued");
}

absl::StatusOr<bool> RedisDeliveryStore::Enqueue(const v1::Job& job, absl::Time due) {
  const std::string& key = job.delivery().idempotency_key();
  ASSIGN_OR_RETURN(redis::Reply added, redis_.Command({"HSETNX", JobsKey(job.delivery().case_id()),
                                                       key, job.SerializeAsString()}));
  RETURN_IF_ERROR(redis::ReplyStatus(added));
  if (added.integer == 1) {
    ASSIGN_OR_RETURN(std::vector<redis::Reply> replies,
                     redis_.Pipeline({{"ZADD", DueKey(job.partition()), "NX", Ms(due), Member(job)},
                                      {"ZADD", QueuedKey(job.partition()), "NX", QueuedMs(job, due),
                                       Member(job)}}));
    RETURN_IF_ERROR(AllOk(replies));
    return true;
  }
  // Known already. If it never reached the queue (a crash between the two writes), it does now:
  // a job that is neither finished nor queued would never go.
  ASSIGN_OR_RETURN(std::optional<v1::Job> stored, Job(job.delivery().case_id(), key));
  if (stored &&
      (stored->delivery().status() == "pending" || stored->delivery().status() == "retrying")) {
    ASSIGN_OR_RETURN(redis::Reply claimed,
                     redis_.Command({"ZSCORE", InflightKey(job.partition()), Member(job)}));
    if (claimed.is_nil()) {
      ASSIGN_OR_RETURN(
          std::vector<redis::Reply> replies,
          redis_.Pipeline(
              {{"ZADD", DueKey(job.partition()), "NX", Ms(due), Member(job)},
               {"ZADD", QueuedKey(job.partition()), "NX", QueuedMs(*stored, due), Member(job)}}));
      RETURN_IF_ERROR(AllOk(replies));
    }
  }
  return false;
}

absl::StatusOr<std::vector<v1::Job>> RedisDeliveryStore::Claim(int32_t partition, absl::Time now,
                                                               absl::Duration lease, int limit) {
  return std::move(ClaimMany({{partition, limit}}, now, lease)[0]);
}

std::vector<absl::StatusOr<std::vector<v1::Job>>> RedisDeliveryStore::ClaimMany(
    const std::vector<ClaimWant>& wants, absl::Time now, absl::Duration lease) {
  std::vector<absl::StatusOr<std::vector<v1::Job>>> out;
  std::vector<redis::LeaseClaim> claims;
  for (const auto& [partition, limit] : wants)
    claims.push_back({DueKey(partition), InflightKey(partition), limit});
  absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> claimed =
      redis::ClaimLeasedMany(redis_, claims, now, lease);
  if (!claimed.ok())
    return std::vector<absl::StatusOr<std::vector<v1::Job>>>(wants.size(), claimed.status());
  // The records of every member claimed, in one round trip.
  std::vector<std::vector<std::string>> gets;
  for (const auto& members : *claimed) {
    if (!members.ok()) continue;
    for (const std::string& m : *members) {
      const size_t bar = m.find('|');
      gets.push_back(
          {"HGET", JobsKey(m.substr(0, bar)), bar == std::string::npos ? "" : m.substr(bar + 1)});
    }
  }
  absl::StatusOr<std::vector<redis::Reply>> replies =
      gets.empty() ? std::vector<redis::Reply>() : redis_.Pipeline(gets);
  size_t next = 0;
  for (size_t i = 0; i < wants.size(); ++i) {
    const absl::StatusOr<std::vector<std::string>>& members = (*claimed)[i];
    if (!members.ok()) {
      out.push_back(members.status());
      continue;
    }
    if (!replies.ok()) {
      // Claimed but not read: their leases run out and they are claimed again.
      out.push_back(replies.status());
      continue;
    }
    std::vector<v1::Job> jobs;
    for (const std::string& member : *members) {
      const redis::Reply& reply = (*replies)[next++];
      v1::Job job;
      if (reply.is_nil() || !job.ParseFromString(reply.str)) {
        // No record (deleted by hand): drop the entry so it cannot block the queue.
        (void)redis_.Command({"ZREM", InflightKey(wants[i].first), member});
        continue;
      }
      jobs.push_back(std::move(job));
    }
    out.push_back(std::move(jobs));
  }
  return out;
}

absl::Status RedisDeliveryStore::Reschedule(const v1::Job& job, absl::Time due) {
  // One transaction: a claim in between must not see the message both due and in flight (its
  // fresh lease would be removed by our ZREM). The keys share the case's and the partition's slot
  // only on a single Redis; on Redis Cluster the record is written first, then the two queues.
  ASSIGN_OR_RETURN(redis::Reply saved,
                   redis_.Command({"HSET", JobsKey(job.delivery().case_id()),
                                   job.delivery().idempotency_key(), job.SerializeAsString()}));
  RETURN_IF_ERROR(redis::ReplyStatus(saved));
  ASSIGN_OR_RETURN(
      std::vector<redis::Reply> replies,
      redis_.Pipeline({{"MULTI"},
                       {"ZREM", InflightKey(job.partition()), Member(job)},
                       {"ZADD", DueKey(job.partition()), Ms(due), Member(job)},
                       // NX: a retry keeps its place; a retry by hand comes back
                       {"ZADD", QueuedKey(job.partition()), "NX", QueuedMs(job, due), Member(job)},
                       {"EXEC"}}));
  return AllOk(replies);
}

absl::StatusOr<bool> RedisDeliveryStore::AddFinished(const v1::Job& job) {
  ASSIGN_OR_RETURN(redis::Reply added,
                   redis_.Command({"HSETNX", JobsKey(job.delivery().case_id()),
                                   job.delivery().idempotency_key(), job.SerializeAsString()}));
  RETURN_IF_ERROR(redis::ReplyStatus(added));
  return added.integer == 1;
}

absl::Status RedisDeliveryStore::Save(const v1::Job& job) { return SaveAll({job}); }

absl::Status RedisDeliveryStore::Finish(const v1::Job& job) { return FinishAll({job}); }

absl::Status RedisDeliveryStore::SaveAll(const std::vector<v1::Job>& jobs) {
  if (jobs.empty()) return absl::OkStatus();
  std::vector<std::vector<std::string>> commands;
  for (const v1::Job& job : jobs) {
    commands.push_back({"HSET", JobsKey(job.delivery().case_id()), job.delivery().idempotency_key(),
                        job.SerializeAsString()});
  }
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_.Pipeline(commands));
  return AllOk(replies);
}

absl::Status RedisDeliveryStore::FinishAll(const std::vector<v1::Job>& jobs,
                                           const std::vector<bool>& written) {
  if (jobs.empty()) return absl::OkStatus();
  // The records first, then the queues, one ZREM a queue for all its messages: a crash in between
  // leaves a finished record still queued, as a crash between one job's two writes would.
  std::vector<std::vector<std::string>> commands;
  std::vector<std::vector<std::string>> removals;
  absl::flat_hash_map<int32_t, size_t> removals_at;  // partition -> its first ZREM in `removals`
  for (size_t i = 0; i < jobs.size(); ++i) {
    const v1::Job& job = jobs[i];
    if (i >= written.size() || !written[i]) {
      commands.push_back({"HSET", JobsKey(job.delivery().case_id()),
                          job.delivery().idempotency_key(), job.SerializeAsString()});
    }
    auto [at, first] = removals_at.try_emplace(job.partition(), removals.size());
    if (first) {
      removals.push_back({"ZREM", InflightKey(job.partition())});
      removals.push_back({"ZREM", DueKey(job.partition())});
      removals.push_back({"ZREM", QueuedKey(job.partition())});
    }
    const std::string member = Member(job);
    for (size_t q = 0; q < 3; ++q) removals[at->second + q].push_back(member);
  }
  for (auto& removal : removals) commands.push_back(std::move(removal));
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_.Pipeline(commands));
  return AllOk(replies);
}

absl::StatusOr<std::vector<v1::Job>> RedisDeliveryStore::Jobs(const std::string& case_id) {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"HGETALL", JobsKey(case_id)}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  std::vector<v1::Job> out;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    v1::Job job;
    if (job.ParseFromString(reply.elements[i + 1].str)) out.push_back(std::move(job));
  }
  return out;
}

absl::StatusOr<std::optional<v1::Job>> RedisDeliveryStore::Job(const std::string& case_id,
                                                               const std::string& key) {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"HGET", JobsKey(case_id), key}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  if (reply.is_nil()) return std::nullopt;
  v1::Job job;
  if (!job.ParseFromString(reply.str)) return absl::DataLossError("unreadable outbox record");
  return job;
}

absl::StatusOr<std::map<DeliveryStore::JobKey, std::optional<v1::Job>>> RedisDeliveryStore::JobsOf(
    const std::vector<JobKey>& keys) {
  std::map<JobKey, std::optional<v1::Job>> out;
  // One HMGET a case, for all its messages asked for.
  std::vector<std::vector<JobKey>> asked;  // each command's keys, in its fields' order
  std::vector<std::vector<std::string>> commands;
  absl::flat_hash_map<std::string, size_t> command_of;  // case -> its HMGET in `commands`
  for (const JobKey& key : keys) {
    if (!out.emplace(key, std::nullopt).second) continue;
    auto [at, first] = command_of.try_emplace(key.first, commands.size());
    if (first) {
      commands.push_back({"HMGET", JobsKey(key.first)});
      asked.emplace_back();
    }
    commands[at->second].push_back(key.second);
    asked[at->second].push_back(key);
  }
  if (commands.empty()) return out;
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_.Pipeline(commands));
  RETURN_IF_ERROR(AllOk(replies));
  for (size_t c = 0; c < replies.size(); ++c) {
    if (replies[c].elements.size() != asked[c].size())
      return absl::InternalError("redis: HMGET gave another number of fields");
    for (size_t f = 0; f < asked[c].size(); ++f) {
      const redis::Reply& reply = replies[c].elements[f];
      if (reply.is_nil()) continue;
      v1::Job job;
      if (!job.ParseFromString(reply.str)) {
        out.erase(asked[c][f]);  // read alone (Job), it fails only what needs it
        continue;
      }
      out[asked[c][f]] = std::move(job);
    }
  }
  return out;
}

absl::StatusOr<int64_t> RedisDeliveryStore::Waiting(int32_t partition) {
  ASSIGN_OR_RETURN(
      std::vector<redis::Reply> replies,
      redis_.Pipeline({{"ZCARD", DueKey(partition)}, {"ZCARD", InflightKey(partition)}}));
  RETURN_IF_ERROR(AllOk(replies));
  return replies[0].integer + replies[1].integer;
}

absl::StatusOr<std::optional<absl::Time>> RedisDeliveryStore::OldestQueued(int32_t partition) {
  // An entry whose message is neither due nor in flight is stale (finished by a replica of a
  // release without this set, or its record deleted by hand): dropped, so the age stays true.
  for (int tries = 0; tries < 20; ++tries) {
    ASSIGN_OR_RETURN(redis::Reply oldest,
                     redis_.Command({"ZRANGE", QueuedKey(partition), "0", "0", "WITHSCORES"}));
    RETURN_IF_ERROR(redis::ReplyStatus(oldest));
    if (oldest.elements.size() < 2) return std::optional<absl::Time>();
    const std::string& member = oldest.elements[0].str;
    double ms = 0;  // a score, as Redis writes a double
    if (!absl::SimpleAtod(oldest.elements[1].str, &ms)) {
      return absl::DataLossError("unreadable score in the queue of queued times");
    }
    ASSIGN_OR_RETURN(std::vector<redis::Reply> found,
                     redis_.Pipeline({{"ZSCORE", DueKey(partition), member},
                                      {"ZSCORE", InflightKey(partition), member}}));
    RETURN_IF_ERROR(AllOk(found));
    if (!found[0].is_nil() || !found[1].is_nil()) {
      return std::optional<absl::Time>(absl::FromUnixMillis(static_cast<int64_t>(ms)));
    }
    ASSIGN_OR_RETURN(redis::Reply removed, redis_.Command({"ZREM", QueuedKey(partition), member}));
    RETURN_IF_ERROR(redis::ReplyStatus(removed));
  }
  return absl::UnavailableError("the queue of queued times has many stale entries; next time");
}

absl::Status RedisDeliveryStore::SaveSubmission(const events::Envelope& submitted) {
  ASSIGN_OR_RETURN(redis::Reply reply,
                   redis_.Command({"HSET", CaseKey(submitted.case_id()), "submitted",
                                   submitted.SerializeAsString()}));
  return redis::ReplyStatus(reply);
}

absl::StatusOr<std::optional<events::Envelope>> RedisDeliveryStore::LoadSubmission(
    const std::string& case_id) {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"HGET", CaseKey(case_id), "submitted"}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  if (reply.is_nil()) return std::nullopt;
  events::Envelope e;
  if (!e.ParseFromString(reply.str)) return absl::DataLossError("unreadable submission");
  return e;
}

absl::Status RedisDeliveryStore::SetDepartment(const std::string& case_id,
                                               const std::string& dept) {
  ASSIGN_OR_RETURN(redis::Reply reply,
                   redis_.Command({"HSET", CaseKey(case_id), "department", dept}));
  return redis::ReplyStatus(reply);
}

absl::StatusOr<std::string> RedisDeliveryStore::Department(const std::string& case_id) {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"HGET", CaseKey(case_id), "department"}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  return reply.is_nil() ? std::string() : reply.str;
}

absl::StatusOr<std::map<DeliveryStore::JobKey, std::optional<v1::Job>>> DeliveryStore::JobsOf(
    const std::vector<JobKey>& keys) {
  std::map<JobKey, std::optional<v1::Job>> out;
  for (const JobKey& key : keys) {
    if (out.count(key)) continue;
    absl::StatusOr<std::optional<v1::Job>> job = Job(key.first, key.second);
    if (absl::IsDataLoss(job.status())) continue;  // left out, as the Redis one does
    RETURN_IF_ERROR(job.status());
    out.emplace(key, *std::move(job));
  }
  return out;
}

std::vector<absl::StatusOr<std::vector<v1::Job>>> DeliveryStore::ClaimMany(
    const std::vector<ClaimWant>& wants, absl::Time now, absl::Duration lease) {
  std::vector<absl::StatusOr<std::vector<v1::Job>>> out;
  for (const auto& [partition, limit] : wants) out.push_back(Claim(partition, now, lease, limit));
  return out;
}

absl::Status DeliveryStore::SaveAll(const std::vector<v1::Job>& jobs) {
  for (const v1::Job& job : jobs) RETURN_IF_ERROR(Save(job));
  return absl::OkStatus();
}

absl::StatusOr<bool> DeliveryStore::AddFinished(const v1::Job& job) {
  ASSIGN_OR_RETURN(std::optional<v1::Job> stored,
                   Job(job.delivery().case_id(), job.delivery().idempotency_key()));
  if (stored) return false;
  RETURN_IF_ERROR(Save(job));
  return true;
}

absl::Status DeliveryStore::FinishAll(const std::vector<v1::Job>& jobs,
                                      const std::vector<bool>& /*written*/) {
  for (const v1::Job& job : jobs) RETURN_IF_ERROR(Finish(job));
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, DeliveryStore::CaseInfo>> DeliveryStore::LoadCases(
    const std::vector<std::string>& case_ids) {
  std::map<std::string, CaseInfo> out;
  for (const std::string& id : case_ids) {
    if (out.count(id)) continue;
    CaseInfo info;
    absl::StatusOr<std::optional<events::Envelope>> submitted = LoadSubmission(id);
    if (absl::IsDataLoss(submitted.status())) continue;  // left out, as the Redis one does
    RETURN_IF_ERROR(submitted.status());
    info.submitted = *std::move(submitted);
    ASSIGN_OR_RETURN(info.department, Department(id));
    out.emplace(id, std::move(info));
  }
  return out;
}

absl::StatusOr<std::vector<bool>> DeliveryStore::WriteAll(const std::vector<Write>& writes) {
  std::vector<bool> queued(writes.size(), false);
  for (size_t i = 0; i < writes.size(); ++i) {
    const Write& w = writes[i];
    switch (w.kind) {
      case Write::Kind::kSubmission:
        RETURN_IF_ERROR(SaveSubmission(w.submitted));
        break;
      case Write::Kind::kDepartment:
        RETURN_IF_ERROR(SetDepartment(w.case_id, w.department));
        break;
      case Write::Kind::kEnqueue: {
        ASSIGN_OR_RETURN(bool added, Enqueue(w.job, w.due));
        queued[i] = added;
        break;
      }
      case Write::Kind::kFinished: {
        ASSIGN_OR_RETURN(bool added, AddFinished(w.job));
        queued[i] = added;
        break;
      }
    }
  }
  return queued;
}

absl::StatusOr<std::map<std::string, DeliveryStore::CaseInfo>> RedisDeliveryStore::LoadCases(
    const std::vector<std::string>& case_ids) {
  std::map<std::string, CaseInfo> out;
  std::vector<std::string> unique;
  std::vector<std::vector<std::string>> commands;
  for (const std::string& id : case_ids) {
    if (!out.emplace(id, CaseInfo()).second) continue;
    unique.push_back(id);
    commands.push_back({"HMGET", CaseKey(id), "submitted", "department"});
  }
  if (commands.empty()) return out;
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_.Pipeline(commands));
  RETURN_IF_ERROR(AllOk(replies));
  for (size_t i = 0; i < replies.size(); ++i) {
    CaseInfo& info = out[unique[i]];
    const redis::Reply& reply = replies[i];
    if (reply.elements.size() != 2) return absl::InternalError("redis: HMGET gave no pair");
    if (!reply.elements[0].is_nil()) {
      events::Envelope e;
      if (!e.ParseFromString(reply.elements[0].str)) {
        // Left out: read alone (LoadSubmission), it fails its own event, not the others'.
        out.erase(unique[i]);
        continue;
      }
      info.submitted = std::move(e);
    }
    if (!reply.elements[1].is_nil()) info.department = reply.elements[1].str;
  }
  return out;
}

absl::StatusOr<std::vector<bool>> RedisDeliveryStore::WriteAll(const std::vector<Write>& writes) {
  std::vector<bool> queued(writes.size(), false);
  // First round trip: the records, in order; a message's record only if it is new (HSETNX).
  std::vector<std::vector<std::string>> commands;
  commands.reserve(writes.size());
  for (const Write& w : writes) {
    switch (w.kind) {
      case Write::Kind::kSubmission:
        commands.push_back(
            {"HSET", CaseKey(w.submitted.case_id()), "submitted", w.submitted.SerializeAsString()});
        break;
      case Write::Kind::kDepartment:
        commands.push_back({"HSET", CaseKey(w.case_id), "department", w.department});
        break;
      case Write::Kind::kEnqueue:
      case Write::Kind::kFinished:
        commands.push_back({"HSETNX", JobsKey(w.job.delivery().case_id()),
                            w.job.delivery().idempotency_key(), w.job.SerializeAsString()});
        break;
    }
  }
  if (commands.empty()) return queued;
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_.Pipeline(commands));
  RETURN_IF_ERROR(AllOk(replies));
  // Second: the new messages into their partition's queue.
  std::vector<std::vector<std::string>> queue;
  for (size_t i = 0; i < writes.size(); ++i) {
    const Write& w = writes[i];
    if (w.kind == Write::Kind::kFinished) {
      queued[i] = replies[i].integer == 1;  // finished: queued nowhere, known or not
      continue;
    }
    if (w.kind != Write::Kind::kEnqueue) continue;
    if (replies[i].integer == 1) {
      queued[i] = true;
      queue.push_back({"ZADD", DueKey(w.job.partition()), "NX", Ms(w.due), Member(w.job)});
      queue.push_back(
          {"ZADD", QueuedKey(w.job.partition()), "NX", QueuedMs(w.job, w.due), Member(w.job)});
    }
  }
  if (!queue.empty()) {
    ASSIGN_OR_RETURN(std::vector<redis::Reply> added, redis_.Pipeline(queue));
    RETURN_IF_ERROR(AllOk(added));
  }
  // Known before (the event came again, or a rebuild replays it): queued now if a crash left it
  // recorded but not queued, as Enqueue does for one, in two more round trips for all of them:
  // each record and whether it is in flight, then the queues of the ones still to send.
  std::vector<size_t> known;
  std::vector<std::vector<std::string>> looks;
  for (size_t i = 0; i < writes.size(); ++i) {
    if (writes[i].kind != Write::Kind::kEnqueue || queued[i]) continue;
    const v1::Job& job = writes[i].job;
    known.push_back(i);
    looks.push_back({"HGET", JobsKey(job.delivery().case_id()), job.delivery().idempotency_key()});
    looks.push_back({"ZSCORE", InflightKey(job.partition()), Member(job)});
  }
  if (known.empty()) return queued;
  ASSIGN_OR_RETURN(std::vector<redis::Reply> seen, redis_.Pipeline(looks));
  RETURN_IF_ERROR(AllOk(seen));
  std::vector<std::vector<std::string>> requeue;
  for (size_t k = 0; k < known.size(); ++k) {
    const Write& w = writes[known[k]];
    const redis::Reply& record = seen[2 * k];
    if (record.is_nil()) continue;
    v1::Job stored;
    if (!stored.ParseFromString(record.str)) return absl::DataLossError("unreadable outbox record");
    const std::string& status = stored.delivery().status();
    if ((status != "pending" && status != "retrying") || !seen[2 * k + 1].is_nil()) continue;
    requeue.push_back({"ZADD", DueKey(w.job.partition()), "NX", Ms(w.due), Member(w.job)});
    requeue.push_back(
        {"ZADD", QueuedKey(w.job.partition()), "NX", QueuedMs(stored, w.due), Member(w.job)});
  }
  if (!requeue.empty()) {
    ASSIGN_OR_RETURN(std::vector<redis::Reply> added, redis_.Pipeline(requeue));
    RETURN_IF_ERROR(AllOk(added));
  }
  return queued;
}

}  // namespace meldpunt::notification
