#include "services/intake/reporting_texts.h"

#include <cstddef>
#include <iterator>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "libs/grpc/status.h"
#include "meldpunt/intake/v1/intake.pb.h"

namespace meldpunt::intake::reporting {
namespace {

namespace t = ::meldpunt::types::v1;
namespace ev = ::meldpunt::events::v1;

// Dutch is Flemish administrative usage ("dossier", "klacht", "melding", "ontvankelijk",
// "gegrond", "binnen de termijn"); French puts a no-break space before ":" and "%".
struct Phrase {
  std::string nl, fr, en;
  const std::string& In(Lang lang) const {
    return lang == Lang::kFr ? fr : lang == Lang::kEn ? en : nl;
  }
};

struct Entry {
  T id;
  Phrase phrase;
};

const Entry kTexts[] = {
    {T::kTitle,
     {"Meldpunt: klachten en meldingen $0", "Meldpunt\u00a0: plaintes et signalements $0",
      "Meldpunt: complaints and reports $0"}},
    {T::kSubtitle,
     {"Cijfers van de dossiers ontvangen in $0 (Belgische tijd), berekend uit het logboek van "
      "de dossiers op $1. Zonder persoonsgegevens.",
      "Chiffres des dossiers reçus en $0 (heure belge), calculés à partir du journal des "
      "dossiers le $1. Sans données à caractère personnel.",
      "Figures of the cases received in $0 (Brussels time), computed from the case log on $1. "
      "No personal data."}},
    {T::kNoCases, {"geen dossiers", "aucun dossier", "no cases"}},
    {T::kNoData, {"\u2013", "\u2013", "\u2013"}},
    {T::kNone, {"(geen)", "(aucun)", "(none)"}},
    {T::kTotal, {"totaal", "total", "total"}},
    {T::kDays, {"$0 dagen", "$0\u00a0jours", "$0 days"}},
    {T::kOf, {"$0 van $1", "$0 sur $1", "$0 of $1"}},
    {T::kTileReceived, {"dossiers ontvangen", "dossiers reçus", "cases received"}},
    {T::kTileClosed, {"afgesloten", "clôturés", "closed"}},
    {T::kTileOpen, {"nog open", "encore ouverts", "still open"}},
    {T::kTileMedian,
     {"behandelingstijd, mediaan", "délai de traitement, médiane", "handling time, median"}},
    {T::kTileP90,
     {"behandelingstijd, 90e percentiel", "délai de traitement, 90e centile",
      "handling time, 90th percentile"}},
    {T::kTileReopened, {"heropend", "rouverts", "reopened"}},
    {T::kReceivedBy,
     {"Ontvangen dossiers per $0", "Dossiers reçus par $0", "Cases received by $0"}},
    {T::kReceivedChart, {"Ontvangen dossiers", "Dossiers reçus", "Cases received"}},
    {T::kOnTime, {"Binnen de termijn", "Dans le délai", "Within the term"}},
    {T::kOnTimeChart, {"Dossiers per termijn", "Dossiers par délai", "Cases per term"}},
    {T::kOnTimeNote,
     {"Aandeel binnen de termijn = binnen de termijn / (afgerond + open en termijn overschreden): "
      "een dossier dat nog open is en waarvan de termijn al verstreken is, telt als te laat. Een "
      "geschorste termijn telt als overschreden als hij vóór de schorsing al verstreken was.",
      "Part dans le délai = dans le délai / (terminés + en cours hors délai)\u00a0: un dossier "
      "encore en cours dont le délai est déjà dépassé compte comme en retard. Un délai suspendu "
      "compte comme dépassé s'il l'était déjà avant la suspension.",
      "Share within the term = within the term / (completed + open and overdue): a case still "
      "open whose term has already passed counts as late. A suspended term counts as overdue "
      "when it had passed before the suspension."}},
    {T::kWithinTerm, {"binnen de termijn", "dans le délai", "within the term"}},
    {T::kLate, {"te laat", "en retard", "late"}},
    {T::kOpenOverdue, {"open, termijn overschreden", "en cours, délai dépassé", "open, overdue"}},
    {T::kOpenWithinTerm,
     {"open, binnen de termijn", "en cours, dans le délai", "open, within the term"}},
    {T::kShare, {"aandeel binnen de termijn", "part dans le délai", "share within the term"}},
    {T::kExtended, {"termijn verlengd", "délai prolongé", "term extended"}},
    {T::kClock, {"termijn", "délai", "term"}},
    {T::kBacklog,
     {"Open dossiers volgens ouderdom", "Dossiers en cours par ancienneté", "Open cases by age"}},
    {T::kBacklogChart,
     {"Open dossiers volgens ouderdom, op de dag van de berekening",
      "Dossiers en cours par ancienneté, au jour du calcul",
      "Open cases by age, on the day of computation"}},
    {T::kOpenByState,
     {"Open dossiers per status", "Dossiers en cours par statut", "Open cases by state"}},
    {T::kOpenByStateChart,
     {"Open dossiers per status", "Dossiers en cours par statut", "Open cases by state"}},
    {T::kComplaints, {"Klachten $0", "Plaintes $0", "Complaints $0"}},
    {T::kComplaintsReceived, {"klachten ontvangen", "plaintes reçues", "complaints received"}},
    {T::kAdmissibilityPending,
     {"ontvankelijkheid nog niet beslist", "recevabilité pas encore décidée",
      "admissibility not yet decided"}},
    {T::kAdmissible, {"ontvankelijk", "recevables", "admissible"}},
    {T::kInadmissible, {"onontvankelijk", "irrecevables", "inadmissible"}},
    {T::kAnsweredWithin45,
     {"beantwoord binnen 45 dagen", "réponse dans les 45\u00a0jours", "answered within 45 days"}},
    {T::kAnsweredLater, {"later beantwoord", "réponse plus tardive", "answered later"}},
    {T::kAverageHandling,
     {"gemiddelde behandelingstijd", "délai de traitement moyen", "average handling time"}},
    {T::kOutcomeChart,
     {"Resultaat van de ontvankelijke klachten", "Issue des plaintes recevables",
      "Outcome of the admissible complaints"}},
    {T::kGroundsChart,
     {"Onontvankelijke klachten, per wettelijke grond", "Plaintes irrecevables, par motif légal",
      "Inadmissible complaints, by legal ground"}},
    {T::kOmbudsnormen, {"Ombudsnormen", "Normes de l'ombudsman", "Ombudsman standards"}},
    {T::kChannelsChart, {"Klachten per kanaal", "Plaintes par canal", "Complaints by channel"}},
    {T::kIndicators, {"Indicatoren", "Indicateurs", "Indicators"}},
    {T::kColGroup, {"groep", "groupe", "group"}},
    {T::kColReceived, {"ontvangen", "reçus", "received"}},
    {T::kColClosed, {"afgesloten", "clôturés", "closed"}},
    {T::kColOpen, {"open", "en cours", "open"}},
    {T::kColBacklog0to7, {"open 0-7 dagen", "en cours 0-7\u00a0jours", "open 0-7 days"}},
    {T::kColBacklog8to30, {"open 8-30 dagen", "en cours 8-30\u00a0jours", "open 8-30 days"}},
    {T::kColBacklog31to90, {"open 31-90 dagen", "en cours 31-90\u00a0jours", "open 31-90 days"}},
    {T::kColBacklogOver90,
     {"open meer dan 90 dagen", "en cours plus de 90\u00a0jours", "open over 90 days"}},
    {T::kColHandled, {"behandeld", "traités", "handled"}},
    {T::kColMedianDays, {"mediaan (dagen)", "médiane (jours)", "median (days)"}},
    {T::kColP90Days, {"90e percentiel (dagen)", "90e centile (jours)", "90th percentile (days)"}},
    {T::kColBounces, {"teruggestuurd", "renvoyés", "bounced"}},
    {T::kColReroutes, {"opnieuw doorgestuurd", "réacheminés", "re-routed"}},
    {T::kColAnswered, {"beantwoord", "répondus", "answered"}},
    {T::kColReopened, {"heropend", "rouverts", "reopened"}},
    {T::kColReopenRate, {"aandeel heropend", "taux de réouverture", "reopen rate"}},
    {T::kColDuplicates, {"dubbele meldingen", "doublons", "duplicates"}},
    {T::kColExtensions, {"termijnverlengingen", "prolongations de délai", "term extensions"}},
    {T::kCsvIndicators, {"# indicatoren per $0", "# indicateurs par $0", "# indicators by $0"}},
    {T::kCsvComplaints, {"# klachten $0", "# plaintes $0", "# complaints $0"}},
    {T::kCsvFigure, {"cijfer", "chiffre", "figure"}},
    {T::kCsvValue, {"waarde", "valeur", "value"}},
    {T::kCsvOpen, {"nog open", "encore en cours", "still open"}},
    {T::kCsvGround, {"onontvankelijk: $0", "irrecevable\u00a0: $0", "inadmissible: $0"}},
    {T::kCsvOmbudsnorm,
     {"ombudsnorm: $0", "norme de l'ombudsman\u00a0: $0", "ombudsman standard: $0"}},
    {T::kCsvChannel, {"kanaal: $0", "canal\u00a0: $0", "channel: $0"}},
    {T::kCsvMedium, {"systeem: $0", "système\u00a0: $0", "system: $0"}},
};
static_assert(std::size(kTexts) == static_cast<size_t>(T::kCount), "a text of T is missing");

template <typename Key>
struct Named {
  Key key;
  Phrase phrase;
};

const Named<t::CaseKind> kKinds[] = {
    {t::REPORT, {"melding", "signalement", "report"}},
    {t::COMPLAINT, {"klacht", "plainte", "complaint"}},
    {t::SUGGESTION, {"suggestie", "suggestion", "suggestion"}},
    {t::COMPLIMENT, {"compliment", "compliment", "compliment"}},
    {t::QUESTION, {"vraag", "question", "question"}},
};

const Named<t::CaseState> kStates[] = {
    {t::RECEIVED, {"ontvangen", "reçu", "received"}},
    {t::ADMISSIBILITY_PENDING,
     {"ontvankelijkheid in onderzoek", "recevabilité à l'examen", "admissibility under review"}},
    {t::INADMISSIBLE, {"onontvankelijk", "irrecevable", "inadmissible"}},
    {t::IN_TRIAGE,
     {"in triage bij het Meldpunt", "en cours de tri au Meldpunt", "in triage at the Meldpunt"}},
    {t::ROUTED,
     {"doorgestuurd naar een dienst", "transmis à un service", "routed to a department"}},
    {t::ACCEPTED,
     {"aanvaard door de dienst", "accepté par le service", "accepted by the department"}},
    {t::IN_PROGRESS, {"in behandeling", "en cours de traitement", "in progress"}},
    {t::WAITING_FOR_REPORTER,
     {"wacht op de melder", "en attente du demandeur", "waiting for the reporter"}},
    {t::ANSWERED, {"beantwoord", "répondu", "answered"}},
    {t::CLOSED, {"afgesloten", "clôturé", "closed"}},
    {t::REOPENED, {"heropend", "rouvert", "reopened"}},
    {t::REFERRED, {"doorverwezen", "réorienté", "referred"}},
    {t::MERGED, {"samengevoegd", "fusionné", "merged"}},
    {t::WITHDRAWN, {"ingetrokken", "retiré", "withdrawn"}},
};

const Named<t::Channel> kChannels[] = {
    {t::WEB, {"website", "site web", "website"}},
    {t::PHONE, {"telefoon", "téléphone", "phone"}},
    {t::EMAIL, {"e-mail", "e-mail", "e-mail"}},
    {t::COUNTER, {"loket", "guichet", "counter"}},
    {t::LETTER, {"brief", "lettre", "letter"}},
    {t::APP, {"app", "application", "app"}},
    {t::PARTNER_SYSTEM, {"partnersysteem", "système partenaire", "partner system"}},
};

const Named<v1::ReportGrouping> kGroupings[] = {
    {v1::GROUP_NONE, {"geen", "aucun", "none"}},
    {v1::GROUP_KIND, {"soort", "type", "kind"}},
    {v1::GROUP_CATEGORY, {"categorie", "catégorie", "category"}},
    {v1::GROUP_DEPARTMENT, {"dienst", "service", "department"}},
    {v1::GROUP_CHANNEL, {"kanaal", "canal", "channel"}},
    {v1::GROUP_DISTRICT, {"wijk", "quartier", "district"}},
    {v1::GROUP_MONTH, {"maand", "mois", "month"}},
};

const Named<ev::ComplaintOutcome> kOutcomes[] = {
    {ev::FOUNDED, {"gegrond", "fondée", "founded"}},
    {ev::PARTLY_FOUNDED, {"deels gegrond", "partiellement fondée", "partly founded"}},
    {ev::UNFOUNDED, {"ongegrond", "non fondée", "unfounded"}},
};

// The grounds on which a complaint need not be handled (Bestuursdecreet 2018 title II ch. 5,
// Decreet Lokaal Bestuur art. 302-303, the local complaints regulation), as sentences.
const Named<ev::InadmissibilityGround> kGrounds[] = {
    {ev::IDENTITY_UNKNOWN,
     {"de identiteit of het adres van de klager is onbekend",
      "l'identité ou l'adresse du plaignant est inconnue",
      "the complainant's identity or address is unknown"}},
    {ev::FACTS_OLDER_THAN_ONE_YEAR,
     {"de feiten dateren van meer dan een jaar vóór de klacht",
      "les faits datent de plus d'un an avant la plainte",
      "the facts date from more than a year before the complaint"}},
    {ev::ALREADY_HANDLED,
     {"de klacht betreft feiten die al eerder als klacht behandeld werden",
      "la plainte porte sur des faits qui ont déjà été traités comme plainte",
      "the complaint concerns facts already handled as a complaint"}},
    {ev::MANIFESTLY_UNFOUNDED,
     {"de klacht is kennelijk ongegrond", "la plainte est manifestement non fondée",
      "the complaint is manifestly unfounded"}},
    {ev::NO_INTEREST,
     {"de klager kan geen belang aantonen", "le plaignant ne peut justifier d'aucun intérêt",
      "the complainant cannot show an interest"}},
    {ev::OTHER_PROCEDURE,
     {"er staat een andere beroepsprocedure open, of de klager heeft die niet gebruikt",
      "une autre procédure de recours est ouverte, ou le plaignant ne l'a pas utilisée",
      "another appeal procedure is open, or the complainant did not use it"}},
};

const Named<const char*> kClocks[] = {
    {"acknowledge", {"ontvangstmelding", "accusé de réception", "acknowledgement"}},
    {"admissibility", {"ontvankelijkheid", "recevabilité", "admissibility"}},
    {"answer", {"antwoord", "réponse", "answer"}},
    {"department_acceptance",
     {"aanvaarding door de dienst", "acceptation par le service", "acceptance by the department"}},
    {"resolve", {"oplossing", "résolution", "resolution"}},
};

const Phrase kMonths[] = {
    {"januari", "janvier", "January"},
    {"februari", "février", "February"},
    {"maart", "mars", "March"},
    {"april", "avril", "April"},
    {"mei", "mai", "May"},
    {"juni", "juin", "June"},
    {"juli", "juillet", "July"},
    {"augustus", "août", "August"},
    {"september", "septembre", "September"},
    {"oktober", "octobre", "October"},
    {"november", "novembre", "November"},
    {"december", "décembre", "December"},
};

template <typename Key, size_t N>
const Phrase* Find(const Named<Key> (&table)[N], const Key& key) {
  for (const Named<Key>& n : table) {
    if (n.key == key) return &n.phrase;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<Lang> LanguageOf(t::Language language, const std::string& field) {
  switch (language) {
    case t::LANGUAGE_UNSPECIFIED:
    case t::NL:
      return Lang::kNl;
    case t::FR:
      return Lang::kFr;
    case t::EN:
      return Lang::kEn;
    default:
      return grpc_util::FieldError(field, "must be NL, FR or EN (unspecified: NL)");
  }
}

const char* LangCode(Lang lang) {
  return lang == Lang::kFr ? "fr" : lang == Lang::kEn ? "en" : "nl";
}

const std::string& Text(Lang lang, T id) {
  for (const Entry& e : kTexts) {
    if (e.id == id) return e.phrase.In(lang);
  }
  static const std::string kMissing = "?";  // never: reporting_test checks every T
  return kMissing;
}

std::string KindName(Lang lang, t::CaseKind kind) {
  const Phrase* p = Find(kKinds, kind);
  return p ? p->In(lang) : t::CaseKind_Name(kind);
}

std::string StateName(Lang lang, t::CaseState state) {
  const Phrase* p = Find(kStates, state);
  return p ? p->In(lang) : t::CaseState_Name(state);
}

std::string ChannelName(Lang lang, t::Channel channel) {
  const Phrase* p = Find(kChannels, channel);
  return p ? p->In(lang) : t::Channel_Name(channel);
}

std::string GroupingName(Lang lang, int grouping) {
  const Phrase* p = Find(kGroupings, static_cast<v1::ReportGrouping>(grouping));
  return p ? p->In(lang) : absl::StrCat(grouping);
}

std::string OutcomeName(Lang lang, ev::ComplaintOutcome outcome) {
  const Phrase* p = Find(kOutcomes, outcome);
  return p ? p->In(lang) : ev::ComplaintOutcome_Name(outcome);
}

std::string GroundText(Lang lang, const std::string& ground) {
  ev::InadmissibilityGround g;
  if (!ev::InadmissibilityGround_Parse(ground, &g)) return ground;
  const Phrase* p = Find(kGrounds, g);
  return p ? p->In(lang) : ground;
}

std::string ClockName(Lang lang, const std::string& clock) {
  for (const Named<const char*>& n : kClocks) {
    if (clock == n.key) return n.phrase.In(lang);
  }
  return clock;
}

std::string MonthName(Lang lang, const std::string& month) {
  int m = 0;
  if (month.size() != 7 || month[4] != '-' || !absl::ascii_isdigit(month[5]) ||
      !absl::ascii_isdigit(month[6])) {
    return month;
  }
  m = (month[5] - '0') * 10 + (month[6] - '0');
  if (m < 1 || m > 12) return month;
  return absl::StrCat(kMonths[m - 1].In(lang), " ", month.substr(0, 4));
}

std::string Decimal(Lang lang, double value, int decimals) {
  std::string out = absl::StrFormat("%.*f", decimals, value);
  if (lang != Lang::kEn) absl::StrReplaceAll({{".", ","}}, &out);
  return out;
}

std::string Percent(Lang lang, double share) {
  const std::string number = absl::StrFormat("%.0f", 100 * share);
  return lang == Lang::kEn ? absl::StrCat(number, "%") : absl::StrCat(number, "\u00a0%");
}

}  // namespace meldpunt::intake::reporting
