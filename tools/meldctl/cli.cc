#include "tools/meldctl/cli.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "meldpunt/events/v1/events.pb.h"
#include "meldpunt/types/v1/case.pb.h"

namespace meldpunt::meldctl {
namespace {

bool Contains(const std::vector<absl::string_view>& list, absl::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

template <size_t N>
bool Contains(const absl::string_view (&list)[N], absl::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

// Options that never take a value, whatever the command: the parser must know them before it
// knows the command (options may come before it).
constexpr absl::string_view kAllFlags[] = {"json",   "anonymous",        "confidential", "overdue",
                                           "all",    "admissible",       "inadmissible", "breached",
                                           "notify", "registered-letter"};

// The options of every command on one case.
std::vector<absl::string_view> WithCommon(std::vector<absl::string_view> options) {
  options.insert(options.end(), {"actor", "actor-name", "command-id"});
  return options;
}

std::vector<CommandSpec> MakeCommands() {
  return {
      // Cases: submit and follow.
      {"submit",
       Group::kCases,
       "--kind KIND --category CAT --description TEXT [--channel CHANNEL] [--priority PRIORITY]\n"
       "         [--name N] [--email E] [--phone P] [--address A] [--postcode NNNN]\n"
       "         [--language nl|fr|en] [--anonymous] [--confidential] [--external-reference REF]\n"
       "         [--system SYSTEM] [--request-key KEY] [--correlation-id ID]\n"
       "         [--received-at TIME [--registered-letter]]",
       "submit a case (kind REPORT, channel WEB, system meldctl and a fresh request key unless "
       "given); --received-at: when a letter, call or counter visit (channel LETTER, PHONE, "
       "COUNTER) was received, if registered later (the legal terms run from it; the team, "
       "admins and the systems of cases.received_at_systems); --registered-letter: a registered "
       "letter (channel LETTER), --received-at is the "
       "date it was posted",
       0,
       0,
       {"kind", "category", "description", "channel", "priority", "name", "email", "phone",
        "address", "postcode", "language", "external-reference", "system", "request-key",
        "correlation-id", "received-at"},
       {"anonymous", "confidential", "registered-letter"},
       {}},
      {"get",
       Group::kCases,
       "CASE",
       "the case as the intake knows it (with triage_reason while IN_TRIAGE, and received_at "
       "when the case was received before it was registered)",
       1,
       1,
       {},
       {},
       {}},
      {"list",
       Group::kCases,
       "[--kind KIND] [--state STATE] [--department D] [--category C] [--overdue]\n"
       "         [--from TIME] [--to TIME] [--page-size N] [--page-token T] [--all]",
       "cases, newest first, one page (default 50) or, with --all, every page; a last column "
       "triage_reason (cut at 80 characters) when a listed case has one",
       0,
       0,
       {"kind", "state", "department", "category", "from", "to", "page-size", "page-token"},
       {"overdue", "all"},
       {}},
      {"triage",
       Group::kCases,
       "[--kind KIND] [--category C] [--from TIME] [--to TIME] [--page-size N] [--page-token T]\n"
       "         [--all]",
       "the Meldpunt's triage queue (list --state IN_TRIAGE; role team): the cases routing could "
       "not place, with why, oldest first among those fetched (one page, newest cases, unless "
       "--all fetches the whole queue); send one on with reassign",
       0,
       0,
       {"kind", "category", "from", "to", "page-size", "page-token"},
       {"all"},
       {}},
      {"categories",
       Group::kCases,
       "[--language nl|fr|en] [--all]",
       "the category catalogue (what submit --category takes): each category under its parent, "
       "with its label in the language (default nl) and its public service code; --all: also "
       "the inactive ones, marked",
       0,
       0,
       {"language"},
       {"all"},
       {}},
      {"history", Group::kCases, "CASE", "every event of the case, in order", 1, 1, {}, {}, {}},

      // Casework: departments and the Meldpunt team.
      {"accept",
       Group::kCaseWork,
       "CASE [--assignee A]",
       "the department takes the routed case",
       1,
       1,
       WithCommon({"assignee"}),
       {},
       {}},
      {"bounce",
       Group::kCaseWork,
       "CASE --reason R",
       "the department is not competent: routing sends the case elsewhere",
       1,
       1,
       WithCommon({"reason"}),
       {},
       {"reason"}},
      {"request-info",
       Group::kCaseWork,
       "CASE --question Q",
       "ask the reporter; the case waits for the answer",
       1,
       1,
       WithCommon({"question"}),
       {},
       {"question"}},
      {"answer",
       Group::kCaseWork,
       "CASE --answer TEXT [--outcome OUTCOME] [--ombudsnorm N]",
       "the final answer (a complaint needs --outcome, other kinds must not have one)",
       1,
       1,
       WithCommon({"answer", "outcome", "ombudsnorm"}),
       {},
       {"answer"}},
      {"close",
       Group::kCaseWork,
       "CASE [--reason R]",
       "close an answered, inadmissible, referred or reopened case",
       1,
       1,
       WithCommon({"reason"}),
       {},
       {}},
      {"reassign",
       Group::kCaseWork,
       "CASE --department D [--team T] [--assignee A] [--reason R]",
       "route the case to another department (out of IN_TRIAGE, routing routes it there: "
       "CaseRouted, rule reassigned)",
       1,
       1,
       WithCommon({"department", "team", "assignee", "reason"}),
       {},
       {"department"}},
      {"priority",
       Group::kCaseWork,
       "CASE --set LOW|NORMAL|HIGH|URGENT --reason R",
       "change the case's priority (role team): its running clocks follow the new priority's "
       "policy, and routing decides with it from then on",
       1,
       1,
       WithCommon({"set", "reason"}),
       {},
       {"set", "reason"}},
      {"admissibility",
       Group::kCaseWork,
       "CASE --admissible | --inadmissible --ground GROUND --motivation TEXT",
       "decide whether a complaint is admissible",
       1,
       1,
       WithCommon({"ground", "motivation"}),
       {"admissible", "inadmissible"},
       {}},
      {"merge",
       Group::kCaseWork,
       "CASE --into MASTER",
       "mark the case a duplicate of another open case",
       1,
       1,
       WithCommon({"into"}),
       {},
       {"into"}},
      {"refer",
       Group::kCaseWork,
       "CASE --body B --reason R",
       "refer the case to an outside body",
       1,
       1,
       WithCommon({"body", "reason"}),
       {},
       {"body", "reason"}},

      // The reporter's commands.
      {"provide-info",
       Group::kReporter,
       "CASE --text T",
       "the reporter's answer to a question, or extra information",
       1,
       1,
       WithCommon({"text"}),
       {},
       {"text"}},
      {"withdraw",
       Group::kReporter,
       "CASE [--reason R]",
       "the reporter withdraws the case",
       1,
       1,
       WithCommon({"reason"}),
       {},
       {}},
      {"reopen",
       Group::kReporter,
       "CASE --reason R",
       "the reporter is not satisfied with the answer",
       1,
       1,
       WithCommon({"reason"}),
       {},
       {"reason"}},

      // Operations.
      {"erase",
       Group::kOperations,
       "CASE --reason R [--actor ID] [--actor-name NAME] [--command-id ID]",
       "erase the reporter's personal data for good (admin); the case stays",
       1,
       1,
       WithCommon({"reason"}),
       {},
       {"reason"}},
      {"clocks",
       Group::kOperations,
       "CASE",
       "the deadline clocks of the case (deadline-watch)",
       1,
       1,
       {},
       {},
       {}},
      {"clock",
       Group::kOperations,
       "extend CASE --clock NAME (--due TIME | --term TERM) --reason TEXT [--notify]\n"
       "        | suspend CASE --clock NAME --reason TEXT | resume CASE --clock NAME --reason "
       "TEXT\n"
       "        [--command-id ID]",
       "the Meldpunt team changes a running clock (deadline-watch; roles team, admin): a later due "
       "time or an extra term (10d, 2wd) from the current due time, with --notify a letter to the "
       "reporter; suspend it; resume it, due later by the time suspended",
       1,
       2,
       {"clock", "due", "term", "reason", "command-id"},
       {"notify"},
       {"clock", "reason"}},
      {"deadlines",
       Group::kOperations,
       "[--due-before TIME] [--breached] [--department D] [--kind K] [--page-size N] [--page-token "
       "T]",
       "clocks not stopped, earliest due first (deadline-watch)",
       0,
       0,
       {"due-before", "department", "kind", "page-size", "page-token"},
       {"breached"},
       {}},
      {"watch",
       Group::kOperations,
       "[--department D] [--kind K] [--count N]",
       "follow warnings, breaches and escalations as they happen (until Ctrl-C, --count alerts "
       "or --timeout seconds; default: no end)",
       0,
       0,
       {"department", "kind", "count"},
       {},
       {}},
      {"rebuild-timers",
       Group::kOperations,
       "",
       "rebuild deadline-watch's timers and clocks from the log (--timeout defaults to 1800 here)",
       0,
       0,
       {},
       {},
       {}},
      {"rebuild-deliveries",
       Group::kOperations,
       "",
       "rebuild notification's outbox and delivery records from the log after Redis lost them; "
       "messages without an outcome on the log are sent (--timeout defaults to 1800 here)",
       0,
       0,
       {},
       {},
       {}},
      {"report",
       Group::kOperations,
       "indicators|complaints|export [--from T --to T] [--year Y] [--group-by G] [--format "
       "csv|html]\n"
       "         [--language nl|fr|en] [--out FILE]",
       "figures: indicators of a period by kind, category, department, channel, district or "
       "month; the complaints report of a year; the annual report as CSV or HTML, in Dutch "
       "(default), French or English (--language, export only)",
       1,
       1,
       {"from", "to", "year", "group-by", "format", "language", "out"},
       {},
       {}},
      {"deliveries",
       Group::kOperations,
       "CASE",
       "what was sent about the case (notification)",
       1,
       1,
       {},
       {},
       {}},
      {"retry",
       Group::kOperations,
       "CASE --key KEY",
       "send a failed or dead-lettered message again, same key (notification; keys: deliveries)",
       1,
       1,
       {"key"},
       {},
       {"key"}},
      {"preview",
       Group::kOperations,
       "LETTER [--case CASE] [--language nl|fr|en]",
       "a letter rendered for a case, sent to nobody (notification)",
       1,
       1,
       {"case", "language"},
       {},
       {}},
      {"explain",
       Group::kOperations,
       "--category CAT [--kind KIND] [--description TEXT] [--channel C] [--postcode NNNN]\n"
       "        [--lat LAT --lon LON] [--priority P] [--system S] [--bounced DEPT,DEPT] [--hops N]",
       "where routing would send such a case, and why; changes nothing",
       0,
       0,
       {"category", "kind", "description", "channel", "postcode", "lat", "lon", "priority",
        "system", "bounced", "hops"},
       {},
       {"category"}},
      {"workload",
       Group::kOperations,
       "[--department D]",
       "open cases, due within 24 hours, overdue and capacity per department, team and member "
       "(a department's own only, for the department role); a case counts by its earliest "
       "running clock",
       0,
       0,
       {"department"},
       {},
       {}},
      {"rules",
       Group::kOperations,
       "",
       "the routing rules in force: departments, categories, rules, districts",
       0,
       0,
       {},
       {},
       {}},
      {"reload-rules",
       Group::kOperations,
       "",
       "make routing read its rules file again (a broken file is refused, the old rules stay)",
       0,
       0,
       {},
       {},
       {}},
      {"rebuild",
       Group::kOperations,
       "",
       "rebuild the case projection from the log (--timeout defaults to 1800 here)",
       0,
       0,
       {},
       {},
       {}},
      {"dlq",
       Group::kOperations,
       "list [--service S] [--all] | replay ID [--service S] | drop ID --reason TEXT "
       "[--service S]",
       "case events a service could not handle (meldpunt.case-events.dlq.v1): list them (every "
       "service unless --service intake|routing|deadline-watch|notification; --all: also closed "
       "ones), replay one into its service, or drop one with a reason",
       1,
       2,
       {"service", "reason"},
       {"all"},
       {}},

      {"jwk",
       Group::kOperations,
       "--kid KID --alg ES256|RS256|... PUBLIC_KEY.pem",
       "print the JWK of a PEM public key, to publish in a token key set (auth.jwt.key_set_file); "
       "no server is called",
       1,
       1,
       {"kid", "alg"},
       {},
       {"kid", "alg"}},

      {"help",
       Group::kOther,
       "[COMMAND]",
       "this text, or the help of one command",
       0,
       1,
       {},
       {},
       {}},
  };
}

// "LABEL: A, B, C\n", wrapped at 100 columns under the first name.
std::string EnumList(absl::string_view label, const google::protobuf::EnumDescriptor* descriptor) {
  constexpr size_t kWidth = 100;
  std::string out = absl::StrCat(label, ": ");
  const size_t indent = out.size();
  size_t column = out.size();
  for (int i = 0, n = 0; i < descriptor->value_count(); ++i) {
    if (descriptor->value(i)->number() == 0) continue;
    const std::string& name = descriptor->value(i)->name();
    if (n++ > 0) {
      out += ",";
      ++column;
      if (column + 1 + name.size() + 1 > kWidth) {
        out += '\n';
        out.append(indent, ' ');
        column = indent;
      } else {
        out += " ";
        ++column;
      }
    }
    out += name;
    column += name.size();
  }
  return out + "\n";
}

std::string Line(absl::string_view left, absl::string_view right) {
  return absl::StrCat("  ", left, "\n      ", right, "\n");
}

}  // namespace

std::string Options::Get(const std::string& name, const std::string& fallback) const {
  auto it = values.find(name);
  return it == values.end() ? fallback : it->second;
}

const std::vector<CommandSpec>& Commands() {
  static const std::vector<CommandSpec>* commands = new std::vector<CommandSpec>(MakeCommands());
  return *commands;
}

const CommandSpec* FindCommand(absl::string_view name) {
  for (const CommandSpec& spec : Commands()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

std::string CommandUsage(const CommandSpec& spec) {
  std::string out = absl::StrCat(
      "usage: meldctl [global options] COMMAND [options]\n",
      Line(absl::StrCat(spec.name, spec.synopsis.empty() ? "" : " ", spec.synopsis), spec.summary));
  if (spec.group == Group::kCaseWork || spec.group == Group::kReporter) {
    absl::StrAppend(&out, "      also [--actor ID] (default ",
                    spec.group == Group::kCaseWork ? kCaseWorkActor : kReporterActor,
                    ") [--actor-name NAME] [--command-id ID]\n");
  }
  return out;
}

std::string Usage() {
  std::string out = R"(usage: meldctl [global options] COMMAND [options]

global options (anywhere on the line):
  --intake HOST:PORT        intake gRPC address (default 127.0.0.1:50051)
  --routing HOST:PORT       routing gRPC address (default 127.0.0.1:50052)
  --deadline HOST:PORT      deadline-watch gRPC address (default 127.0.0.1:50053)
  --notification HOST:PORT  notification gRPC address (default 127.0.0.1:50054)
  --timeout SECONDS         call deadline (default 10)
  --json                    print the response as JSON
  --token JWT               bearer token sent with every call (default: $MELDPUNT_TOKEN)
  --token-file FILE         read the bearer token from FILE (default: $MELDPUNT_TOKEN_FILE)
  --ca FILE                 connect with TLS, trusting the CA certificates in FILE (PEM;
                            default: $MELDPUNT_TLS_CA); without it the connection is plaintext
  --cert FILE, --key FILE   client certificate and key for mTLS (PEM; default:
                            $MELDPUNT_TLS_CERT, $MELDPUNT_TLS_KEY)
  --tls-name NAME           the server name to verify when it differs from the address host
)";
  struct Section {
    Group group;
    const char* title;
  };
  const Section sections[] = {
      {Group::kCases, "cases"},
      {Group::kCaseWork,
       "casework (departments and the Meldpunt team; --actor defaults to team:meldpunt)"},
      {Group::kReporter, "on behalf of the reporter (--actor defaults to reporter)"},
      {Group::kOperations, "operations"},
      {Group::kOther, "other"},
  };
  for (const Section& section : sections) {
    absl::StrAppend(&out, "\n", section.title, ":\n");
    for (const CommandSpec& spec : Commands()) {
      if (spec.group != section.group) continue;
      absl::StrAppend(&out,
                      Line(absl::StrCat(spec.name, spec.synopsis.empty() ? "" : " ", spec.synopsis),
                           spec.summary));
    }
  }
  namespace t = ::meldpunt::types::v1;
  namespace ev = ::meldpunt::events::v1;
  absl::StrAppend(
      &out,
      "\nEvery casework and reporter command also takes [--actor ID] [--actor-name NAME]\n"
      "[--command-id ID] (an actor ID is like department:roads, team:meldpunt, reporter) and\n"
      "prints the case after the command and its event_id. Without --command-id meldctl makes\n"
      "one up; when a command fails with UNAVAILABLE or DEADLINE_EXCEEDED it prints that id:\n"
      "repeating the command with it is safe.\n",
      "\nCASE is a case id (MP-XXXXXXXXXXXXX) or its reference (MP-2026-XXXXXXXXC).\n",
      EnumList("KIND", t::CaseKind_descriptor()), EnumList("STATE", t::CaseState_descriptor()),
      EnumList("CHANNEL", t::Channel_descriptor()), EnumList("PRIORITY", t::Priority_descriptor()),
      EnumList("OUTCOME", ev::ComplaintOutcome_descriptor()),
      EnumList("GROUND", ev::InadmissibilityGround_descriptor()),
      "Enum values are case-insensitive, '-' for '_'. TIME: RFC 3339 (2026-03-01T09:30:00Z)\n"
      "or a date (2026-03-01, midnight UTC); --from is inclusive, --to exclusive.\n",
      "\nOutput: key=value lines (each value on one line: newline as \\n, backslash as \\\\),\n"
      "a table for list and triage (then next_page_token= when there is more), a tree for\n"
      "categories, or JSON with --json.\n"
      "Exit status: 0 done; 2 usage error or INVALID_ARGUMENT (the fields at fault are\n"
      "printed); 1 any other error.\n");
  return out;
}

absl::Status UsageError(absl::string_view message) {
  return absl::InvalidArgumentError(std::string(message));
}

absl::StatusOr<Options> Parse(const std::vector<std::string>& args) {
  Options out;
  std::vector<std::string> positional;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || arg.size() < 2 || arg[0] != '-') {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      out.help = true;
      continue;
    }
    if (!absl::StartsWith(arg, "--")) return UsageError(absl::StrCat("unknown option ", arg));
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (Contains(kAllFlags, name)) {
      if (value.has_value()) return UsageError(absl::StrCat("option --", name, " takes no value"));
      if (!out.flags.insert(name).second) {
        return UsageError(absl::StrCat("option --", name, " given more than once"));
      }
      continue;
    }
    if (!value.has_value()) {
      if (i + 1 >= args.size())
        return UsageError(absl::StrCat("option --", name, " needs a value"));
      value = args[++i];
    }
    if (!out.values.emplace(name, *value).second) {
      return UsageError(absl::StrCat("option --", name, " given more than once"));
    }
  }

  if (positional.empty()) {
    if (out.help) return out;
    return UsageError("no command given");
  }
  out.command = positional.front();
  out.args.assign(positional.begin() + 1, positional.end());
  const CommandSpec* spec = FindCommand(out.command);
  if (spec == nullptr) return UsageError(absl::StrCat("unknown command '", out.command, "'"));
  if (out.help) return out;

  for (const auto& [name, value] : out.values) {
    if (!Contains(kGlobalOptions, name) && !Contains(spec->options, name)) {
      return UsageError(absl::StrCat("unknown option --", name, " for '", spec->name, "'"));
    }
  }
  for (const std::string& name : out.flags) {
    if (!Contains(kGlobalFlags, name) && !Contains(spec->flags, name)) {
      return UsageError(absl::StrCat("unknown option --", name, " for '", spec->name, "'"));
    }
  }
  const int count = static_cast<int>(out.args.size());
  if (count < spec->min_args) {
    return UsageError(absl::StrCat(spec->name, " needs a CASE (case id or reference)"));
  }
  if (count > spec->max_args) {
    return UsageError(absl::StrCat("unexpected argument '", out.args[spec->max_args], "' for '",
                                   spec->name, "'"));
  }
  for (absl::string_view name : spec->required) {
    auto it = out.values.find(std::string(name));
    if (it == out.values.end() || absl::StripAsciiWhitespace(it->second).empty()) {
      return UsageError(absl::StrCat(spec->name, " needs --", name));
    }
  }
  if (out.Has("timeout")) {
    auto timeout = ParseIntOption("timeout", out.Get("timeout"), 1, 86400);
    if (!timeout.ok()) return timeout.status();
  }
  for (const char* file : {"ca", "cert", "key", "token-file"}) {
    if (out.Has(file) && access(out.Get(file).c_str(), R_OK) != 0) {
      return UsageError(absl::StrCat("--", file, ": cannot read '", out.Get(file), "'"));
    }
  }
  if (out.Has("cert") != out.Has("key")) {
    return UsageError("--cert and --key: give both (the client certificate and its key)");
  }
  return out;
}

std::string EnumNames(const google::protobuf::EnumDescriptor* descriptor) {
  std::vector<std::string> names;
  for (int i = 0; i < descriptor->value_count(); ++i) {
    if (descriptor->value(i)->number() != 0) names.push_back(descriptor->value(i)->name());
  }
  return absl::StrJoin(names, ", ");
}

absl::StatusOr<int> ParseEnumOption(absl::string_view option, absl::string_view text,
                                    const google::protobuf::EnumDescriptor* descriptor) {
  std::string name = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  absl::StrReplaceAll({{"-", "_"}}, &name);
  const google::protobuf::EnumValueDescriptor* value = descriptor->FindValueByName(name);
  if (value == nullptr || value->number() == 0) {
    return UsageError(
        absl::StrCat("--", option, ": unknown value '", text, "'; one of ", EnumNames(descriptor)));
  }
  return value->number();
}

absl::StatusOr<absl::Time> ParseTimeOption(absl::string_view option, absl::string_view text) {
  const std::string input(absl::StripAsciiWhitespace(text));
  absl::Time time;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, input, &time, &error)) return time;
  if (absl::ParseTime("%Y-%m-%d", input, absl::UTCTimeZone(), &time, &error)) return time;
  return UsageError(absl::StrCat("--", option, ": '", text,
                                 "' is not an RFC 3339 time (2026-03-01T09:30:00Z) or a date "
                                 "(2026-03-01)"));
}

absl::StatusOr<int64_t> ParseIntOption(absl::string_view option, absl::string_view text,
                                       int64_t min, int64_t max) {
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < min || value > max) {
    return UsageError(
        absl::StrCat("--", option, ": '", text, "' is not a whole number from ", min, " to ", max));
  }
  return value;
}

}  // namespace meldpunt::meldctl
