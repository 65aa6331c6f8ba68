#include "services/notification/notification_logic.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "libs/calendar/calendar.h"
#include "libs/config/config.h"
#include "libs/domain/disclosure.h"
#include "libs/events/ids.h"
#include "libs/observability/log.h"
#include "libs/status/status_macros.h"
#include "nlohmann/json.hpp"
#include "services/notification/delivery_error.h"
#include "services/notification/html_letter.h"

namespace meldpunt::notification {
namespace {

// How far in the future a message queued during a rebuild is scheduled (Release makes it due).
constexpr absl::Duration kHeld = absl::Hours(24 * 365);

constexpr char kErased[] = "cancelled: the reporter's data was erased";

// What a sealed letter is bound to besides its case, so that it never opens as another sealed
// value of the case (the reporter).
std::string LetterAad(const std::string& case_id) { return absl::StrCat("letter:", case_id); }

namespace t = ::meldpunt::types::v1;

std::string Pick(const std::string& lang, const char* nl, const char* fr, const char* en) {
  return lang == "fr" ? fr : lang == "en" ? en : nl;
}

std::string KindLabel(t::CaseKind kind, const std::string& lang) {
  switch (kind) {
    case t::COMPLAINT:
      return Pick(lang, "klacht", "plainte", "complaint");
    case t::SUGGESTION:
      return Pick(lang, "suggestie", "suggestion", "suggestion");
    case t::COMPLIMENT:
      return Pick(lang, "compliment", "compliment", "compliment");
    case t::QUESTION:
      return Pick(lang, "vraag", "question", "question");
    default:
      return Pick(lang, "melding", "signalement", "report");
  }
}

std::string GroundLabel(events::v1::InadmissibilityGround g, const std::string& lang) {
  switch (g) {
    case events::v1::IDENTITY_UNKNOWN:
      return Pick(lang, "de identiteit van de klager is niet gekend",
                  "l'identité du plaignant n'est pas connue",
                  "the complainant's identity is not known");
    case events::v1::FACTS_OLDER_THAN_ONE_YEAR:
      return Pick(lang, "de feiten dateren van meer dan een jaar voor de klacht",
                  "les faits datent de plus d'un an avant la plainte",
                  "the facts date from more than a year before the complaint");
    case events::v1::ALREADY_HANDLED:
      return Pick(lang, "dezelfde feiten werden al behandeld",
                  "les mêmes faits ont déjà été traités", "the same facts were already handled");
    case events::v1::MANIFESTLY_UNFOUNDED:
      return Pick(lang, "de klacht is kennelijk ongegrond",
                  "la plainte est manifestement non fondée",
                  "the complaint is manifestly unfounded");
    case events::v1::NO_INTEREST:
      return Pick(lang, "de klager heeft geen belang", "le plaignant n'a pas d'intérêt",
                  "the complainant has no interest");
    case events::v1::OTHER_PROCEDURE:
      return Pick(lang, "een andere beroepsprocedure staat open of werd niet gebruikt",
                  "une autre procédure de recours est ouverte ou n'a pas été utilisée",
                  "another appeal procedure is open or was not used");
    default:
      return Pick(lang, "andere", "autre", "other");
  }
}

std::string OutcomeLabel(events::v1::ComplaintOutcome o, const std::string& lang) {
  switch (o) {
    case events::v1::FOUNDED:
      return Pick(lang, "gegrond", "fondée", "founded");
    case events::v1::PARTLY_FOUNDED:
      return Pick(lang, "deels gegrond", "partiellement fondée", "partly founded");
    case events::v1::UNFOUNDED:
      return Pick(lang, "ongegrond", "non fondée", "unfounded");
    default:
      return "";
  }
}

std::string PriorityLabel(t::Priority p, const std::string& lang) {
  switch (p) {
    case t::URGENT:
      return Pick(lang, "dringend", "urgent", "urgent");
    case t::HIGH:
      return Pick(lang, "hoog", "élevée", "high");
    case t::LOW:
      return Pick(lang, "laag", "basse", "low");
    default:
      return Pick(lang, "normaal", "normale", "normal");
  }
}

t::Language LanguageOf(const std::string& lang) {
  return lang == "fr" ? t::FR : lang == "en" ? t::EN : t::NL;
}

// A clock's name in words; a clock this service does not know is "the term", never its id.
std::string ClockLabel(const std::string& clock, const std::string& lang) {
  if (clock == "acknowledge")
    return Pick(lang, "ontvangstmelding", "accusé de réception", "acknowledgement");
  if (clock == "admissibility")
    return Pick(lang, "ontvankelijkheid", "recevabilité", "admissibility decision");
  if (clock == "department_acceptance")
    return Pick(lang, "aanvaarding door de dienst", "acceptation par le service",
                "acceptance by the department");
  if (clock == "answer") return Pick(lang, "antwoord", "réponse", "answer");
  if (clock == "resolve") return Pick(lang, "afhandeling", "traitement", "resolution");
  return Pick(lang, "behandeling", "traitement", "handling");
}

// ClockExtended's term ("10d", "2wd", "16wh", "48h") in words; empty for anything else (the letter
// then names only the new date).
std::string TermLabel(const std::string& term, const std::string& lang) {
  size_t digits = 0;
  while (digits < term.size() && absl::ascii_isdigit(static_cast<unsigned char>(term[digits])))
    ++digits;
  if (digits == 0 || digits > 4) return "";
  const std::string n = term.substr(0, digits);
  const std::string unit = term.substr(digits);
  const bool one = n == "1";
  if (unit == "d")
    return absl::StrCat(
        n, " ", Pick(lang, one ? "dag" : "dagen", one ? "jour" : "jours", one ? "day" : "days"));
  if (unit == "wd")
    return absl::StrCat(
        n, " ",
        Pick(lang, one ? "werkdag" : "werkdagen", one ? "jour ouvrable" : "jours ouvrables",
             one ? "working day" : "working days"));
  if (unit == "wh")
    return absl::StrCat(n, " ",
                        Pick(lang, "werkuur", one ? "heure ouvrable" : "heures ouvrables",
                             one ? "working hour" : "working hours"));
  if (unit == "h")
    return absl::StrCat(n, " ",
                        Pick(lang, "uur", one ? "heure" : "heures", one ? "hour" : "hours"));
  return "";
}

// The last day of a term for "at the latest on <date>": a due time at midnight (a term counted in
// days ends at the start of the next day) is the day before.
std::string LastDay(absl::Time due) {
  const absl::TimeZone zone = calendar::BrusselsTimeZone();
  const absl::CivilSecond local = absl::ToCivilSecond(due, zone);
  if (local.hour() == 0 && local.minute() == 0 && local.second() == 0) due -= absl::Hours(12);
  return absl::FormatTime("%d/%m/%Y", due, zone);
}

std::string Date(absl::Time t) {
  return absl::FormatTime("%d/%m/%Y", t, calendar::BrusselsTimeZone());
}
std::string DateTime(absl::Time t) {
  return absl::FormatTime("%d/%m/%Y %H:%M", t, calendar::BrusselsTimeZone());
}

}  // namespace

std::string RecipientHint(const std::string& channel, const std::string& address) {
  if (address.empty()) return "";
  if (channel == "webhook") {
    const size_t scheme = address.find("://");
    if (scheme == std::string::npos) return "";
    const size_t end = address.find_first_of("/?#", scheme + 3);
    return address.substr(0, end);
  }
  const size_t at = address.rfind('@');
  if (at == std::string::npos || at == 0) return "***";
  return absl::StrCat(address.substr(0, 1), "***", address.substr(at));
}

std::string ScrubAddress(std::string text, const std::string& address) {
  if (address.empty()) return text;
  const std::string lower_address = absl::AsciiStrToLower(address);
  std::string lower = absl::AsciiStrToLower(text);
  for (size_t at = lower.find(lower_address); at != std::string::npos;
       at = lower.find(lower_address, at + 1)) {
    text.replace(at, address.size(), kScrubbedRecipient);
    lower.replace(at, address.size(), kScrubbedRecipient);
  }
  return text;
}

void Redact(v1::Job& job, bool erased) {
  job.clear_address();
  job.clear_subject();
  job.clear_body();
  job.clear_payload();
  job.clear_sealed();
  if (erased && job.delivery().recipient() == "reporter") {
    job.mutable_delivery()->clear_recipient_hint();
  }
}

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

absl::Status NotificationLogic::OpenReporter(events::Envelope& submitted,
                                             privacy::KeyStore* keys) const {
  if (options_.sealer == nullptr || !submitted.has_case_submitted()) return absl::OkStatus();
  types::v1::Reporter* reporter =
      submitted.mutable_case_submitted()->mutable_draft()->mutable_reporter();
  // An erased reporter opens as empty (no address: nothing is sent to them).
  if (keys != nullptr) return privacy::Sealer(*keys).OpenReporter(submitted.case_id(), reporter);
  return options_.sealer->OpenReporter(submitted.case_id(), reporter);
}

std::string NotificationLogic::CategoryLabel(const std::string& id, const std::string& lang,
                                             bool for_reporter) const {
  if (id.empty()) return "";
  std::shared_ptr<const catalog::Catalog> current =
      options_.catalog != nullptr ? options_.catalog->Current() : nullptr;
  if (current != nullptr && current->Contains(id)) return current->Label(id, LanguageOf(lang));
  // No catalogue (development only) or a category it does not know: staff read the id, a citizen
  // never does (the letter leaves the subject out).
  return for_reporter ? "" : id;
}

absl::StatusOr<std::map<std::string, std::string>> NotificationLogic::Values(
    const std::string& case_id, const events::Envelope* e, const std::string& lang,
    bool for_reporter) {
  ASSIGN_OR_RETURN(std::optional<events::Envelope> submitted, store_.LoadSubmission(case_id));
  // Staff letters never carry the reporter: it is not even opened for them.
  if (submitted && for_reporter) RETURN_IF_ERROR(OpenReporter(*submitted));
  ASSIGN_OR_RETURN(std::string department, store_.Department(case_id));
  return Fill(store_, case_id, submitted ? &*submitted : nullptr, department, e, lang,
              for_reporter);
}

absl::StatusOr<std::map<std::string, std::string>> NotificationLogic::Fill(
    DeliveryStore& store, const std::string& case_id, const events::Envelope* submitted,
    const std::string& department, const events::Envelope* e, const std::string& lang,
    bool for_reporter) {
  std::map<std::string, std::string> v = {{"case_id", case_id}};
  // Departments are named by id (their names are routing's): only staff letters carry them.
  if (!for_reporter) v["department"] = department;
  const SecondLine& second = options_.second_line;
  for (const auto& [key, value] : std::initializer_list<std::pair<const char*, const std::string*>>{
           {"second_line_name", &second.name},
           {"second_line_address", &second.address},
           {"second_line_website", &second.website},
           {"second_line_email", &second.email},
           {"second_line_phone", &second.phone}}) {
    if (!value->empty()) v[key] = *value;
  }
  if (submitted) {
    const auto& s = submitted->case_submitted();
    // The day the Meldpunt received the case: a letter or a call registered later gives it; the
    // legal terms, and so the expected answer, run from it.
    const absl::Time at = events::GetTime(s.draft().has_received_at() ? s.draft().received_at()
                                                                      : submitted->occurred_at());
    // A letter to staff about a confidential case names it and its dates, nothing of its content.
    const bool content =
        for_reporter || domain::ForDepartment(s.draft()) == domain::Disclosure::kContent;
    v["reference"] = s.reference().empty() ? case_id : s.reference();
    if (for_reporter) v["name"] = s.draft().reporter().name();
    v["kind_label"] = KindLabel(s.draft().kind(), lang);
    v["submitted_date"] = Date(at);
    if (content) {
      v["category"] = CategoryLabel(s.draft().category(), lang, for_reporter);
      v["description"] = s.draft().description();
      v["location"] = s.draft().location().address();
    } else {
      v["confidential"] = "true";
    }
    v["priority_label"] = PriorityLabel(s.draft().priority(), lang);
    if (s.draft().kind() == t::COMPLAINT) v["is_complaint"] = "true";
    auto days = options_.answer_days.find(t::CaseKind_Name(s.draft().kind()));
    if (days != options_.answer_days.end() && days->second > 0)
      v["expected_answer_date"] = Date(at + absl::Hours(24 * days->second));
  } else {
    v["reference"] = case_id;
  }
  if (e == nullptr) return v;
  auto clock_label = [&](const std::string& clock) { return ClockLabel(clock, lang); };
  switch (e->payload_case()) {
    case events::Envelope::kInformationRequested:
      v["question"] = e->information_requested().question();
      break;
    case events::Envelope::kAdmissibilityDecided:
      v["ground_label"] = GroundLabel(e->admissibility_decided().ground(), lang);
      v["motivation"] = e->admissibility_decided().motivation();
      break;
    case events::Envelope::kCaseReferred:
      v["referred_to"] = e->case_referred().body();
      v["reason"] = e->case_referred().reason();
      break;
    case events::Envelope::kCaseAnswered:
      v["answer_text"] = e->case_answered().answer();
      v["outcome_label"] = OutcomeLabel(e->case_answered().outcome(), lang);
      break;
    case events::Envelope::kCaseLinked:
    case events::Envelope::kCaseMerged: {
      // The reporter reads the master's reference, never its case id. Routing names it in the
      // event; a record from before that is looked up, and while the master's submission is not
      // known here (it is on another partition of the log) the letter waits: retried, and set
      // aside for the operators if it stays unknown.
      const bool linked = e->has_case_linked();
      const std::string& master =
          linked ? e->case_linked().master_case_id() : e->case_merged().master_case_id();
      std::string reference =
          linked ? e->case_linked().master_reference() : e->case_merged().master_reference();
      if (reference.empty()) {
        ASSIGN_OR_RETURN(std::optional<events::Envelope> m, store.LoadSubmission(master));
        if (m) reference = m->case_submitted().reference();
      }
      if (reference.empty()) {
        return absl::InternalError(absl::StrCat("the reference of master case ", master,
                                                " is not known yet (its submission is not stored "
                                                "here); a letter never shows a case id"));
      }
      v["master_reference"] = std::move(reference);
      break;
    }
    case events::Envelope::kClockExtended:
      v["clock_label"] = clock_label(e->clock_extended().clock());
      v["due_date"] = LastDay(events::GetTime(e->clock_extended().due_at()));
      if (e->clock_extended().has_previous_due_at())
        v["previous_due_date"] = LastDay(events::GetTime(e->clock_extended().previous_due_at()));
      v["term_label"] = TermLabel(e->clock_extended().term(), lang);
      v["reason"] = e->clock_extended().reason();
      break;
    case events::Envelope::kCaseRouted:
      if (!for_reporter) v["department"] = e->case_routed().department();
      if (e->case_routed().priority() != t::PRIORITY_UNSPECIFIED)
        v["priority_label"] = PriorityLabel(e->case_routed().priority(), lang);
      break;
    case events::Envelope::kDeadlineWarning:
      v["clock_label"] = clock_label(e->deadline_warning().clock());
      v["due_date"] = DateTime(events::GetTime(e->deadline_warning().due_at()));
      v["percent"] = absl::StrCat(std::lround(e->deadline_warning().fraction() * 100));
      break;
    case events::Envelope::kDeadlineBreached:
      v["clock_label"] = clock_label(e->deadline_breached().clock());
      v["due_date"] = DateTime(events::GetTime(e->deadline_breached().due_at()));
      v["percent"] = "100";
      break;
    case events::Envelope::kCaseEscalated:
      v["clock_label"] = clock_label(e->case_escalated().clock());
      v["due_date"] = DateTime(events::GetTime(e->case_escalated().due_at()));
      v["level"] = absl::StrCat(e->case_escalated().level());
      v["target"] = e->case_escalated().target();
      if (!for_reporter && !e->case_escalated().department().empty())
        v["department"] = e->case_escalated().department();
      break;
    default:
      break;
  }
  return v;
}

absl::Status NotificationLogic::Handle(const events::Envelope& e, int32_t partition) {
  return Handle(e, partition, store_, nullptr);
}

bool NotificationLogic::ReadsCase(const events::Envelope& e) {
  return e.has_reporter_data_erased() || e.has_case_submitted() || e.has_case_routed() ||
         e.has_case_reassigned() || KnownEvents().count(e.type()) > 0;
}

const std::vector<int>& NotificationLogic::UnreadPayloads() {
  static const auto* unread = new std::vector<int>{events::Envelope::kClockStartedFieldNumber,
                                                   events::Envelope::kClocksStartedFieldNumber,
                                                   events::Envelope::kClockStoppedFieldNumber};
  return *unread;
}

absl::Status NotificationLogic::Handle(const events::Envelope& e, int32_t partition,
                                       DeliveryStore& store, privacy::KeyStore* keys,
                                       const Ahead* ahead) {
  if (keys == nullptr) keys = options_.keys;
  if (!ReadsCase(e)) return absl::OkStatus();
  if (e.has_reporter_data_erased()) return Erase(e);
  if (e.has_case_submitted()) RETURN_IF_ERROR(store.SaveSubmission(e));
  if (e.has_case_routed())
    RETURN_IF_ERROR(store.SetDepartment(e.case_id(), e.case_routed().department()));
  if (e.has_case_reassigned())
    RETURN_IF_ERROR(store.SetDepartment(e.case_id(), e.case_reassigned().department()));
  if (!KnownEvents().count(e.type())) return absl::OkStatus();
  std::optional<events::Envelope> submitted;
  if (e.has_case_submitted()) {
    submitted = e;
  } else {
    ASSIGN_OR_RETURN(submitted, store.LoadSubmission(e.case_id()));
  }
  if (!submitted) return absl::OkStatus();  // a case from before this service kept submissions
  const std::vector<const Rule*> rules =
      rules_.Match(e, submitted->case_submitted().draft().kind());
  if (rules.empty()) return absl::OkStatus();
  // The reporter is opened (a key store round trip) only for a letter to them: staff letters
  // never carry the reporter.
  if (std::any_of(rules.begin(), rules.end(), [](const Rule* r) { return r->to == "reporter"; })) {
    RETURN_IF_ERROR(OpenReporter(*submitted, keys));
  }
  // The department the case is with, read once for every message of this event.
  std::string department;
  if (e.has_case_routed()) {
    department = e.case_routed().department();
  } else if (e.has_case_escalated() && !e.case_escalated().department().empty()) {
    department = e.case_escalated().department();
  } else {
    ASSIGN_OR_RETURN(department, store.Department(e.case_id()));
  }
  for (const Rule* rule : rules)
    RETURN_IF_ERROR(Queue(store, *rule, e, partition, *submitted, department, keys, ahead));
  return absl::OkStatus();
}

absl::Status NotificationLogic::Queue(DeliveryStore& store, const Rule& rule,
                                      const events::Envelope& e, int32_t partition,
                                      const events::Envelope& submitted,
                                      const std::string& department, privacy::KeyStore* keys,
                                      const Ahead* ahead) {
  const auto& reporter = submitted.case_submitted().draft().reporter();

  v1::Job job;
  v1::Delivery* d = job.mutable_delivery();
  std::string language = "nl";
  std::string secret_name;
  if (rule.to == "reporter") {
    if (reporter.anonymous() || reporter.notify_by() == t::NOTIFY_NONE) return absl::OkStatus();
    language = LanguageCode(reporter.language());
    d->set_recipient("reporter");
    if (reporter.notify_by() == t::NOTIFY_WEBHOOK) {
      secret_name = absl::StrCat("system:", submitted.case_submitted().submitting_system());
      const Recipient* system = rules_.Find(secret_name, "");
      if (system == nullptr || system->webhook.empty()) {
        log::Warning("no webhook for the reporter's submitting system: nothing sent",
                     {{"case_id", e.case_id()}, {"system", secret_name}});
        return absl::OkStatus();
      }
      d->set_channel("webhook");
      job.set_address(system->webhook);
    } else {
      // No e-mail address, no e-mail: other channels (letter, phone) are the team's work.
      if (reporter.email().empty()) return absl::OkStatus();
      d->set_channel("email");
      job.set_address(reporter.email());
    }
  } else {
    std::string role = rule.to;
    if (rule.to == "department") {
      if (department.empty()) return absl::OkStatus();
      role = absl::StrCat("department:", department);
    } else if (rule.to == "escalation-target") {
      role = e.case_escalated().target();
    }
    const Recipient* r = rules_.Find(role, department);
    if (r == nullptr) {
      log::Warning(
          "no address configured for a recipient: nothing sent",
          {{"case_id", e.case_id()}, {"recipient", role}, {"template", rule.template_name}});
      return absl::OkStatus();
    }
    d->set_recipient(role);
    language = r->language;
    const bool webhook = rule.channel == "webhook" || (rule.channel.empty() && r->email.empty());
    if (webhook && r->webhook.empty()) return absl::OkStatus();
    if (!webhook && r->email.empty()) return absl::OkStatus();
    d->set_channel(webhook ? "webhook" : "email");
    job.set_address(webhook ? r->webhook : r->email);
    if (webhook) {
      secret_name = rules_.recipients.count(absl::StrCat(role, "@", department))
                        ? absl::StrCat(role, "@", department)
                        : role;
    }
  }
  const std::string key = events::DeterministicId(
      "notify", {e.event_id(), rule.template_name, d->recipient(), d->channel()});
  const bool for_reporter = rule.to == "reporter";
  d->set_case_id(e.case_id());
  d->set_template_name(rule.template_name);
  d->set_status("pending");
  d->set_idempotency_key(key);
  d->set_language(language);
  d->set_event_type(e.type());
  d->set_event_id(e.event_id());
  *d->mutable_event_at() = e.occurred_at();
  const absl::Time now = clock_.Now();
  events::SetTime(d->mutable_at(), now);  // queued: notification.retry_for counts from here
  events::SetTime(d->mutable_next_attempt_at(), now);
  d->set_recipient_hint(RecipientHint(d->channel(), job.address()));
  job.set_secret_name(secret_name);
  job.set_correlation_id(e.correlation_id());
  job.set_partition(partition);
  if (ahead != nullptr && ahead->outcomes != nullptr) {
    // A rebuild that knows this message's delivery further on the log: its final record now,
    // the same bytes as the message made, queued and finished by its outcomes one by one.
    const std::vector<KnownOutcome> known =
        ahead->outcomes->Delivered(e.case_id(), partition, ahead->offset, key);
    if (!known.empty()) {
      for (const KnownOutcome& outcome : known) ApplyOutcome(outcome, job);
      return store.AddFinished(job).status();
    }
  }
  ASSIGN_OR_RETURN(auto values,
                   Fill(store, e.case_id(), &submitted, department, &e, language, for_reporter));
  ASSIGN_OR_RETURN(Rendered letter, templates_.Render(rule.template_name, language, values));
  job.set_subject(letter.subject);
  job.set_body(letter.body);
  if (d->channel() == "webhook") {
    nlohmann::json payload = {{"type", "meldpunt.notification"},
                              {"idempotency_key", key},
                              {"case_id", e.case_id()},
                              {"reference", values["reference"]},
                              {"template", rule.template_name},
                              {"language", language},
                              {"recipient", d->recipient()},
                              {"event_type", e.type()},
                              {"event_id", e.event_id()},
                              {"subject", letter.subject},
                              {"body", letter.body}};
    job.set_payload(payload.dump());
  }
  if (for_reporter && keys != nullptr) {
    // Sealed while it waits: the reporter's address and the letter with their name rest in the
    // outbox only as the log holds them, and erasing the key erases them here too.
    ASSIGN_OR_RETURN(std::string key, keys->KeyFor(e.case_id()));
    v1::Letter sealed;
    sealed.set_address(job.address());
    sealed.set_subject(job.subject());
    sealed.set_body(job.body());
    sealed.set_payload(job.payload());
    ASSIGN_OR_RETURN(std::string bytes,
                     privacy::Seal(key, sealed.SerializeAsString(), LetterAad(e.case_id())));
    Redact(job);
    job.set_sealed(std::move(bytes));
  }
  absl::Time due = now;
  {
    absl::MutexLock lock(&mu_);
    if (holding_) {
      // A rebuild is running: not due until it knows whether the log says this was sent.
      due = now + kHeld;
      held_.emplace_back(e.case_id(), key);
    }
  }
  ASSIGN_OR_RETURN(bool added, store.Enqueue(job, due));
  if (added) LogQueued(job);
  return absl::OkStatus();
}

void LogQueued(const v1::Job& job) {
  const v1::Delivery& d = job.delivery();
  log::Info("message queued", {{"case_id", d.case_id()},
                               {"template", d.template_name()},
                               {"channel", d.channel()},
                               {"recipient", d.recipient()}});
}

absl::Duration NotificationLogic::Backoff(int attempts) {
  absl::Duration base = options_.first_backoff;
  for (int i = 1; i < attempts && base < options_.max_backoff; ++i) base *= 2;
  base = std::min(base, options_.max_backoff);
  absl::MutexLock lock(&mu_);
  // "Equal jitter": half the backoff fixed, half random, so retries of many messages spread out.
  const double r = absl::Uniform(random_, 0.5, 1.0);
  return base * r;
}

std::string NotificationLogic::HostOf(const std::string& channel, const std::string& url) const {
  if (channel == "email") return "smtp";
  const size_t start = url.find("://");
  if (start == std::string::npos) return url;
  const size_t end = url.find_first_of("/?#", start + 3);
  return url.substr(start + 3, end == std::string::npos ? std::string::npos : end - start - 3);
}

void NotificationLogic::Hold() {
  absl::MutexLock lock(&mu_);
  holding_ = true;
  held_.clear();
}

std::optional<std::string> NotificationLogic::OutcomeKey(const events::Envelope& e) {
  if (const std::string* key = OutcomeKeyOf(e)) return *key;
  return std::nullopt;
}

void NotificationLogic::ApplyOutcome(const events::Envelope& e, v1::Job& job) {
  if (std::optional<KnownOutcome> outcome = OutcomeOf(e, -1, -1)) ApplyOutcome(*outcome, job);
}

void NotificationLogic::ApplyOutcome(const KnownOutcome& outcome, v1::Job& job) {
  v1::Delivery* d = job.mutable_delivery();
  if (outcome.delivered) {
    d->set_status("delivered");
    d->set_attempts(outcome.attempts);
    Redact(job);
  } else {
    // A retry by hand after a dead letter queues the same key again: the later event wins.
    d->set_status("dead_lettered");
    d->set_attempts(outcome.attempts);
    d->set_last_error(outcome.last_error);
  }
  *d->mutable_at() = outcome.at;
  d->clear_next_attempt_at();
}

absl::Status NotificationLogic::Restore(const events::Envelope& e, int32_t partition) {
  const std::optional<std::string> key = OutcomeKey(e);
  if (!key) return Handle(e, partition);
  ASSIGN_OR_RETURN(std::optional<v1::Job> job, store_.Job(e.case_id(), *key));
  if (!job) return absl::OkStatus();  // a message today's rules no longer call for
  ApplyOutcome(e, *job);
  return store_.Finish(*job);
}

absl::StatusOr<int64_t> NotificationLogic::Release() {
  std::vector<std::pair<std::string, std::string>> held;
  {
    absl::MutexLock lock(&mu_);
    holding_ = false;
    held.swap(held_);
  }
  // A message the replay queued twice (its event came twice) is released once.
  std::set<DeliveryStore::JobKey> seen;
  held.erase(
      std::remove_if(held.begin(), held.end(),
                     [&seen](const DeliveryStore::JobKey& k) { return !seen.insert(k).second; }),
      held.end());
  int64_t released = 0;
  const absl::Time now = clock_.Now();
  // Read a thousand at a time (DeliveryStore::JobsOf: one round trip each); only the ones still
  // pending are written.
  constexpr size_t kChunk = 1000;
  for (size_t from = 0; from < held.size(); from += kChunk) {
    const std::vector<DeliveryStore::JobKey> keys(
        held.begin() + from, held.begin() + std::min(held.size(), from + kChunk));
    ASSIGN_OR_RETURN(auto jobs, store_.JobsOf(keys));
    for (const DeliveryStore::JobKey& key : keys) {
      auto it = jobs.find(key);
      if (it == jobs.end()) {
        // Unreadable in the read of many: read alone, which says what is wrong with it.
        ASSIGN_OR_RETURN(std::optional<v1::Job> alone, store_.Job(key.first, key.second));
        it = jobs.emplace(key, std::move(alone)).first;
      }
      std::optional<v1::Job>& job = it->second;
      if (!job || job->delivery().status() != "pending") continue;
      events::SetTime(job->mutable_delivery()->mutable_next_attempt_at(), now);
      RETURN_IF_ERROR(store_.Reschedule(*job, now));
      ++released;
    }
  }
  return released;
}

absl::Status NotificationLogic::AppendOutcome(const v1::Job& job, bool delivered) {
  const v1::Delivery& d = job.delivery();
  const absl::Time now = clock_.Now();
  events::Envelope outcome = events::NewEnvelope(d.case_id(), "notification", now);
  outcome.set_causation_id(d.event_id());
  outcome.set_correlation_id(job.correlation_id());
  outcome.mutable_actor()->set_id("service:notification");
  const auto channel = d.channel() == "webhook" ? events::v1::WEBHOOK : events::v1::EMAIL;
  if (delivered) {
    ASSIGN_OR_RETURN(events::Appended a,
                     case_log_.Append(DeliveredEvent(job), now + absl::Seconds(30)));
    (void)a;
    return absl::OkStatus();
  }
  auto* f = outcome.mutable_notification_failed();
  f->set_template_name(d.template_name());
  f->set_channel(channel);
  f->set_recipient(d.recipient());
  f->set_idempotency_key(d.idempotency_key());
  f->set_attempts(d.attempts());
  f->set_last_error(d.last_error());
  f->set_dead_lettered(true);
  // One id per round of attempts: a manual retry that fails again is a new failure.
  events::Finish(
      outcome, events::DeterministicId("failed", {d.idempotency_key(), absl::StrCat(d.retries())}));
  // Dead letter first: if the service dies in between, the next claim appends both again.
  ASSIGN_OR_RETURN(events::Appended dl, dead_letters_.Append(outcome, now + absl::Seconds(30)));
  ASSIGN_OR_RETURN(events::Appended ev, case_log_.Append(outcome, now + absl::Seconds(30)));
  (void)dl;
  (void)ev;
  return absl::OkStatus();
}

events::Envelope NotificationLogic::DeliveredEvent(const v1::Job& job) const {
  const v1::Delivery& d = job.delivery();
  events::Envelope outcome = events::NewEnvelope(d.case_id(), "notification", clock_.Now());
  outcome.set_causation_id(d.event_id());
  outcome.set_correlation_id(job.correlation_id());
  outcome.mutable_actor()->set_id("service:notification");
  auto* x = outcome.mutable_notification_delivered();
  x->set_template_name(d.template_name());
  x->set_channel(d.channel() == "webhook" ? events::v1::WEBHOOK : events::v1::EMAIL);
  x->set_recipient(d.recipient());
  x->set_idempotency_key(d.idempotency_key());
  x->set_attempts(d.attempts());
  x->set_language(d.language());
  events::Finish(outcome, events::DeterministicId("delivered", {d.idempotency_key()}));
  return outcome;
}

absl::StatusOr<v1::Letter> NotificationLogic::LetterOf(const v1::Job& job,
                                                       const std::optional<KnownKey>& known) const {
  v1::Letter letter;
  if (job.sealed().empty()) {
    letter.set_address(job.address());
    letter.set_subject(job.subject());
    letter.set_body(job.body());
    letter.set_payload(job.payload());
    return letter;
  }
  if (options_.keys == nullptr) return absl::FailedPreconditionError("no key store to open with");
  const std::string& case_id = job.delivery().case_id();
  std::string key;
  if (known && clock_.Now() - known->read_at <= kFreshKey) {
    if (!known->key) return absl::NotFoundError(absl::StrCat("no data key for ", case_id));
    key = *known->key;
  } else {
    ASSIGN_OR_RETURN(key, options_.keys->Find(case_id));  // NOT_FOUND: erased
  }
  ASSIGN_OR_RETURN(std::string plain, privacy::Open(key, job.sealed(), LetterAad(case_id)));
  if (!letter.ParseFromString(plain)) return absl::DataLossError("a sealed letter does not parse");
  return letter;
}

absl::Status NotificationLogic::Cancel(v1::Job& job) {
  v1::Delivery* d = job.mutable_delivery();
  const absl::Time now = clock_.Now();
  events::Envelope outcome = events::NewEnvelope(d->case_id(), "notification", now);
  outcome.set_causation_id(d->event_id());
  outcome.set_correlation_id(job.correlation_id());
  outcome.mutable_actor()->set_id("service:notification");
  auto* f = outcome.mutable_notification_failed();
  f->set_template_name(d->template_name());
  f->set_channel(d->channel() == "webhook" ? events::v1::WEBHOOK : events::v1::EMAIL);
  f->set_recipient(d->recipient());
  f->set_idempotency_key(d->idempotency_key());
  f->set_attempts(d->attempts());
  f->set_last_error(kErased);
  f->set_dead_lettered(false);
  events::Finish(outcome, events::DeterministicId("cancelled", {d->idempotency_key()}));
  // The event first: handling the erasure again after a crash finds the message still waiting.
  ASSIGN_OR_RETURN(events::Appended a, case_log_.Append(outcome, now + absl::Seconds(30)));
  (void)a;
  d->set_status("cancelled");
  d->set_last_error(kErased);
  d->clear_next_attempt_at();
  events::SetTime(d->mutable_at(), now);
  Redact(job, /*erased=*/true);
  RETURN_IF_ERROR(store_.Finish(job));
  log::Info("message to the reporter cancelled: their data was erased",
            {{"case_id", d->case_id()}, {"template", d->template_name()}});
  return absl::OkStatus();
}

absl::Status NotificationLogic::Erase(const events::Envelope& e) {
  ASSIGN_OR_RETURN(std::optional<events::Envelope> submitted, store_.LoadSubmission(e.case_id()));
  if (submitted && submitted->has_case_submitted()) {
    t::Reporter* r = submitted->mutable_case_submitted()->mutable_draft()->mutable_reporter();
    if (privacy::Sealer::HasPersonalData(*r) || !r->erased()) {
      privacy::Sealer::Withhold(r);
      r->set_erased(true);
      RETURN_IF_ERROR(store_.SaveSubmission(*submitted));
    }
  }
  ASSIGN_OR_RETURN(std::vector<v1::Job> jobs, store_.Jobs(e.case_id()));
  for (v1::Job& job : jobs) {
    // Staff messages never carry the reporter (Fill): nothing of theirs to erase.
    if (job.delivery().recipient() != "reporter") continue;
    const std::string& status = job.delivery().status();
    if (status == "pending" || status == "retrying") {
      RETURN_IF_ERROR(Cancel(job));
      continue;
    }
    v1::Job redacted = job;
    Redact(redacted, /*erased=*/true);
    if (redacted.SerializeAsString() != job.SerializeAsString())
      RETURN_IF_ERROR(store_.Save(redacted));
  }
  return absl::OkStatus();
}

absl::StatusOr<AttemptOutcome> NotificationLogic::Attempt(v1::Job job) {
  ASSIGN_OR_RETURN(Attempted attempted, Send(std::move(job)));
  std::vector<Attempted> one;
  one.push_back(std::move(attempted));
  return std::move(Record(std::move(one))[0]);
}

std::vector<absl::StatusOr<AttemptOutcome>> NotificationLogic::Record(
    std::vector<Attempted> attempted) {
  std::vector<absl::StatusOr<AttemptOutcome>> out;
  out.reserve(attempted.size());
  for (const Attempted& a : attempted) out.emplace_back(a.outcome);
  // 1. The records of the messages delivered now, before their events.
  std::vector<v1::Job> saves;
  for (const Attempted& a : attempted) {
    if (a.left == Attempted::Left::kSave) saves.push_back(a.job);
  }
  if (absl::Status saved = store_.SaveAll(saves); !saved.ok()) {
    for (size_t i = 0; i < attempted.size(); ++i) {
      if (attempted[i].left == Attempted::Left::kSave) out[i] = saved;
    }
  }
  // 2. Their events, all in flight at once, waited for once.
  struct Waiting {
    absl::Mutex mu;
    size_t left ABSL_GUARDED_BY(mu) = 0;
  } waiting;
  std::vector<absl::Status> appended(attempted.size());
  const absl::Time deadline = clock_.Now() + absl::Seconds(30);
  for (size_t i = 0; i < attempted.size(); ++i) {
    const Attempted::Left left = attempted[i].left;
    if ((left != Attempted::Left::kSave && left != Attempted::Left::kAppend) || !out[i].ok())
      continue;
    {
      absl::MutexLock lock(&waiting.mu);
      ++waiting.left;
    }
    case_log_.AppendAsync(DeliveredEvent(attempted[i].job), deadline,
                          [&waiting, &appended, i](absl::StatusOr<events::Appended> a) {
                            absl::MutexLock lock(&waiting.mu);
                            appended[i] = a.status();
                            --waiting.left;
                          });
  }
  {
    absl::MutexLock lock(&waiting.mu);
    waiting.mu.Await(absl::Condition(
        +[](size_t* left) { return *left == 0; }, &waiting.left));
  }
  // 3. Out of the queue, those whose events are durable (and the cancelled ones).
  // A message delivered now has its record written in step 1: it only leaves the queue.
  std::vector<v1::Job> finishes;
  std::vector<bool> written;
  std::vector<size_t> finished;
  for (size_t i = 0; i < attempted.size(); ++i) {
    if (attempted[i].left == Attempted::Left::kNothing || !out[i].ok()) continue;
    if (!appended[i].ok()) {
      out[i] = appended[i];
      continue;
    }
    finishes.push_back(attempted[i].job);
    written.push_back(attempted[i].left == Attempted::Left::kSave);
    finished.push_back(i);
  }
  absl::Status done = store_.FinishAll(finishes, written);
  for (size_t i : finished) {
    if (!done.ok()) {
      out[i] = done;
      continue;
    }
    if (attempted[i].left != Attempted::Left::kSave) continue;
    const v1::Delivery& d = attempted[i].job.delivery();
    log::Info("message delivered", {{"case_id", d.case_id()},
                                    {"template", d.template_name()},
                                    {"channel", d.channel()},
                                    {"attempts", d.attempts()}});
  }
  return out;
}

std::vector<std::optional<KnownKey>> NotificationLogic::ReadKeys(
    const std::vector<v1::Job>& jobs) const {
  std::vector<std::optional<KnownKey>> out(jobs.size());
  if (options_.keys == nullptr) return out;
  std::vector<std::string> case_ids;
  for (const v1::Job& job : jobs) {
    if (!job.sealed().empty()) case_ids.push_back(job.delivery().case_id());
  }
  if (case_ids.empty()) return out;
  const absl::Time at = clock_.Now();
  absl::StatusOr<std::map<std::string, std::string>> found = options_.keys->FindAll(case_ids);
  if (!found.ok()) return out;  // each attempt reads its own, and meets the error there
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (jobs[i].sealed().empty()) continue;
    auto it = found->find(jobs[i].delivery().case_id());
    out[i] =
        KnownKey{it == found->end() ? std::nullopt : std::optional<std::string>(it->second), at};
  }
  return out;
}

