// Events of one case for the intake's unit tests, as the log holds them.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "libs/events/codec.h"
#include "libs/events/ids.h"

namespace meldpunt::intake::testing {

// CaseSubmitted of a REPORT whose reporter is sealed (so a closing puts it in mp:retention).
inline events::Envelope Submitted(const std::string& case_id, absl::Time at) {
  events::Envelope e = events::NewEnvelope(case_id, "intake", at);
  auto* s = e.mutable_case_submitted();
  s->set_reference("MP-2026-" + case_id);
  s->set_submitting_system("web-form");
  s->mutable_draft()->set_kind(types::v1::REPORT);
  s->mutable_draft()->set_channel(types::v1::WEB);
  s->mutable_draft()->set_category("street-lighting");
  s->mutable_draft()->set_description("Street light out");
  s->mutable_draft()->mutable_reporter()->set_sealed("sealed-bytes");
  events::Finish(e, "submitted-" + case_id);
  return e;
}

inline events::Envelope Withdrawn(const std::string& case_id, absl::Time at) {
  events::Envelope e = events::NewEnvelope(case_id, "intake", at);
  e.mutable_case_withdrawn()->set_reason("solved");
  events::Finish(e, "withdrawn-" + case_id);
  return e;
}

inline events::Envelope Routed(const std::string& case_id, absl::Time at) {
  events::Envelope e = events::NewEnvelope(case_id, "routing", at);
  e.mutable_case_routed()->set_department("public-works");
  events::Finish(e, "routed-" + case_id);
  return e;
}

// `n` tells apart the answers of a case answered again after a reopening.
inline events::Envelope Answered(const std::string& case_id, absl::Time at, int n = 1) {
  events::Envelope e = events::NewEnvelope(case_id, "intake", at);
  e.mutable_case_answered()->set_answer("The light is repaired.");
  events::Finish(e, "answered-" + std::to_string(n) + "-" + case_id);
  return e;
}

inline events::Envelope Delivered(const std::string& case_id, absl::Time at) {
  events::Envelope e = events::NewEnvelope(case_id, "notification", at);
  e.mutable_notification_delivered()->set_template_name("answer");
  e.mutable_notification_delivered()->set_recipient("reporter");
  events::Finish(e, "delivered-" + case_id);
  return e;
}

inline events::Envelope Reopened(const std::string& case_id, absl::Time at) {
  events::Envelope e = events::NewEnvelope(case_id, "intake", at);
  e.mutable_case_reopened()->set_reason("not solved");
  events::Finish(e, "reopened-" + case_id);
  return e;
}

}  // namespace meldpunt::intake::testing
