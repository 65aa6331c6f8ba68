// The audit trail of personal data: every answer that shows a reporter's personal data is
// recorded on meldpunt.audit.v1 (who, which case, which fields, when, the trace), and the record
// is durable before the answer leaves; no record, no answer (UNAVAILABLE). Every service that
// shows personal data records through it (intake's GetCase, notification's PreviewTemplate).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/auth/auth.h"
#include "libs/kafka/producer.h"
#include "meldpunt/events/v1/audit.pb.h"

namespace meldpunt::audit {

class AuditTrail {
 public:
  virtual ~AuditTrail() = default;
  virtual absl::Status Record(const events::v1::PersonalDataRead& read, absl::Time deadline) = 0;
};

class KafkaAuditTrail final : public AuditTrail {
 public:
  explicit KafkaAuditTrail(kafka::Producer& producer) : producer_(producer) {}
  absl::Status Record(const events::v1::PersonalDataRead& read, absl::Time deadline) override;

 private:
  kafka::Producer& producer_;
};

// The record of `who` reading the personal `fields` of a case through `method` of `producer`
// (the service that answered: "intake", "notification").
events::v1::PersonalDataRead ReadRecord(const auth::Principal& who, absl::string_view method,
                                        const std::string& case_id, std::vector<std::string> fields,
                                        const std::string& trace, absl::Time now,
                                        absl::string_view producer);

}  // namespace meldpunt::audit
