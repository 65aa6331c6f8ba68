#include "libs/service/dead_letters.h"

#include <map>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/events/dead_letters.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/grpc/status.h"
#include "libs/observability/log.h"
#include "libs/service/wiring.h"
#include "libs/status/retry.h"
#include "libs/status/status_macros.h"

namespace meldpunt::service {

absl::StatusOr<std::vector<ops::v1::DeadLetterEntry>> ReadDeadLetters(
    const config::ServiceConfig& config, const std::string& group, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const std::string prefix = absl::StrCat(group.empty() ? "meldpunt" : group, "-dlq-read");
  ASSIGN_OR_RETURN(auto reader,
                   MakeConsumer(config, {.brokers = {},  // MakeConsumer's, from `config`
                                         .group_id = events::RandomId(prefix),
                                         .topics = {events::kCaseEventsDeadLetterTopic},
                                         .client_id = prefix,
                                         .extra = {}}));
  std::map<int32_t, int64_t> remaining;  // partition -> high watermark still to reach
  ASSIGN_OR_RETURN(int partitions,
                   reader->PartitionCount(events::kCaseEventsDeadLetterTopic, absl::Seconds(10)));
  for (int32_t p = 0; p < partitions; ++p) {
    ASSIGN_OR_RETURN(auto marks,
                     reader->Watermarks(events::kCaseEventsDeadLetterTopic, p, absl::Seconds(10)));
    // Nothing to read where retention left nothing (low == high).
    if (marks.second > marks.first) remaining[p] = marks.second;
  }
  std::vector<ops::v1::DeadLetterEntry> entries;
  std::map<std::string, size_t> index;  // dead_letter_id -> entries[i]
  while (!remaining.empty()) {
    if (absl::Now() > deadline) {
      reader->Close();
      return status::InPlace(
          absl::DeadlineExceededError("reading the dead-letter topic to its end took too long"));
    }
    ASSIGN_OR_RETURN(std::optional<kafka::Record> record, reader->Poll(absl::Milliseconds(200)));
    if (!record) continue;
    if (auto it = remaining.find(record->partition);
        it != remaining.end() && record->offset + 1 >= it->second) {
      remaining.erase(it);
    }
    events::v1::DeadLetterRecord entry;
    if (!entry.ParseFromString(record->value)) {
      log::Warning("a record of the dead-letter topic is not a DeadLetterRecord",
                   {{"offset", record->offset}});
      continue;
    }
    if (entry.has_dead_letter()) {
      const events::v1::DeadLetter& dead = entry.dead_letter();
      if (!group.empty() && dead.consumer_group() != group) continue;
      auto [it, fresh] = index.emplace(dead.dead_letter_id(), entries.size());
      if (fresh) entries.emplace_back();
      // Set aside again (the record came twice): the entry is open again, with the last error.
      ops::v1::DeadLetterEntry& e = entries[it->second];
      *e.mutable_dead_letter() = dead;
      e.set_open(true);
    } else if (entry.has_action()) {
      auto it = index.find(entry.action().dead_letter_id());
      if (it == index.end()) continue;
      ops::v1::DeadLetterEntry& e = entries[it->second];
      *e.add_actions() = entry.action();
      if (entry.action().kind() == events::v1::DeadLetterAction::REPLAYED ||
          entry.action().kind() == events::v1::DeadLetterAction::DROPPED) {
        e.set_open(false);
      }
    }
  }
  reader->Close();
  return entries;
}

DeadLetters MakeDeadLetters(const config::ServiceConfig& config, const auth::Guard& guard,
                            kafka::Producer& producer, const std::string& service,
                            const std::string& group, events::EventHandler handler) {
  DeadLetters out;
  out.sink = std::make_unique<events::KafkaDeadLetters>(producer, service, group);
  out.service = std::make_unique<DeadLetterService>(config, guard, producer, service, group,
                                                    std::move(handler));
  return out;
}

DeadLetterService::DeadLetterService(const config::ServiceConfig& config, const auth::Guard& guard,
                                     kafka::Producer& producer, std::string service,
                                     std::string group, events::EventHandler replay)
    : config_(config),
      guard_(guard),
      producer_(producer),
      service_(std::move(service)),
      group_(std::move(group)),
      replay_(std::move(replay)) {}

absl::StatusOr<ops::v1::ListDeadLettersResponse> DeadLetterService::List(bool include_closed) {
  ASSIGN_OR_RETURN(std::vector<ops::v1::DeadLetterEntry> entries,
                   ReadDeadLetters(config_, group_, absl::Seconds(30)));
  ops::v1::ListDeadLettersResponse response;
  for (ops::v1::DeadLetterEntry& entry : entries) {
    if (entry.open()) response.set_open(response.open() + 1);
    if (!entry.open() && !include_closed) continue;
    entry.mutable_dead_letter()->clear_record_value();
    *response.add_entries() = std::move(entry);
  }
  return response;
}

absl::StatusOr<ops::v1::DeadLetterEntry> DeadLetterService::OpenEntry(const std::string& id) {
  if (id.empty()) return grpc_util::FieldError("dead_letter_id", "is required");
  ASSIGN_OR_RETURN(std::vector<ops::v1::DeadLetterEntry> entries,
                   ReadDeadLetters(config_, group_, absl::Seconds(30)));
  for (ops::v1::DeadLetterEntry& entry : entries) {
    if (entry.dead_letter().dead_letter_id() != id) continue;
    if (!entry.open()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "dead letter ", id, " is closed already (",
          events::v1::DeadLetterAction::Kind_Name(entry.actions(entry.actions_size() - 1).kind()),
          ")"));
    }
    return std::move(entry);
  }
  return absl::NotFoundError(
      absl::StrCat("dead letter ", id, ": not on the dead-letter topic of ", service_));
}

