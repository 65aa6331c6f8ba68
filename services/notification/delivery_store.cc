#include "services/notification/delivery_store.h"

#include "absl/strings/str_cat.h"
#include "libs/status/status_macros.h"

namespace meldpunt::notification {
namespace {
std::string SentKey(const std::string& c) { return absl::StrCat("mp:notify:sent:{", c, "}"); }
std::string DeliveriesKey(const std::string& c) {
  return absl::StrCat("mp:notify:deliveries:{", c, "}");
}
}  // namespace

absl::StatusOr<bool> RedisDeliveryStore::IsSent(const std::string& case_id,
                                                const std::string& key) {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"SISMEMBER", SentKey(case_id), key}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  return reply.integer == 1;
}

absl::Status RedisDeliveryStore::MarkSent(const std::string& case_id, const std::string& key) {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"SADD", SentKey(case_id), key}));
  return redis::ReplyStatus(reply);
}

absl::Status RedisDeliveryStore::Record(const v1::Delivery& delivery) {
  ASSIGN_OR_RETURN(redis::Reply reply, redis_.Command({"RPUSH", DeliveriesKey(delivery.case_id()),
                                                       delivery.SerializeAsString()}));
  return redis::ReplyStatus(reply);
}

absl::StatusOr<std::vector<v1::Delivery>> RedisDeliveryStore::List(const std::string& case_id) {
  ASSIGN_OR_RETURN(redis::Reply reply,
                   redis_.Command({"LRANGE", DeliveriesKey(case_id), "0", "-1"}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  std::vector<v1::Delivery> out;
  for (const auto& item : reply.elements) {
    v1::Delivery d;
    if (d.ParseFromString(item.str)) out.push_back(std::move(d));
  }
  return out;
}

absl::Status RedisDeliveryStore::SaveSubmission(const events::Envelope& submitted) {
  ASSIGN_OR_RETURN(
      redis::Reply reply,
      redis_.Command({"SET", absl::StrCat("mp:notify:case:{", submitted.case_id(), "}"),
                      events::Encode(submitted)}));
  return redis::ReplyStatus(reply);
}

absl::StatusOr<std::optional<events::Envelope>> RedisDeliveryStore::LoadSubmission(
    const std::string& case_id) {
  ASSIGN_OR_RETURN(redis::Reply reply,
                   redis_.Command({"GET", absl::StrCat("mp:notify:case:{", case_id, "}")}));
  RETURN_IF_ERROR(redis::ReplyStatus(reply));
  if (reply.is_nil()) return std::optional<events::Envelope>();
  ASSIGN_OR_RETURN(events::Envelope e, events::Decode(reply.str));
  return std::optional<events::Envelope>(std::move(e));
}

}  // namespace meldpunt::notification
