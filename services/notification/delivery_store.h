// What notification remembers, in Redis:
//   mp:notify:sent:{<case>}        set of idempotency keys already handed to the mail server
//   mp:notify:deliveries:{<case>}  list of serialized meldpunt.notification.v1.Delivery records
//   mp:notify:case:{<case>}        the case's CaseSubmitted envelope (reporter and language)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/events/codec.h"
#include "libs/redis/redis.h"
#include "meldpunt/notification/v1/notification.pb.h"

namespace meldpunt::notification {

class DeliveryStore {
 public:
  virtual ~DeliveryStore() = default;
  virtual absl::StatusOr<bool> IsSent(const std::string& case_id, const std::string& key) = 0;
  virtual absl::Status MarkSent(const std::string& case_id, const std::string& key) = 0;
  virtual absl::Status Record(const v1::Delivery& delivery) = 0;
  virtual absl::StatusOr<std::vector<v1::Delivery>> List(const std::string& case_id) = 0;
  // The case's CaseSubmitted envelope, kept for the letters that follow it (reporter, language).
  virtual absl::Status SaveSubmission(const events::Envelope& submitted) = 0;
  virtual absl::StatusOr<std::optional<events::Envelope>> LoadSubmission(
      const std::string& case_id) = 0;
};

class RedisDeliveryStore final : public DeliveryStore {
 public:
  explicit RedisDeliveryStore(redis::Client& redis) : redis_(redis) {}
  absl::StatusOr<bool> IsSent(const std::string& case_id, const std::string& key) override;
  absl::Status MarkSent(const std::string& case_id, const std::string& key) override;
  absl::Status Record(const v1::Delivery& delivery) override;
  absl::StatusOr<std::vector<v1::Delivery>> List(const std::string& case_id) override;
  absl::Status SaveSubmission(const events::Envelope& submitted) override;
  absl::StatusOr<std::optional<events::Envelope>> LoadSubmission(
      const std::string& case_id) override;

 private:
  redis::Client& redis_;
};

}  // namespace meldpunt::notification