absl::StatusOr<Attempted> NotificationLogic::Send(v1::Job job,
                                                  const std::optional<KnownKey>& known) {
  Attempted attempted;
  v1::Delivery* d = job.mutable_delivery();
  AttemptOutcome& outcome = attempted.outcome;
  // Sent before, but the service stopped before its event was in the log: only the event.
  if (d->status() == "delivered") {
    outcome.status = "skipped";
    attempted.left = Attempted::Left::kAppend;
    attempted.job = std::move(job);
    return attempted;
  }
  if (d->status() == "dead_lettered") {
    RETURN_IF_ERROR(AppendOutcome(job, false));
    RETURN_IF_ERROR(store_.Finish(job));
    outcome.status = "skipped";
    return attempted;
  }
  if (d->status() == "cancelled") {
    outcome.status = "skipped";
    attempted.left = Attempted::Left::kFinish;
    attempted.job = std::move(job);
    return attempted;
  }
  // Opened only here, in memory: the job as stored keeps it sealed.
  absl::StatusOr<v1::Letter> letter = LetterOf(job, known);
  if (absl::IsNotFound(letter.status())) {
    // The reporter's data was erased while the message waited: it will never go.
    RETURN_IF_ERROR(Cancel(job));
    outcome.status = "cancelled";
    return attempted;
  }
  RETURN_IF_ERROR(letter.status());
  // Webhook hosts are other systems: each gets at most its share of the senders. E-mail goes to
  // the municipality's own relay.
  const std::string host = HostOf(d->channel(), letter->address());
  {
    absl::ReleasableMutexLock lock(&mu_);
    if (d->channel() == "webhook" && in_flight_[host] >= options_.max_in_flight_per_host) {
      // This host has its share of senders already: wait a little, without using an attempt.
      lock.Release();
      const absl::Time later = clock_.Now() + absl::Seconds(1);
      events::SetTime(d->mutable_next_attempt_at(), later);
      RETURN_IF_ERROR(store_.Reschedule(job, later));
      outcome.status = "deferred";
      return attempted;
    }
    ++in_flight_[host];
  }
  absl::Status sent;
  if (d->channel() == "webhook") {
    const Recipient* r = rules_.Find(job.secret_name(), "");
    if (r == nullptr || r->secret.empty()) {
      sent =
          PermanentFailure(absl::StatusCode::kFailedPrecondition,
                           absl::StrCat("no signing secret for ", job.secret_name(), " any more"));
    } else {
      sent = webhook_(
          WebhookTarget{letter->address(), r->secret},
          WebhookMessage{d->idempotency_key(), letter->payload(), clock_.Now(), d->case_id()});
    }
  } else {
    sent = mailer_.Send(Email{letter->address(), letter->subject(), letter->body(),
                              d->idempotency_key(), d->case_id(), d->language(),
                              HtmlLetter(letter->subject(), letter->body(), d->language())});
  }
  {
    absl::MutexLock lock(&mu_);
    if (--in_flight_[host] <= 0) in_flight_.erase(host);
  }
  const absl::Time now = clock_.Now();
  d->set_attempts(d->attempts() + 1);
  if (sent.ok()) {
    d->set_status("delivered");
    d->clear_last_error();
    d->clear_next_attempt_at();
    outcome.since_event = now - events::GetTime(d->event_at());
    events::SetTime(d->mutable_at(), now);
    // Gone: the record keeps what ops need, not what was sent nor where.
    Redact(job);
    // Saved before its event (a repeat sends nothing again), by Record.
    outcome.status = "delivered";
    attempted.left = Attempted::Left::kSave;
    attempted.job = std::move(job);
    return attempted;
  }
  // A server's reply may quote the address, in any case: the record, the log and the dead letter
  // get "<recipient>" instead, so that not even a hint of it reaches the case log.
  const std::string error =
      ScrubAddress(std::string(sent.message()).substr(0, 500), letter->address());
  d->set_last_error(error);
  // The round of attempts started when the message was queued or retried by hand (`at`).
  const absl::Time started = d->has_at() ? events::GetTime(d->at()) : now;
  const absl::Time give_up = started + options_.retry_for;
  const bool attempts_left = options_.max_attempts <= 0 || d->attempts() < options_.max_attempts;
  if (!IsPermanent(sent) && attempts_left && now < give_up) {
    absl::Duration wait = Backoff(d->attempts());
    // The receiver said when to come back: not sooner, but never later than max_backoff.
    if (std::optional<absl::Duration> asked = RetryAfterOf(sent)) {
      wait = std::max(wait, std::min(*asked, options_.max_backoff));
    }
    // The last attempt is made when retry_for has passed, not a backoff later.
    const absl::Time next = std::min(now + wait, give_up);
    d->set_status("retrying");
    events::SetTime(d->mutable_next_attempt_at(), next);
    RETURN_IF_ERROR(store_.Reschedule(job, next));
    log::Warning("delivery failed; trying again later",
                 {{"case_id", d->case_id()},
                  {"channel", d->channel()},
                  {"attempt", d->attempts()},
                  {"next_attempt_in_ms", absl::ToInt64Milliseconds(next - now)},
                  {"error", error}});
    outcome.status = "retrying";
    return attempted;
  }
  if (!IsPermanent(sent)) {
    d->set_last_error(absl::StrCat("temporary failures for ", config::FormatDuration(now - started),
                                   ", gave up: ", error));
  }
  // Dead-lettered: RetryDelivery may send it again, so the letter stays, sealed for the reporter
  // (unreadable once erased); a staff letter never carries the reporter (Fill).
  d->set_status("dead_lettered");
  d->clear_next_attempt_at();
  events::SetTime(d->mutable_at(), now);
  RETURN_IF_ERROR(store_.Save(job));
  RETURN_IF_ERROR(AppendOutcome(job, false));
  RETURN_IF_ERROR(store_.Finish(job));
  log::Error("message dead-lettered", {{"case_id", d->case_id()},
                                       {"channel", d->channel()},
                                       {"attempts", d->attempts()},
                                       {"permanent", IsPermanent(sent)},
                                       {"error", d->last_error()}});
  outcome.status = "dead_lettered";
  return attempted;
}

absl::StatusOr<v1::Delivery> NotificationLogic::Retry(const std::string& case_id,
                                                      const std::string& key) {
  ASSIGN_OR_RETURN(std::optional<v1::Job> job, store_.Job(case_id, key));
  if (!job) return absl::NotFoundError("no message with this idempotency_key for this case");
  if (job->delivery().status() == "delivered")
    return absl::FailedPreconditionError("the message was delivered");
  if (job->delivery().status() == "cancelled")
    return absl::FailedPreconditionError(
        "the message was cancelled: the reporter's data was erased");
  if (job->delivery().status() != "dead_lettered") {
    // Still in the queue (perhaps being sent right now): a second copy would race it.
    return absl::FailedPreconditionError(
        "the message is still being tried; retry it once it is dead-lettered");
  }
  v1::Delivery* d = job->mutable_delivery();
  d->set_status("retrying");
  d->set_attempts(0);
  d->set_retries(d->retries() + 1);
  const absl::Time now = clock_.Now();
  events::SetTime(d->mutable_at(), now);  // a fresh notification.retry_for
  events::SetTime(d->mutable_next_attempt_at(), now);
  RETURN_IF_ERROR(store_.Reschedule(*job, now));
  return *d;
}

}  // namespace meldpunt::notification
