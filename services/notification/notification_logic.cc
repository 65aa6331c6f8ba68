#include "services/notification/notification_logic.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/calendar/calendar.h"
#include "libs/events/ids.h"
#include "libs/observability/log.h"
#include "libs/status/status_macros.h"

namespace meldpunt::notification {
namespace {

namespace t = ::meldpunt::types::v1;

std::string KindLabel(t::CaseKind kind, const std::string& lang) {
  struct Labels {
    const char* nl;
    const char* fr;
    const char* en;
  };
  Labels l{"melding", "signalement", "report"};
  switch (kind) {
    case t::COMPLAINT:
      l = {"klacht", "plainte", "complaint"};
      break;
    case t::SUGGESTION:
      l = {"suggestie", "suggestion", "suggestion"};
      break;
    case t::COMPLIMENT:
      l = {"compliment", "compliment", "compliment"};
      break;
    case t::QUESTION:
      l = {"vraag", "question", "question"};
      break;
    default:
      break;
  }
  return lang == "fr" ? l.fr : lang == "en" ? l.en : l.nl;
}

}  // namespace

std::string LanguageCode(t::Language language) {
  switch (language) {
    case t::FR:
      return "fr";
    case t::EN:
      return "en";
    default:
      return "nl";
  }
}

std::map<std::string, std::string> NotificationLogic::LetterValues(
    const events::Envelope& e) const {
  const auto& s = e.case_submitted();
  const std::string lang = LanguageCode(s.draft().reporter().language());
  const absl::Time submitted = events::GetTime(e.occurred_at());
  std::map<std::string, std::string> values = {
      {"reference", s.reference().empty() ? e.case_id() : s.reference()},
      {"name", s.draft().reporter().name()},
      {"kind_label", KindLabel(s.draft().kind(), lang)},
      {"category", s.draft().category()},
      {"submitted_date", absl::FormatTime("%d/%m/%Y", submitted, calendar::BrusselsTimeZone())},
  };
  auto days = options_.answer_days.find(t::CaseKind_Name(s.draft().kind()));
  if (days != options_.answer_days.end() && days->second > 0) {
    values["expected_answer_date"] = absl::FormatTime(
        "%d/%m/%Y", submitted + absl::Hours(24 * days->second), calendar::BrusselsTimeZone());
  }
  return values;
}

absl::Status NotificationLogic::Handle(const events::Envelope& envelope) {
  switch (envelope.payload_case()) {
    case events::Envelope::kCaseSubmitted:
      RETURN_IF_ERROR(store_.SaveSubmission(envelope));
      return Deliver("acknowledgement",
                     events::DeterministicId(
                         "notify", {envelope.case_id(), "acknowledgement", "email", "reporter"}),
                     envelope, envelope, LetterValues(envelope));
    case events::Envelope::kCaseReferred: {
      ASSIGN_OR_RETURN(std::optional<events::Envelope> submitted,
                       store_.LoadSubmission(envelope.case_id()));
      if (!submitted) return absl::OkStatus();  // submitted before this service kept submissions
      std::map<std::string, std::string> values = LetterValues(*submitted);
      values["referred_to"] = envelope.case_referred().body();
      values["reason"] = envelope.case_referred().reason();
      return Deliver(
          "referral",
          events::DeterministicId("notify", {envelope.case_id(), "referral", envelope.event_id()}),
          envelope, *submitted, values);
    }
    case events::Envelope::kCaseLinked:
    case events::Envelope::kCaseMerged: {
      // The problem is already known: tell the reporter, with the reference of the master case.
      ASSIGN_OR_RETURN(std::optional<events::Envelope> submitted,
                       store_.LoadSubmission(envelope.case_id()));
      if (!submitted) return absl::OkStatus();
      const std::string master = envelope.has_case_linked()
                                     ? envelope.case_linked().master_case_id()
                                     : envelope.case_merged().master_case_id();
      std::map<std::string, std::string> values = LetterValues(*submitted);
      ASSIGN_OR_RETURN(std::optional<events::Envelope> master_submitted,
                       store_.LoadSubmission(master));
      values["master_reference"] =
          master_submitted && !master_submitted->case_submitted().reference().empty()
              ? master_submitted->case_submitted().reference()
              : master;
      return Deliver(
          "duplicate",
          events::DeterministicId("notify", {envelope.case_id(), "duplicate", envelope.event_id()}),
          envelope, *submitted, values);
    }
    default:
      return absl::OkStatus();
  }
}

absl::Status NotificationLogic::Deliver(const std::string& template_name, const std::string& key,
                                        const events::Envelope& envelope,
                                        const events::Envelope& submitted,
                                        const std::map<std::string, std::string>& values) {
  const auto& reporter = submitted.case_submitted().draft().reporter();
  // No e-mail address, no e-mail: other channels (letter, phone) are the Meldpunt team's work.
  if (reporter.anonymous() || reporter.email().empty()) return absl::OkStatus();
  const std::string lang = LanguageCode(reporter.language());
  ASSIGN_OR_RETURN(bool sent, store_.IsSent(envelope.case_id(), key));

  int attempts = 0;
  absl::Status last = absl::OkStatus();
  if (!sent) {
    ASSIGN_OR_RETURN(Rendered letter, templates_.Render(template_name, lang, values));
    Email email{reporter.email(), letter.subject, letter.body, key, envelope.case_id(), lang};
    absl::Duration backoff = options_.first_backoff;
    while (attempts < options_.max_attempts) {
      ++attempts;
      last = mailer_.Send(email);
      if (last.ok() || last.code() != absl::StatusCode::kUnavailable) break;
      log::Warning(
          "e-mail delivery failed",
          {{"case_id", envelope.case_id()}, {"attempt", attempts}, {"error", last.ToString()}});
      if (attempts < options_.max_attempts) {
        sleep_(backoff);
        backoff = std::min(backoff * 2, options_.max_backoff);
      }
    }
    if (last.ok()) RETURN_IF_ERROR(store_.MarkSent(envelope.case_id(), key));
  }

  const absl::Time now = clock_.Now();
  events::Envelope outcome = events::NewEnvelope(envelope.case_id(), "notification", now);
  outcome.set_causation_id(envelope.event_id());
  outcome.set_correlation_id(envelope.correlation_id());
  outcome.mutable_actor()->set_id("service:notification");
  v1::Delivery delivery;
  delivery.set_case_id(envelope.case_id());
  delivery.set_template_name(template_name);
  delivery.set_channel("email");
  delivery.set_recipient("reporter");
  delivery.set_attempts(attempts);
  delivery.set_idempotency_key(key);
  events::SetTime(delivery.mutable_at(), now);
  if (last.ok()) {
    auto* d = outcome.mutable_notification_delivered();
    d->set_template_name(template_name);
    d->set_channel(events::v1::EMAIL);
    d->set_recipient("reporter");
    d->set_idempotency_key(key);
    d->set_attempts(attempts);
    d->set_language(lang);
    events::Finish(outcome, events::DeterministicId("delivered", {key}));
    ASSIGN_OR_RETURN(events::Appended appended, case_log_.Append(outcome, now + absl::Seconds(30)));
    (void)appended;
    delivery.set_status("delivered");
    if (!sent) RETURN_IF_ERROR(store_.Record(delivery));
    log::Info(
        "letter delivered",
        {{"case_id", envelope.case_id()}, {"template", template_name}, {"attempts", attempts}});
    return absl::OkStatus();
  }
  auto* f = outcome.mutable_notification_failed();
  f->set_template_name(template_name);
  f->set_channel(events::v1::EMAIL);
  f->set_recipient("reporter");
  f->set_idempotency_key(key);
  f->set_attempts(attempts);
  f->set_last_error(std::string(last.message()));
  f->set_dead_lettered(true);
  events::Finish(outcome, events::DeterministicId("failed", {key}));
  // Dead letter first: if the service dies in between, the retry appends both again (same ids).
  ASSIGN_OR_RETURN(events::Appended dl, dead_letters_.Append(outcome, now + absl::Seconds(30)));
  ASSIGN_OR_RETURN(events::Appended ev, case_log_.Append(outcome, now + absl::Seconds(30)));
  (void)dl;
  (void)ev;
  delivery.set_status("dead_lettered");
  delivery.set_last_error(std::string(last.message()));
  RETURN_IF_ERROR(store_.Record(delivery));
  log::Error("letter dead-lettered",
             {{"case_id", envelope.case_id()}, {"attempts", attempts}, {"error", last.ToString()}});
  return absl::OkStatus();
}

}  // namespace meldpunt::notification
