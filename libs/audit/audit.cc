#include "libs/audit/audit.h"

#include "libs/events/codec.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"

namespace meldpunt::audit {

absl::Status KafkaAuditTrail::Record(const events::v1::PersonalDataRead& read,
                                     absl::Time deadline) {
  absl::StatusOr<kafka::Delivered> sent =
      producer_.Send({events::kAuditTopic,
                      read.case_id(),
                      read.SerializeAsString(),
                      {{"audit-id", read.audit_id()}, {"trace-id", read.trace_id()}}},
                     deadline);
  if (!sent.ok()) {
    return absl::UnavailableError(absl::StrCat("the read of personal data could not be audited (",
                                               sent.status().message(), "): not answered; retry"));
  }
  return absl::OkStatus();
}

events::v1::PersonalDataRead ReadRecord(const auth::Principal& who, absl::string_view method,
                                        const std::string& case_id, std::vector<std::string> fields,
                                        const std::string& trace, absl::Time now,
                                        absl::string_view producer) {
  events::v1::PersonalDataRead read;
  read.set_audit_id(events::RandomId("audit"));
  read.set_case_id(case_id);
  read.set_subject(who.subject);
  read.set_role(std::string(who.authenticated ? auth::RoleName(who.role) : "unauthenticated"));
  read.set_method(std::string(method));
  for (std::string& f : fields) read.add_fields(std::move(f));
  events::SetTime(read.mutable_at(), now);
  read.set_trace_id(trace);
  read.set_producer(std::string(producer));
  return read;
}

}  // namespace meldpunt::audit
