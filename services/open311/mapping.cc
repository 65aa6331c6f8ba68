#include "services/open311/mapping.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/domain/case_state.h"
#include "libs/events/codec.h"
#include "services/open311/api_keys.h"

namespace meldpunt::open311 {
namespace {

absl::Status Bad(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

const char* Pick(t::Language language, const char* nl, const char* fr, const char* en) {
  switch (language) {
    case t::FR:
      return fr;
    case t::EN:
      return en;
    default:
      return nl;
  }
}

// The attributes every service takes: the case's fields that GeoReport has no parameter for.
Json Attribute(int order, const char* code, const char* datatype, const char* description,
               std::vector<std::pair<std::string, std::string>> values = {}) {
  Json a = Json::object();
  a["variable"] = true;
  a["code"] = code;
  a["datatype"] = datatype;
  a["required"] = false;
  a["datatype_description"] = "";
  a["order"] = order;
  a["description"] = description;
  if (!values.empty()) {
    Json list = Json::array();
    for (const auto& [key, name] : values) list.push_back(Json{{"key", key}, {"name", name}});
    a["values"] = std::move(list);
  }
  return a;
}

}  // namespace

t::Attachment MediaLink(const std::string& url) {
  t::Attachment a;
  a.set_url(url);
  std::string path = absl::AsciiStrToLower(url.substr(0, url.find_first_of("?#")));
  const size_t dot = path.rfind('.');
  const std::string extension = dot == std::string::npos ? "" : path.substr(dot + 1);
  static constexpr std::pair<absl::string_view, absl::string_view> kTypes[] = {
      {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"},     {"png", "image/png"},
      {"gif", "image/gif"},  {"webp", "image/webp"},     {"heic", "image/heic"},
      {"mp4", "video/mp4"},  {"pdf", "application/pdf"},
  };
  a.set_media_type("application/octet-stream");
  for (const auto& [ext, type] : kTypes) {
    if (extension == ext) a.set_media_type(std::string(type));
  }
  return a;
}

namespace {

bool ParseDegrees(const std::string& text, double* out) {
  return !text.empty() && text.size() <= 32 && absl::SimpleAtod(text, out) && std::isfinite(*out);
}

}  // namespace

absl::StatusOr<t::Language> LanguageOf(const std::string& locale,
                                       const std::string& accept_language) {
  const auto of = [](absl::string_view tag, t::Language* out) {
    std::string primary =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(tag.substr(0, tag.find_first_of("-_;"))));
    if (primary == "nl") *out = t::NL;
    if (primary == "fr") *out = t::FR;
    if (primary == "en") *out = t::EN;
    return primary == "nl" || primary == "fr" || primary == "en";
  };
  t::Language language = t::NL;
  if (!locale.empty()) {
    if (locale.size() > 16 || !of(locale, &language)) {
      return Bad("locale", "must be nl, fr or en");
    }
    return language;
  }
  for (absl::string_view tag : absl::StrSplit(accept_language, ',')) {
    if (of(tag, &language)) return language;
  }
  return t::NL;
}

const catalog::Category* CategoryOfCode(const catalog::Catalog& catalog, const std::string& code) {
  if (code.empty()) return nullptr;
  for (const catalog::Category& c : catalog.categories()) {
    if (c.active && c.service_code == code) return &c;
  }
  return nullptr;
}

Json ServiceList(const catalog::Catalog& catalog, t::Language language) {
  Json services = Json::array();
  for (const catalog::Category& c : catalog.categories()) {
    if (!c.active || c.service_code.empty()) continue;
    Json s = Json::object();
    s["service_code"] = c.service_code;
    s["service_name"] = c.labels.In(language);
    s["description"] = c.descriptions.In(language);
    s["metadata"] = true;
    s["type"] = "realtime";
    s["keywords"] = absl::StrJoin(c.keywords, ",");
    s["group"] = c.group;
    services.push_back(std::move(s));
  }
  return services;
}

std::optional<Json> ServiceDefinition(const catalog::Catalog& catalog, const std::string& code,
                                      t::Language language) {
  if (CategoryOfCode(catalog, code) == nullptr) return std::nullopt;
  const auto l = [&](const char* nl, const char* fr, const char* en) {
    return Pick(language, nl, fr, en);
  };
  Json attributes = Json::array();
  attributes.push_back(Attribute(
      1, "kind", "singlevaluelist",
      l("Soort melding (standaard: melding)", "Type de signalement (par défaut : signalement)",
        "Kind of case (default: report)"),
      {{"REPORT", l("Melding", "Signalement", "Report")},
       {"COMPLAINT", l("Klacht", "Plainte", "Complaint")},
       {"SUGGESTION", l("Suggestie", "Suggestion", "Suggestion")},
       {"COMPLIMENT", l("Compliment", "Compliment", "Compliment")},
       {"QUESTION", l("Vraag", "Question", "Question")}}));
  attributes.push_back(
      Attribute(2, "confidential", "singlevaluelist",
                l("Vertrouwelijk: alleen de klachtendienst ziet de melder",
                  "Confidentiel : seul le service des plaintes voit l'auteur",
                  "Confidential: only the complaints office sees the reporter"),
                {{"false", l("Nee", "Non", "No")}, {"true", l("Ja", "Oui", "Yes")}}));
  attributes.push_back(
      Attribute(3, "language", "singlevaluelist",
                l("Taal van de berichten aan de melder", "Langue des messages à l'auteur",
                  "Language of the messages to the reporter"),
                {{"nl", "Nederlands"}, {"fr", "Français"}, {"en", "English"}}));
  attributes.push_back(Attribute(4, "notify", "singlevaluelist",
                                 l("Hoe de melder bericht krijgt (standaard: e-mail als er een "
                                   "adres is)",
                                   "Comment l'auteur est informé (par défaut : e-mail s'il y a "
                                   "une adresse)",
                                   "How the reporter hears from us (default: e-mail when an "
                                   "address is given)"),
                                 {{"email", l("E-mail", "E-mail", "E-mail")},
                                  {"none", l("Geen berichten", "Aucun message", "No messages")}}));
  attributes.push_back(Attribute(
      5, "external_reference", "string",
      l("Uw eigen referentie (tot 128 tekens)", "Votre propre référence (128 caractères au plus)",
        "Your own reference (up to 128 characters)")));
  Json definition = Json::object();
  definition["service_code"] = code;
  definition["attributes"] = std::move(attributes);
  return definition;
}

std::string DerivedRequestKey(const std::string& system, const Params& form) {
  Params fields;
  for (const auto& entry : form) {
    if (entry.first != "api_key") fields.push_back(entry);
  }
  std::sort(fields.begin(), fields.end());
  std::string canonical = system;
  for (const auto& [name, value] : fields) {
    // Lengths first, so that no two different forms serialize alike.
    absl::StrAppend(&canonical, "\n", name.size(), ":", name, "=", value.size(), ":", value);
  }
  return absl::StrCat("o311-", Sha256Hex(canonical).substr(0, 40));
}

absl::StatusOr<intake::v1::SubmitCaseRequest> ToSubmission(const Params& form,
                                                           const catalog::Catalog& catalog,
                                                           const std::string& system,
                                                           const std::string& request_key,
                                                           t::Language language) {
  static constexpr absl::string_view kKnown[] = {
      "api_key",    "jurisdiction_id", "service_code", "lat",       "long",       "address_string",
      "address_id", "zipcode",         "email",        "device_id", "account_id", "first_name",
      "last_name",  "phone",           "description",  "media_url", "locale"};
  for (const auto& [name, value] : form) {
    if (absl::StartsWith(name, "attribute[")) continue;
    if (std::find(std::begin(kKnown), std::end(kKnown), name) == std::end(kKnown)) {
      return Bad(name, "not a parameter of POST requests");
    }
  }
  for (absl::string_view once : kKnown) {
    if (std::count_if(form.begin(), form.end(), [&](const auto& e) { return e.first == once; }) >
        1) {
      return Bad(once, "given more than once");
    }
  }
  intake::v1::SubmitCaseRequest request;
  request.set_submitting_system(system);
  request.set_request_key(request_key);
  t::CaseDraft* draft = request.mutable_draft();
  draft->set_kind(t::REPORT);
  draft->set_channel(t::APP);

  const std::string code = Param(form, "service_code");
  if (code.empty()) return Bad("service_code", "required");
  const catalog::Category* category = CategoryOfCode(catalog, code);
  if (category == nullptr) {
    return Bad("service_code", absl::StrCat("unknown service code '", code.substr(0, 64),
                                            "' (GET services lists them)"));
  }
  draft->set_category(category->id);

  // Where: coordinates, an address, or an address register's id (at least one).
  t::Location* location = draft->mutable_location();
  const bool has_lat = HasParam(form, "lat"), has_long = HasParam(form, "long");
  if (has_lat != has_long) return Bad(has_lat ? "long" : "lat", "lat and long go together");
  if (has_lat) {
    double lat = 0, lon = 0;
    if (!ParseDegrees(Param(form, "lat"), &lat) || lat < -90 || lat > 90) {
      return Bad("lat", "must be a latitude in degrees (WGS84), -90 to 90");
    }
    if (!ParseDegrees(Param(form, "long"), &lon) || lon < -180 || lon > 180) {
      return Bad("long", "must be a longitude in degrees (WGS84), -180 to 180");
    }
    location->set_has_coordinates(true);
    location->set_latitude(lat);
    location->set_longitude(lon);
  }
  location->set_address(Param(form, "address_string"));
  location->set_address_id(Param(form, "address_id"));
  location->set_postcode(Param(form, "zipcode"));
  if (!has_lat && location->address().empty() && location->address_id().empty()) {
    return Bad("lat", "a location is required: lat and long, address_string or address_id");
  }
  draft->set_description(Param(form, "description"));
  if (const std::string media = Param(form, "media_url"); !media.empty()) {
    *draft->add_attachments() = MediaLink(media);
  }

  t::Reporter* reporter = draft->mutable_reporter();
  const std::string first = std::string(absl::StripAsciiWhitespace(Param(form, "first_name")));
  const std::string last = std::string(absl::StripAsciiWhitespace(Param(form, "last_name")));
  reporter->set_name(first.empty() || last.empty() ? first + last : first + " " + last);
  reporter->set_email(Param(form, "email"));
  reporter->set_phone(Param(form, "phone"));
  reporter->set_language(language);
  reporter->set_preferred_channel(t::APP);

  bool notify_none = false;
  for (const auto& [name, value] : form) {
    if (!absl::StartsWith(name, "attribute[")) continue;
    if (name.back() != ']') return Bad(name, "must be attribute[CODE]");
    const std::string attribute = name.substr(10, name.size() - 11);
    if (std::count_if(form.begin(), form.end(), [&](const auto& e) { return e.first == name; }) >
        1) {
      return Bad(name, "given more than once");
    }
    if (attribute == "kind") {
      t::CaseKind kind;
      if (!t::CaseKind_Parse(value, &kind) || kind == t::CASE_KIND_UNSPECIFIED) {
        return Bad(name, "must be REPORT, COMPLAINT, SUGGESTION, COMPLIMENT or QUESTION");
      }
      draft->set_kind(kind);
    } else if (attribute == "confidential") {
      if (value != "true" && value != "false") return Bad(name, "must be true or false");
      draft->set_confidential(value == "true");
    } else if (attribute == "language") {
      if (value == "nl")
        reporter->set_language(t::NL);
      else if (value == "fr")
        reporter->set_language(t::FR);
      else if (value == "en")
        reporter->set_language(t::EN);
      else
        return Bad(name, "must be nl, fr or en");
    } else if (attribute == "notify") {
      if (value != "email" && value != "none") return Bad(name, "must be email or none");
      notify_none = value == "none";
      reporter->set_notify_by(notify_none ? t::NOTIFY_NONE : t::NOTIFY_EMAIL);
    } else if (attribute == "external_reference") {
      draft->set_external_reference(value);
    } else {
      return Bad(name,
                 "unknown attribute (kind, confidential, language, notify, "
                 "external_reference: GET services/{code} describes them)");
    }
  }
  // Nobody named and no way to reach them: an anonymous report.
  if (reporter->name().empty() && reporter->email().empty() && reporter->phone().empty()) {
    reporter->set_anonymous(true);
    if (reporter->notify_by() == t::NOTIFY_EMAIL) {
      return Bad("attribute[notify]", "email needs the reporter's email");
    }
    reporter->set_notify_by(t::NOTIFY_BY_UNSPECIFIED);
  }
  return request;
}

std::string Open311Message(const std::string& message) {
  static constexpr std::pair<absl::string_view, absl::string_view> kFields[] = {
      {"draft.description", "description"},
      {"draft.location.latitude", "lat"},
      {"draft.location.longitude", "long"},
      {"draft.location.has_coordinates", "lat"},
      {"draft.location.address_id", "address_id"},
      {"draft.location.address", "address_string"},
      {"draft.location.postcode", "zipcode"},
      {"draft.location.district", "address_string"},
      {"draft.location", "lat"},
      {"draft.reporter.email", "email"},
      {"draft.reporter.phone", "phone"},
      {"draft.reporter.name", "last_name"},
      {"draft.reporter.anonymous", "email"},
      {"draft.reporter.language", "attribute[language]"},
      {"draft.reporter.notify_by", "attribute[notify]"},
      {"draft.reporter", "email"},
      {"draft.attachments", "media_url"},
      {"draft.category", "service_code"},
      {"draft.kind", "attribute[kind]"},
      {"draft.external_reference", "attribute[external_reference]"},
      {"draft.confidential", "attribute[confidential]"},
      {"request_key", "Idempotency-Key"},
      {"text", "description"},
      {"command_id", "Idempotency-Key"},
      {"case_id", "service_request_id"},
  };
  for (const auto& [ours, theirs] : kFields) {
    if (absl::StartsWith(message, ours) && message.size() > ours.size() &&
        (message[ours.size()] == ':' || message[ours.size()] == '[' ||
         message[ours.size()] == '.')) {
      std::string rest = message.substr(ours.size());
      if (rest[0] != ':') rest = rest.substr(rest.find(':'));
      return absl::StrCat(theirs, rest);
    }
  }
  return message;
}

std::string StatusOf(t::CaseState state) { return domain::IsOpen(state) ? "open" : "closed"; }

std::string DetailedStatusOf(t::CaseState state) {
  switch (state) {
    case t::ACCEPTED:
    case t::IN_PROGRESS:
    case t::WAITING_FOR_REPORTER:
    case t::REOPENED:
      return "IN_PROCESS";
    case t::ANSWERED:
    case t::REFERRED:
      return "PROCESSED";
    case t::CLOSED:
    case t::MERGED:
    case t::WITHDRAWN:
      return "ARCHIVED";
    case t::INADMISSIBLE:
      return "REJECTED";
    default:
      return "RECEIVED";
  }
}

std::string StatusNotes(t::CaseState state, t::Language l) {
  switch (state) {
    case t::RECEIVED:
      return Pick(l, "Ontvangen.", "Reçu.", "Received.");
    case t::ADMISSIBILITY_PENDING:
      return Pick(l, "Ontvangen; de ontvankelijkheid wordt beoordeeld.",
                  "Reçu ; la recevabilité est en cours d'examen.",
                  "Received; its admissibility is being assessed.");
    case t::INADMISSIBLE:
      return Pick(l, "Niet ontvankelijk verklaard.", "Déclaré irrecevable.",
                  "Declared inadmissible.");
    case t::IN_TRIAGE:
      return Pick(l, "Het Meldpunt zoekt de bevoegde dienst.",
                  "Le point de contact cherche le service compétent.",
                  "The Meldpunt is finding the department in charge.");
    case t::ROUTED:
      return Pick(l, "Doorgestuurd naar de bevoegde dienst.", "Transmis au service compétent.",
                  "Sent to the department in charge.");
    case t::ACCEPTED:
      return Pick(l, "De dienst heeft de melding aanvaard.", "Le service a accepté le dossier.",
                  "The department has taken the case on.");
    case t::IN_PROGRESS:
      return Pick(l, "In behandeling.", "En cours de traitement.", "In progress.");
    case t::WAITING_FOR_REPORTER:
      return Pick(l, "Wacht op bijkomende informatie van de melder.",
                  "En attente d'informations de l'auteur.",
                  "Waiting for more information from the reporter.");
    case t::ANSWERED:
      return Pick(l, "Beantwoord.", "Répondu.", "Answered.");
    case t::CLOSED:
      return Pick(l, "Afgesloten.", "Clôturé.", "Closed.");
    case t::REOPENED:
      return Pick(l, "Heropend.", "Rouvert.", "Reopened.");
    case t::REFERRED:
      return Pick(l, "Doorverwezen naar een andere instantie.", "Renvoyé vers un autre organisme.",
                  "Referred to another body.");
    case t::MERGED:
      return Pick(l, "Samengevoegd met een melding over hetzelfde.",
                  "Fusionné avec un dossier sur le même sujet.",
                  "Merged with a case about the same thing.");
    case t::WITHDRAWN:
      return Pick(l, "Ingetrokken.", "Retiré.", "Withdrawn.");
    default:
      return "";
  }
}

std::optional<absl::Time> ExpectedTime(const t::Case& c) {
  const t::RunningClock* last = nullptr;
  for (const t::RunningClock& clock : c.running_clocks()) {
    if (last == nullptr || events::GetTime(clock.due_at()) > events::GetTime(last->due_at())) {
      last = &clock;
    }
  }
  if (last == nullptr || last->paused() || !last->has_due_at()) return std::nullopt;
  return events::GetTime(last->due_at());
}

Json RequestOf(const t::Case& c, const catalog::Catalog& catalog, t::Language language) {
  const t::CaseDraft& d = c.draft();
  Json r = Json::object();
  r["service_request_id"] = c.reference().empty() ? c.case_id() : c.reference();
  r["status"] = StatusOf(c.state());
  r["status_notes"] = StatusNotes(c.state(), language);
  r["detailed_status"] = DetailedStatusOf(c.state());
  r["meldpunt_state"] = domain::StateName(c.state());
  const catalog::Category* category = catalog.Find(d.category());
  r["service_name"] = catalog.Label(d.category(), language);
  r["service_code"] = category != nullptr ? category->service_code : "";
  r["description"] = d.description();
  if (!c.department().empty()) {
    r["agency_responsible"] = catalog.DepartmentLabel(c.department(), language);
  }
  r["requested_datetime"] = W3cTime(events::GetTime(c.submitted_at()));
  r["updated_datetime"] = W3cTime(events::GetTime(c.updated_at()));
  if (std::optional<absl::Time> expected = ExpectedTime(c); expected && domain::IsOpen(c.state())) {
    r["expected_datetime"] = W3cTime(*expected);
  }
  if (!d.location().address().empty()) r["address"] = d.location().address();
  if (!d.location().address_id().empty()) r["address_id"] = d.location().address_id();
  if (!d.location().postcode().empty()) r["zipcode"] = d.location().postcode();
  if (d.location().has_coordinates()) {
    r["lat"] = d.location().latitude();
    r["long"] = d.location().longitude();
  }
  if (d.attachments_size() > 0) r["media_url"] = d.attachments(0).url();
  return r;
}

Json UpdateOf(const t::Case& c, t::Language language) {
  Json u = Json::object();
  u["update_id"] = c.last_event_id();
  u["service_request_id"] = c.reference().empty() ? c.case_id() : c.reference();
  u["status"] = StatusOf(c.state());
  u["detailed_status"] = DetailedStatusOf(c.state());
  u["updated_datetime"] = W3cTime(events::GetTime(c.updated_at()));
  u["description"] = StatusNotes(c.state(), language);
  return u;
}

}  // namespace meldpunt::open311