absl::StatusOr<events::v1::DeadLetterAction> DeadLetterService::Record(
    const auth::Principal& who, const std::string& id, events::v1::DeadLetterAction::Kind kind,
    const std::string& reason) {
  events::v1::DeadLetterRecord record;
  events::v1::DeadLetterAction& action = *record.mutable_action();
  action.set_dead_letter_id(id);
  action.set_kind(kind);
  action.set_reason(reason);
  action.set_actor(who.subject);
  action.set_role(std::string(auth::RoleName(who.role)));
  events::SetTime(action.mutable_at(), absl::Now());
  action.set_service(service_);
  ASSIGN_OR_RETURN(kafka::Delivered sent, producer_.Send(events::DeadLetterMessage(record),
                                                         absl::Now() + absl::Seconds(10)));
  (void)sent;
  log::Info("dead letter action", {{"dead_letter_id", id},
                                   {"action", events::v1::DeadLetterAction::Kind_Name(kind)},
                                   {"actor", who.subject},
                                   {"role", auth::RoleName(who.role)},
                                   {"reason", reason}});
  return action;
}

absl::StatusOr<events::v1::DeadLetterAction> DeadLetterService::Replay(const auth::Principal& who,
                                                                       const std::string& id) {
  ASSIGN_OR_RETURN(ops::v1::DeadLetterEntry entry, OpenEntry(id));
  const events::v1::DeadLetter& dead = entry.dead_letter();
  absl::StatusOr<events::Envelope> envelope = events::Decode(dead.record_value());
  if (!envelope.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("dead letter ", id, ": the record cannot be decoded (",
                     envelope.status().message(), "); it can only be dropped"));
  }
  kafka::Record record;
  record.topic = dead.source_topic();
  record.partition = dead.source_partition();
  record.offset = dead.source_offset();
  record.key = dead.record_key();
  record.value = dead.record_value();
  record.timestamp = events::GetTime(dead.record_timestamp());
  // An outage is waited out for a while, as the consume loop would; anything else answers now.
  absl::Status handled = replay_(*envelope, record);
  for (absl::Duration backoff = absl::Milliseconds(100);
       !handled.ok() && status::RetryOf(handled) == status::Retry::kInPlace &&
       backoff < absl::Seconds(3);
       backoff *= 2) {
    absl::SleepFor(backoff);
    handled = replay_(*envelope, record);
  }
  if (!handled.ok()) {
    RETURN_IF_ERROR(
        Record(who, id, events::v1::DeadLetterAction::REPLAY_FAILED,
               absl::StrCat(absl::StatusCodeToString(handled.code()), ": ", handled.message()))
            .status());
    return absl::FailedPreconditionError(absl::StrCat(
        "dead letter ", id, ": the replay failed again, it stays open: ", handled.message()));
  }
  return Record(who, id, events::v1::DeadLetterAction::REPLAYED, "");
}

absl::StatusOr<events::v1::DeadLetterAction> DeadLetterService::Drop(const auth::Principal& who,
                                                                     const std::string& id,
                                                                     const std::string& reason) {
  if (id.empty()) return grpc_util::FieldError("dead_letter_id", "is required");
  if (reason.empty() || reason.size() > 1000) {
    return grpc_util::FieldError("reason",
                                 "is required: 1 to 1000 characters of why the record "
                                 "may stay unhandled");
  }
  RETURN_IF_ERROR(OpenEntry(id).status());
  return Record(who, id, events::v1::DeadLetterAction::DROPPED, reason);
}

grpc::Status DeadLetterService::ListDeadLetters(grpc::ServerContext* context,
                                                const ops::v1::ListDeadLettersRequest* request,
                                                ops::v1::ListDeadLettersResponse* response) {
  absl::StatusOr<auth::Principal> who = guard_.Admit(*context, auth::methods::kListDeadLetters);
  if (!who.ok()) return grpc_util::ToGrpcStatus(who.status());
  absl::StatusOr<ops::v1::ListDeadLettersResponse> listed = List(request->include_closed());
  if (!listed.ok()) return grpc_util::ToGrpcStatus(listed.status());
  *response = *std::move(listed);
  return grpc::Status::OK;
}

grpc::Status DeadLetterService::ReplayDeadLetter(grpc::ServerContext* context,
                                                 const ops::v1::ReplayDeadLetterRequest* request,
                                                 ops::v1::ReplayDeadLetterResponse* response) {
  absl::StatusOr<auth::Principal> who = guard_.Admit(*context, auth::methods::kReplayDeadLetter);
  if (!who.ok()) return grpc_util::ToGrpcStatus(who.status());
  absl::StatusOr<events::v1::DeadLetterAction> done = Replay(*who, request->dead_letter_id());
  if (!done.ok()) return grpc_util::ToGrpcStatus(done.status());
  *response->mutable_action() = *std::move(done);
  return grpc::Status::OK;
}

grpc::Status DeadLetterService::DropDeadLetter(grpc::ServerContext* context,
                                               const ops::v1::DropDeadLetterRequest* request,
                                               ops::v1::DropDeadLetterResponse* response) {
  absl::StatusOr<auth::Principal> who = guard_.Admit(*context, auth::methods::kDropDeadLetter);
  if (!who.ok()) return grpc_util::ToGrpcStatus(who.status());
  absl::StatusOr<events::v1::DeadLetterAction> done =
      Drop(*who, request->dead_letter_id(), request->reason());
  if (!done.ok()) return grpc_util::ToGrpcStatus(done.status());
  *response->mutable_action() = *std::move(done);
  return grpc::Status::OK;
}

}  // namespace meldpunt::service
