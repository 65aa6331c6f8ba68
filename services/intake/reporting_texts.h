// Every word the reports show a reader, in Dutch (the default), French and English: titles,
// column labels, case kinds, states, channels, complaint outcomes, clocks and the legal grounds
// of inadmissibility as sentences. One table, so that a translator reads and fixes one file.
// Category and department names stay ids until the category catalogue brings their labels.
//
//   absl::StatusOr<Lang> lang = LanguageOf(request.language());  // INVALID_ARGUMENT naming it
//   const std::string title = Text(*lang, T::kTitle);
//   const std::string kind = KindName(*lang, types::v1::COMPLAINT);  // "klacht"
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "meldpunt/events/v1/events.pb.h"
#include "meldpunt/types/v1/case.pb.h"

namespace meldpunt::intake::reporting {

enum class Lang { kNl, kFr, kEn };

// The language of a request: unspecified is Dutch; a value the enum does not know is
// INVALID_ARGUMENT naming `field`.
absl::StatusOr<Lang> LanguageOf(types::v1::Language language,
                                const std::string& field = "language");
// The value of the html element's lang attribute: "nl", "fr", "en".
const char* LangCode(Lang lang);

// The fixed texts of the reports. "$0".."$2" are filled in with absl::Substitute.
enum class T {
  kTitle,             // <title> and heading: "$0" = the year
  kSubtitle,          // "$0" = the year, "$1" = the time of computation
  kNoCases,           // an empty chart
  kNoData,            // a figure over nothing (never 0): the en dash
  kNone,              // a group without a value
  kTotal,             // the total row
  kDays,              // "$0" = a number of days
  kOf,                // "$0 of $1"
  kTileReceived,      //
  kTileClosed,        //
  kTileOpen,          //
  kTileMedian,        //
  kTileP90,           //
  kTileReopened,      //
  kReceivedBy,        // "$0" = the grouping, in words
  kReceivedChart,     //
  kOnTime,            // the section on the terms
  kOnTimeChart,       //
  kOnTimeNote,        // how the four categories and the share are counted
  kWithinTerm,        // closed within the term
  kLate,              // closed late
  kOpenOverdue,       // open and overdue
  kOpenWithinTerm,    // open, still within the term
  kShare,             // share within the term
  kExtended,          // cases whose term was extended
  kClock,             //
  kBacklog,           //
  kBacklogChart,      //
  kOpenByState,       //
  kOpenByStateChart,  //
  kComplaints,        // "$0" = the year
  kComplaintsReceived,
  kAdmissibilityPending,
  kAdmissible,
  kInadmissible,
  kAnsweredWithin45,
  kAnsweredLater,
  kAverageHandling,
  kOutcomeChart,
  kGroundsChart,
  kOmbudsnormen,
  kChannelsChart,
  kIndicators,
  // Column labels of the indicators (HTML table and CSV header).
  kColGroup,
  kColReceived,
  kColClosed,
  kColOpen,
  kColBacklog0to7,
  kColBacklog8to30,
  kColBacklog31to90,
  kColBacklogOver90,
  kColHandled,
  kColMedianDays,
  kColP90Days,
  kColBounces,
  kColReroutes,
  kColAnswered,
  kColReopened,
  kColReopenRate,
  kColDuplicates,
  kColExtensions,  // extensions, summed
  // CSV only.
  kCsvIndicators,  // "$0" = the grouping
  kCsvComplaints,  // "$0" = the year
  kCsvFigure,
  kCsvValue,
  kCsvOpen,
  kCsvGround,      // "$0" = the ground in words
  kCsvOmbudsnorm,  // "$0" = the label
  kCsvChannel,     // "$0" = the channel in words
  kCsvMedium,      // "$0" = the submitting system
  kCount
};

const std::string& Text(Lang lang, T id);

// Enum values in words ("klacht", "plainte", "complaint"); a value without words, its id.
std::string KindName(Lang lang, types::v1::CaseKind kind);
std::string StateName(Lang lang, types::v1::CaseState state);
std::string ChannelName(Lang lang, types::v1::Channel channel);
std::string GroupingName(Lang lang, int grouping);  // intake.v1.ReportGrouping
// "FOUNDED", "PARTLY_FOUNDED", "UNFOUNDED" (as the fold keeps the outcome) in words.
std::string OutcomeName(Lang lang, events::v1::ComplaintOutcome outcome);
// The legal ground of inadmissibility as a sentence; `ground` is the enum's name, as the fold
// keeps it ("FACTS_OLDER_THAN_ONE_YEAR"); an unknown name stays as it is.
std::string GroundText(Lang lang, const std::string& ground);
// The clocks of the default policies ("answer": "antwoord"); any other clock, its name.
std::string ClockName(Lang lang, const std::string& clock);
// "maart 2025" for "2025-03"; anything else as it is.
std::string MonthName(Lang lang, const std::string& month);

// A number with one or two decimals in the reader's notation ("3,5" in Dutch and French).
std::string Decimal(Lang lang, double value, int decimals);
// A share in [0, 1] as a percentage ("50 %" in Dutch and French, "50%" in English).
std::string Percent(Lang lang, double share);

}  // namespace meldpunt::intake::reporting
