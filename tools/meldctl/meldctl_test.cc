#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/events/codec.h"
#include "tools/meldctl/cli.h"
#include "tools/meldctl/output.h"
#include "tools/meldctl/requests.h"

namespace meldpunt::meldctl {
namespace {

namespace t = ::meldpunt::types::v1;
namespace ev = ::meldpunt::events::v1;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kCase[] = "MP-7K3QX9M2TD4AB";

Options MustParse(const std::vector<std::string>& args) {
  absl::StatusOr<Options> options = Parse(args);
  EXPECT_TRUE(options.ok()) << options.status();
  return options.ok() ? *options : Options{};
}

std::string ParseError(const std::vector<std::string>& args) {
  absl::StatusOr<Options> options = Parse(args);
  EXPECT_FALSE(options.ok());
  if (options.ok()) return "";
  EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(options.status().message());
}

template <typename T>
std::string BuildError(const absl::StatusOr<T>& request) {
  EXPECT_FALSE(request.ok());
  if (request.ok()) return "";
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(request.status().message());
}

TEST(ParseTest, GlobalOptionsGoAnywhereAndBothValueFormsWork) {
  Options o = MustParse({"--intake", "localhost:6000", "accept", kCase, "--json", "--assignee=an",
                         "--timeout", "30"});
  EXPECT_EQ(o.command, "accept");
  EXPECT_EQ(o.args, std::vector<std::string>{kCase});
  EXPECT_EQ(o.Get("intake"), "localhost:6000");
  EXPECT_EQ(o.Get("assignee"), "an");
  EXPECT_EQ(o.Get("timeout"), "30");
  EXPECT_TRUE(o.Flag("json"));
}

TEST(ParseTest, DoubleDashEndsOptions) {
  Options o = MustParse({"get", "--", "-odd"});
  EXPECT_EQ(o.args, std::vector<std::string>{"-odd"});
}

TEST(ParseTest, UsageErrorsNameWhatIsWrong) {
  EXPECT_EQ(ParseError({}), "no command given");
  EXPECT_EQ(ParseError({"frobnicate"}), "unknown command 'frobnicate'");
  EXPECT_EQ(ParseError({"accept", kCase, "--reason", "x"}), "unknown option --reason for 'accept'");
  EXPECT_EQ(ParseError({"get", kCase, "--overdue"}), "unknown option --overdue for 'get'");
  EXPECT_EQ(ParseError({"bounce", kCase, "--reason"}), "option --reason needs a value");
  EXPECT_EQ(ParseError({"close", kCase, "--reason", "a", "--reason", "b"}),
            "option --reason given more than once");
  EXPECT_EQ(ParseError({"list", "--all", "--all"}), "option --all given more than once");
  EXPECT_EQ(ParseError({"list", "--json=yes"}), "option --json takes no value");
  EXPECT_EQ(ParseError({"accept"}), "accept needs a CASE (case id or reference)");
  EXPECT_EQ(ParseError({"get", kCase, "extra"}), "unexpected argument 'extra' for 'get'");
  EXPECT_EQ(ParseError({"bounce", kCase}), "bounce needs --reason");
  EXPECT_EQ(ParseError({"bounce", kCase, "--reason", "  "}), "bounce needs --reason");
  EXPECT_EQ(ParseError({"refer", kCase, "--body", "Vlaamse Ombudsdienst"}), "refer needs --reason");
  EXPECT_EQ(ParseError({"merge", kCase}), "merge needs --into");
  EXPECT_EQ(ParseError({"get", kCase, "-x"}), "unknown option -x");
  EXPECT_THAT(ParseError({"get", kCase, "--timeout", "soon"}), HasSubstr("--timeout: 'soon'"));
  EXPECT_THAT(ParseError({"get", kCase, "--timeout", "0"}), HasSubstr("--timeout"));
}

TEST(ParseTest, HelpNeedsNoOtherArguments) {
  EXPECT_TRUE(MustParse({"--help"}).help);
  Options o = MustParse({"answer", "--help"});
  EXPECT_TRUE(o.help);
  EXPECT_EQ(o.command, "answer");
  EXPECT_EQ(MustParse({"help", "answer"}).args, std::vector<std::string>{"answer"});
}

TEST(CommandsTest, HelpListsEveryCommandAndRequiredOptionsAreOptions) {
  const std::string usage = Usage();
  for (const CommandSpec& spec : Commands()) {
    EXPECT_THAT(usage, HasSubstr(absl::StrCat("\n  ", spec.name))) << spec.name;
    for (absl::string_view required : spec.required) {
      EXPECT_NE(std::find(spec.options.begin(), spec.options.end(), required), spec.options.end())
          << spec.name << " --" << required;
    }
    // The options of a command on a case are in its own help; the others in its synopsis.
    const std::string help = CommandUsage(spec);
    for (absl::string_view option : spec.options) {
      EXPECT_THAT(help, HasSubstr(absl::StrCat("--", option, " "))) << spec.name << " --" << option;
    }
    for (absl::string_view flag : spec.flags) {
      EXPECT_THAT(help, HasSubstr(absl::StrCat("--", flag))) << spec.name << " --" << flag;
    }
  }
  for (const char* name : {"FOUNDED", "PARTLY_FOUNDED", "IDENTITY_UNKNOWN", "OTHER_PROCEDURE",
                           "WAITING_FOR_REPORTER", "COMPLIMENT"}) {
    EXPECT_THAT(usage, HasSubstr(name));
  }
  EXPECT_THAT(usage, Not(HasSubstr("UNSPECIFIED")));
}

TEST(CommandsTest, EveryOptionAndFlagOfEveryCommandParses) {
  for (const CommandSpec& spec : Commands()) {
    std::vector<std::string> base = {std::string(spec.name)};
    if (spec.min_args > 0) base.push_back(kCase);
    for (absl::string_view required : spec.required) {
      base.push_back(absl::StrCat("--", required));
      base.push_back("x");
    }
    for (absl::string_view option : spec.options) {
      if (std::find(spec.required.begin(), spec.required.end(), option) != spec.required.end()) {
        continue;
      }
      std::vector<std::string> args = base;
      args.push_back(absl::StrCat("--", option));
      args.push_back("v");
      Options o = MustParse(args);
      EXPECT_EQ(o.Get(std::string(option)), "v") << spec.name << " --" << option;
      EXPECT_EQ(o.args.size(), static_cast<size_t>(spec.min_args)) << spec.name;
    }
    for (absl::string_view flag : spec.flags) {
      std::vector<std::string> args = base;
      args.push_back(absl::StrCat("--", flag));
      if (spec.max_args > 0) args.push_back(kCase);  // a flag takes no value: this is the CASE
      if (spec.min_args > 0) args.erase(args.begin() + 1);
      Options o = MustParse(args);
      EXPECT_TRUE(o.Flag(std::string(flag))) << spec.name << " --" << flag;
    }
  }
}

TEST(ClockTest, ExtendByTermOrTimeSuspendAndResume) {
  absl::StatusOr<ClockChangeRequest> extend = ClockRequest(
      MustParse({"clock", "extend", kCase, "--clock", "answer", "--term", "10d", "--reason",
                 "expert report awaited", "--notify", "--command-id", "c-1"}));
  ASSERT_TRUE(extend.ok()) << extend.status();
  EXPECT_EQ(extend->action, "extend");
  EXPECT_EQ(extend->extend.case_id(), kCase);
  EXPECT_EQ(extend->extend.clock(), "answer");
  EXPECT_EQ(extend->extend.term(), "10d");
  EXPECT_FALSE(extend->extend.has_due_at());
  EXPECT_EQ(extend->extend.reason(), "expert report awaited");
  EXPECT_TRUE(extend->extend.notify_reporter());
  EXPECT_EQ(extend->extend.command_id(), "c-1");

  absl::StatusOr<ClockChangeRequest> by_time =
      ClockRequest(MustParse({"clock", "extend", kCase, "--clock", "answer", "--due",
                              "2026-03-01T09:30:00Z", "--reason", "r"}));
  ASSERT_TRUE(by_time.ok()) << by_time.status();
  EXPECT_EQ(events::GetTime(by_time->extend.due_at()), absl::FromUnixSeconds(1772357400));
  EXPECT_TRUE(by_time->extend.term().empty());
  EXPECT_FALSE(by_time->extend.notify_reporter());

  absl::StatusOr<ClockChangeRequest> suspend = ClockRequest(
      MustParse({"clock", "suspend", kCase, "--clock", "resolve", "--reason", "court case"}));
  ASSERT_TRUE(suspend.ok()) << suspend.status();
  EXPECT_EQ(suspend->action, "suspend");
  EXPECT_EQ(suspend->suspend.case_id(), kCase);
  EXPECT_EQ(suspend->suspend.clock(), "resolve");
  EXPECT_EQ(suspend->suspend.reason(), "court case");

  absl::StatusOr<ClockChangeRequest> resume = ClockRequest(
      MustParse({"clock", "resume", kCase, "--clock", "resolve", "--reason", "judgment in"}));
  ASSERT_TRUE(resume.ok()) << resume.status();
  EXPECT_EQ(resume->resume.clock(), "resolve");
  EXPECT_EQ(resume->resume.reason(), "judgment in");
}

TEST(ClockTest, UsageErrorsNameWhatIsWrong) {
  EXPECT_EQ(ParseError({"clock", "extend", kCase, "--term", "10d", "--reason", "r"}),
            "clock needs --clock");
  EXPECT_EQ(ParseError({"clock", "suspend", kCase, "--clock", "answer"}), "clock needs --reason");
  EXPECT_THAT(BuildError(ClockRequest(
                  MustParse({"clock", "extend", kCase, "--clock", "answer", "--reason", "r"}))),
              HasSubstr("one of --due TIME and --term TERM"));
  EXPECT_THAT(
      BuildError(ClockRequest(MustParse({"clock", "extend", kCase, "--clock", "answer", "--reason",
                                         "r", "--term", "1d", "--due", "2026-03-01"}))),
      HasSubstr("one of --due TIME and --term TERM"));
  EXPECT_THAT(BuildError(ClockRequest(MustParse({"clock", "extend", kCase, "--clock", "answer",
                                                 "--reason", "r", "--due", "tomorrow"}))),
              HasSubstr("--due: 'tomorrow'"));
  EXPECT_THAT(BuildError(ClockRequest(MustParse({"clock", "suspend", kCase, "--clock", "answer",
                                                 "--reason", "r", "--term", "1d"}))),
              HasSubstr("--term: only for clock extend"));
  EXPECT_THAT(BuildError(ClockRequest(MustParse(
                  {"clock", "resume", kCase, "--clock", "answer", "--reason", "r", "--notify"}))),
              HasSubstr("--notify: only for clock extend"));
  EXPECT_THAT(BuildError(ClockRequest(
                  MustParse({"clock", "stop", kCase, "--clock", "answer", "--reason", "r"}))),
              HasSubstr("unknown action 'stop'"));
  EXPECT_THAT(
      BuildError(ClockRequest(MustParse({"clock", kCase, "--clock", "answer", "--reason", "r"}))),
      HasSubstr("extend, suspend or resume, then CASE"));
}

TEST(EnumTest, CaseInsensitiveWithDashesAndNeverTheZeroValue) {
  EXPECT_EQ(*ParseEnumOption("outcome", "partly-founded", ev::ComplaintOutcome_descriptor()),
            ev::PARTLY_FOUNDED);
  EXPECT_EQ(*ParseEnumOption("state", "Waiting_For_Reporter", t::CaseState_descriptor()),
            t::WAITING_FOR_REPORTER);
  absl::StatusOr<int> bad =
      ParseEnumOption("kind", "CASE_KIND_UNSPECIFIED", t::CaseKind_descriptor());
  EXPECT_EQ(bad.status().message(),
            "--kind: unknown value 'CASE_KIND_UNSPECIFIED'; one of REPORT, COMPLAINT, SUGGESTION, "
            "COMPLIMENT, QUESTION");
}

TEST(TimeTest, Rfc3339AndDates) {
  EXPECT_EQ(*ParseTimeOption("from", "2026-03-01T09:30:00Z"), absl::FromUnixSeconds(1772357400));
  EXPECT_EQ(*ParseTimeOption("from", "2026-03-01T10:30:00+01:00"),
            absl::FromUnixSeconds(1772357400));
  EXPECT_EQ(*ParseTimeOption("to", "2026-03-01"), absl::FromUnixSeconds(1772323200));
  EXPECT_THAT(ParseTimeOption("to", "yesterday").status().message(),
              HasSubstr("--to: 'yesterday' is not an RFC 3339 time"));
}

TEST(SubmitTest, DefaultsAndFields) {
  auto request = SubmitRequest(
      MustParse({"submit", "--category", "street-lighting", "--description", "Lamp out", "--email",
                 "a@b.be", "--name", "A B", "--postcode", "9000"}));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->submitting_system(), "meldctl");
  EXPECT_TRUE(absl::StartsWith(request->request_key(), "meldctl-"));
  EXPECT_EQ(request->draft().kind(), t::REPORT);
  EXPECT_EQ(request->draft().channel(), t::WEB);
  EXPECT_EQ(request->draft().priority(), t::PRIORITY_UNSPECIFIED);
  EXPECT_EQ(request->draft().category(), "street-lighting");
  EXPECT_EQ(request->draft().description(), "Lamp out");
  EXPECT_EQ(request->draft().location().postcode(), "9000");
  EXPECT_EQ(request->draft().reporter().name(), "A B");
  EXPECT_EQ(request->draft().reporter().email(), "a@b.be");
  EXPECT_EQ(request->draft().reporter().language(), t::NL);
  EXPECT_FALSE(request->draft().reporter().anonymous());
  EXPECT_FALSE(request->draft().confidential());

  request = SubmitRequest(
      MustParse({"submit", "--kind", "complaint", "--channel", "phone", "--priority", "urgent",
                 "--language", "FR", "--system", "crm", "--request-key", "k-1", "--correlation-id",
                 "trace-1", "--confidential", "--external-reference", "CRM-42", "--anonymous"}));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->draft().kind(), t::COMPLAINT);
  EXPECT_EQ(request->draft().channel(), t::PHONE);
  EXPECT_EQ(request->draft().priority(), t::URGENT);
  EXPECT_EQ(request->draft().reporter().language(), t::FR);
  EXPECT_TRUE(request->draft().reporter().anonymous());
  EXPECT_TRUE(request->draft().confidential());
  EXPECT_EQ(request->draft().external_reference(), "CRM-42");
  EXPECT_EQ(request->submitting_system(), "crm");
  EXPECT_EQ(request->request_key(), "k-1");
  EXPECT_EQ(request->correlation_id(), "trace-1");
  EXPECT_FALSE(request->draft().has_location());

  EXPECT_THAT(BuildError(SubmitRequest(MustParse({"submit", "--language", "de"}))),
              HasSubstr("--language: unknown value 'de'; one of NL, FR, EN"));
  EXPECT_THAT(BuildError(SubmitRequest(MustParse({"submit", "--kind", "klacht"}))),
              HasSubstr("--kind: unknown value 'klacht'"));
  EXPECT_THAT(BuildError(SubmitRequest(MustParse({"submit", "--kind", ""}))),
              HasSubstr("--kind: unknown value ''"));
}

TEST(ListTest, Filters) {
  auto request = ListRequest(
      MustParse({"list", "--kind", "COMPLAINT", "--state", "routed", "--department", "roads",
                 "--category", "potholes", "--overdue", "--from", "2026-03-01", "--to",
                 "2026-04-01T00:00:00Z", "--page-size", "20", "--page-token", "tok"}));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->kind(), t::COMPLAINT);
  EXPECT_EQ(request->state(), t::ROUTED);
  EXPECT_EQ(request->department(), "roads");
  EXPECT_EQ(request->category(), "potholes");
  EXPECT_TRUE(request->overdue());
  EXPECT_EQ(events::GetTime(request->submitted_from()), absl::FromUnixSeconds(1772323200));
  EXPECT_EQ(events::GetTime(request->submitted_to()), absl::FromUnixSeconds(1775001600));
  EXPECT_EQ(request->page_size(), 20);
  EXPECT_EQ(request->page_token(), "tok");

  request = ListRequest(MustParse({"list"}));
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->kind(), t::CASE_KIND_UNSPECIFIED);
  EXPECT_EQ(request->state(), t::CASE_STATE_UNSPECIFIED);
  EXPECT_FALSE(request->has_submitted_from());
  EXPECT_FALSE(request->has_submitted_to());
  EXPECT_EQ(request->page_size(), 0);  // the server's default

  EXPECT_THAT(BuildError(ListRequest(MustParse({"list", "--state", "OPEN"}))),
              HasSubstr("--state: unknown value 'OPEN'; one of RECEIVED, ADMISSIBILITY_PENDING"));
  EXPECT_THAT(BuildError(ListRequest(MustParse({"list", "--page-size", "500"}))),
              HasSubstr("--page-size: '500' is not a whole number from 1 to 200"));
  EXPECT_THAT(BuildError(ListRequest(MustParse({"list", "--from", "maart"}))),
              HasSubstr("--from: 'maart'"));
}

TEST(CaseWorkTest, CommonFieldsDefaultActorAndOverrides) {
  auto accept = AcceptRequest(MustParse({"accept", kCase}));
  ASSERT_TRUE(accept.ok());
  EXPECT_EQ(accept->case_id(), kCase);
  EXPECT_EQ(accept->command_id(), "");
  EXPECT_EQ(accept->actor().id(), "team:meldpunt");
  EXPECT_EQ(accept->actor().display_name(), "");
  EXPECT_EQ(accept->assignee(), "");

  accept = AcceptRequest(
      MustParse({"accept", "MP-2026-7K3QX9M2T", "--actor", "department:roads", "--actor-name",
                 "Wegen", "--command-id", "cmd-1", "--assignee", "an.peeters"}));
  ASSERT_TRUE(accept.ok());
  EXPECT_EQ(accept->case_id(), "MP-2026-7K3QX9M2T");
  EXPECT_EQ(accept->command_id(), "cmd-1");
  EXPECT_EQ(accept->actor().id(), "department:roads");
  EXPECT_EQ(accept->actor().display_name(), "Wegen");
  EXPECT_EQ(accept->assignee(), "an.peeters");
}

TEST(CaseWorkTest, EachCommandFillsItsFields) {
  auto bounce = BounceRequest(MustParse({"bounce", kCase, "--reason", "not ours"}));
  ASSERT_TRUE(bounce.ok());
  EXPECT_EQ(bounce->reason(), "not ours");
  EXPECT_EQ(bounce->actor().id(), "team:meldpunt");

  auto ask = RequestInfoRequest(MustParse({"request-info", kCase, "--question", "Which pole?"}));
  ASSERT_TRUE(ask.ok());
  EXPECT_EQ(ask->question(), "Which pole?");
  EXPECT_EQ(ask->case_id(), kCase);

  auto answer =
      AnswerRequest(MustParse({"answer", kCase, "--answer", "Fixed.\nRegards", "--outcome",
                               "partly_founded", "--ombudsnorm", "correct-information"}));
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->answer(), "Fixed.\nRegards");
  EXPECT_EQ(answer->outcome(), ev::PARTLY_FOUNDED);
  EXPECT_EQ(answer->ombudsnorm(), "correct-information");
  answer = AnswerRequest(MustParse({"answer", kCase, "--answer", "Thanks"}));
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->outcome(), ev::COMPLAINT_OUTCOME_UNSPECIFIED);
  EXPECT_THAT(BuildError(AnswerRequest(
                  MustParse({"answer", kCase, "--answer", "x", "--outcome", "GEGROND"}))),
              HasSubstr("--outcome: unknown value 'GEGROND'; one of FOUNDED, PARTLY_FOUNDED, "
                        "UNFOUNDED"));

  auto close = CloseRequest(MustParse({"close", kCase}));
  ASSERT_TRUE(close.ok());
  EXPECT_EQ(close->reason(), "");
  close = CloseRequest(MustParse({"close", kCase, "--reason", "done"}));
  EXPECT_EQ(close->reason(), "done");

  auto reassign =
      ReassignRequest(MustParse({"reassign", kCase, "--department", "parks", "--team", "north",
                                 "--assignee", "jo", "--reason", "parks own it"}));
  ASSERT_TRUE(reassign.ok());
  EXPECT_EQ(reassign->department(), "parks");
  EXPECT_EQ(reassign->team(), "north");
  EXPECT_EQ(reassign->assignee(), "jo");
  EXPECT_EQ(reassign->reason(), "parks own it");

  auto priority =
      PriorityRequest(MustParse({"priority", kCase, "--set", "urgent", "--reason", "gas smell"}));
  ASSERT_TRUE(priority.ok()) << priority.status();
  EXPECT_EQ(priority->case_id(), kCase);
  EXPECT_EQ(priority->priority(), t::URGENT);
  EXPECT_EQ(priority->reason(), "gas smell");
  EXPECT_FALSE(
      PriorityRequest(MustParse({"priority", kCase, "--set", "soon", "--reason", "x"})).ok());
  EXPECT_EQ(ParseError({"priority", kCase, "--set", "HIGH"}), "priority needs --reason");

  auto merge = MergeRequest(MustParse({"merge", kCase, "--into", "MP-2026-AAAAAAAAB"}));
  ASSERT_TRUE(merge.ok());
  EXPECT_EQ(merge->case_id(), kCase);
  EXPECT_EQ(merge->master_case_id(), "MP-2026-AAAAAAAAB");

  auto refer = ReferRequest(
      MustParse({"refer", kCase, "--body", "Vlaamse Ombudsdienst", "--reason", "second line"}));
  ASSERT_TRUE(refer.ok());
  EXPECT_EQ(refer->body(), "Vlaamse Ombudsdienst");
  EXPECT_EQ(refer->reason(), "second line");
}

TEST(CaseWorkTest, Admissibility) {
  auto yes = AdmissibilityRequest(MustParse({"admissibility", kCase, "--admissible"}));
  ASSERT_TRUE(yes.ok());
  EXPECT_TRUE(yes->admissible());
  EXPECT_EQ(yes->ground(), ev::INADMISSIBILITY_GROUND_UNSPECIFIED);
  EXPECT_EQ(yes->actor().id(), "team:meldpunt");

  auto no = AdmissibilityRequest(
      MustParse({"admissibility", kCase, "--inadmissible", "--ground", "facts-older-than-one-year",
                 "--motivation", "The facts date from 2023."}));
  ASSERT_TRUE(no.ok()) << no.status();
  EXPECT_FALSE(no->admissible());
  EXPECT_EQ(no->ground(), ev::FACTS_OLDER_THAN_ONE_YEAR);
  EXPECT_EQ(no->motivation(), "The facts date from 2023.");

  EXPECT_EQ(BuildError(AdmissibilityRequest(MustParse({"admissibility", kCase}))),
            "admissibility needs exactly one of --admissible or --inadmissible");
  EXPECT_EQ(BuildError(AdmissibilityRequest(
                MustParse({"admissibility", kCase, "--admissible", "--inadmissible"}))),
            "admissibility needs exactly one of --admissible or --inadmissible");
  EXPECT_EQ(BuildError(AdmissibilityRequest(
                MustParse({"admissibility", kCase, "--admissible", "--ground", "NO_INTEREST"}))),
            "--ground goes with --inadmissible only");
  EXPECT_THAT(BuildError(AdmissibilityRequest(
                  MustParse({"admissibility", kCase, "--inadmissible", "--motivation", "m"}))),
              HasSubstr("--inadmissible needs --ground (one of IDENTITY_UNKNOWN,"));
  EXPECT_EQ(BuildError(AdmissibilityRequest(
                MustParse({"admissibility", kCase, "--inadmissible", "--ground", "NO_INTEREST"}))),
            "--inadmissible needs --motivation");
  EXPECT_THAT(
      BuildError(AdmissibilityRequest(MustParse(
          {"admissibility", kCase, "--inadmissible", "--ground", "late", "--motivation", "m"}))),
      HasSubstr("--ground: unknown value 'late'; one of IDENTITY_UNKNOWN"));
}

TEST(ReporterTest, DefaultActorIsTheReporter) {
  auto provide = ProvideInfoRequest(MustParse({"provide-info", kCase, "--text", "Pole 14"}));
  ASSERT_TRUE(provide.ok());
  EXPECT_EQ(provide->actor().id(), "reporter");
  EXPECT_EQ(provide->text(), "Pole 14");
  EXPECT_EQ(provide->attachments_size(), 0);

  auto withdraw = WithdrawRequest(MustParse({"withdraw", kCase, "--command-id", "w-1"}));
  ASSERT_TRUE(withdraw.ok());
  EXPECT_EQ(withdraw->actor().id(), "reporter");
  EXPECT_EQ(withdraw->command_id(), "w-1");
  EXPECT_EQ(withdraw->reason(), "");

  auto reopen = ReopenRequest(
      MustParse({"reopen", kCase, "--reason", "still broken", "--actor", "system:web-form"}));
  ASSERT_TRUE(reopen.ok());
  EXPECT_EQ(reopen->actor().id(), "system:web-form");
  EXPECT_EQ(reopen->reason(), "still broken");
  EXPECT_EQ(ParseError({"reopen", kCase}), "reopen needs --reason");
  EXPECT_EQ(ParseError({"provide-info", kCase}), "provide-info needs --text");
}

TEST(ExplainTest, KindIsChecked) {
  auto request = ExplainRequest(MustParse({"explain", "--category", "noise"}));
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->draft().kind(), t::REPORT);
  EXPECT_EQ(request->draft().category(), "noise");
  EXPECT_THAT(BuildError(ExplainRequest(
                  MustParse({"explain", "--category", "noise", "--kind", "melding"}))),
              HasSubstr("--kind: unknown value 'melding'"));
}

TEST(OutputTest, CaseTextPrintsWhatIsSet) {
  t::Case c;
  c.set_case_id(kCase);
  c.set_state(t::ROUTED);
  c.mutable_draft()->set_kind(t::REPORT);
  c.mutable_draft()->set_category("street-lighting");
  c.set_department("roads");
  c.set_priority(t::NORMAL);
  c.set_version(3);
  events::SetTime(c.mutable_submitted_at(), absl::FromUnixSeconds(1772357400));
  std::string text = CaseText(c);
  EXPECT_THAT(text, HasSubstr("case_id=MP-7K3QX9M2TD4AB\n"));
  EXPECT_THAT(text, HasSubstr("state=ROUTED\n"));
  EXPECT_THAT(text, HasSubstr("department=roads\n"));
  EXPECT_THAT(text, HasSubstr("submitted_at=2026-03-01T09:30:00Z\n"));
  EXPECT_THAT(text, HasSubstr("breached_clocks=\n"));
  EXPECT_THAT(text, HasSubstr("version=3\n"));
  for (const char* absent :
       {"reference=", "admissibility=", "outcome=", "answer=", "open_question=", "master_case_id=",
        "referred_to=", "bounced_departments=", "closed_at=", "state_before_wait="}) {
    EXPECT_THAT(text, Not(HasSubstr(absent))) << absent;
  }

  c.set_reference("MP-2026-7K3QX9M2T");
  c.set_admissibility(t::ADMISSIBILITY_ADMISSIBLE);
  c.set_outcome("FOUNDED");
  c.set_answer("Repaired.\nThank you");
  c.set_open_question("Which pole?");
  c.set_state_before_wait(t::ACCEPTED);
  c.set_master_case_id("MP-AAAAAAAAAAAAA");
  c.set_referred_to("Vlaamse Ombudsdienst");
  c.add_bounced_departments("parks");
  c.add_bounced_departments("water");
  events::SetTime(c.mutable_closed_at(), absl::FromUnixSeconds(1772357460));
  text = CaseText(c);
  EXPECT_THAT(text, HasSubstr("\nreference=MP-2026-7K3QX9M2T\n"));
  EXPECT_THAT(text, HasSubstr("\nadmissibility=ADMISSIBILITY_ADMISSIBLE\n"));
  EXPECT_THAT(text, HasSubstr("\noutcome=FOUNDED\n"));
  EXPECT_THAT(text, HasSubstr("\nanswer=Repaired.\\nThank you\n"));
  EXPECT_THAT(text, HasSubstr("\nopen_question=Which pole?\n"));
  EXPECT_THAT(text, HasSubstr("\nstate_before_wait=ACCEPTED\n"));
  EXPECT_THAT(text, HasSubstr("\nmaster_case_id=MP-AAAAAAAAAAAAA\n"));
  EXPECT_THAT(text, HasSubstr("\nreferred_to=Vlaamse Ombudsdienst\n"));
  EXPECT_THAT(text, HasSubstr("\nbounced_departments=parks,water\n"));
  EXPECT_THAT(text, HasSubstr("\nclosed_at=2026-03-01T09:31:00Z\n"));
}

TEST(OutputTest, OneLineEscapes) { EXPECT_EQ(OneLine("a\\b\nc\td\r"), "a\\\\b\\nc\\td\\r"); }

TEST(OutputTest, TableAlignsColumns) {
  google::protobuf::RepeatedPtrField<t::Case> cases;
  t::Case* c = cases.Add();
  c->set_case_id(kCase);
  c->set_reference("MP-2026-7K3QX9M2T");
  c->mutable_draft()->set_kind(t::COMPLAINT);
  c->mutable_draft()->set_category("staff-conduct");
  c->set_state(t::ADMISSIBILITY_PENDING);
  events::SetTime(c->mutable_submitted_at(), absl::FromUnixSeconds(1772357400));
  EXPECT_EQ(CaseTable(cases),
            "case_id           reference          kind       state                  department  "
            "category       submitted_at\n"
            "MP-7K3QX9M2TD4AB  MP-2026-7K3QX9M2T  COMPLAINT  ADMISSIBILITY_PENDING  -           "
            "staff-conduct  2026-03-01T09:30:00Z\n");
}

TEST(OutputTest, HistoryMarksRejectedEvents) {
  intake::v1::GetCaseHistoryResponse history;
  auto* entry = history.add_entries();
  entry->set_event_id("submitted-1");
  entry->set_type("CaseSubmitted");
  events::SetTime(entry->mutable_occurred_at(), absl::FromUnixSeconds(1772357400));
  entry->mutable_actor()->set_id("system:web-form");
  entry->set_producer("intake");
  entry = history.add_entries();
  entry->set_event_id("accepted-1");
  entry->set_type("CaseAccepted");
  events::SetTime(entry->mutable_occurred_at(), absl::FromUnixSeconds(1772357460));
  entry->set_producer("intake");
  entry->set_rejected(true);
  entry->set_rejection("CaseAccepted is not allowed in state RECEIVED");
  EXPECT_EQ(HistoryText(history),
            "at=2026-03-01T09:30:00Z type=CaseSubmitted actor=system:web-form producer=intake "
            "event_id=submitted-1\n"
            "at=2026-03-01T09:31:00Z type=CaseAccepted actor=- producer=intake "
            "event_id=accepted-1 REJECTED: CaseAccepted is not allowed in state RECEIVED\n");
}

}  // namespace
}  // namespace meldpunt::meldctl

namespace meldpunt::meldctl {
namespace {

TEST(ExplainOptions, LocationBouncesAndHops) {
  auto options =
      Parse({"explain", "--category", "potholes", "--postcode", "9000", "--lat", "51.05", "--lon",
             "3.72", "--bounced", "mobility,works", "--hops", "2", "--system", "crm"});
  ASSERT_TRUE(options.ok()) << options.status();
  auto request = ExplainRequest(*options);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->draft().location().postcode(), "9000");
  EXPECT_TRUE(request->draft().location().has_coordinates());
  EXPECT_DOUBLE_EQ(request->draft().location().latitude(), 51.05);
  EXPECT_EQ(request->bounced_departments_size(), 2);
  EXPECT_EQ(request->hops(), 2);
  EXPECT_EQ(request->submitting_system(), "crm");
  auto half = Parse({"explain", "--category", "x", "--lat", "51"});
  ASSERT_TRUE(half.ok());
  EXPECT_FALSE(ExplainRequest(*half).ok());
}

}  // namespace
}  // namespace meldpunt::meldctl

namespace meldpunt::meldctl {
namespace {

namespace t = ::meldpunt::types::v1;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTriaged[] = "MP-7K3QX9M2TD4AB";

TEST(TriageTest, IsListInTriageWithoutStateOrDepartment) {
  auto request = TriageRequest(MustParse({"triage", "--kind", "complaint", "--category", "trees",
                                          "--from", "2026-03-01", "--page-size", "10", "--all"}));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->state(), t::IN_TRIAGE);
  EXPECT_EQ(request->kind(), t::COMPLAINT);
  EXPECT_EQ(request->category(), "trees");
  EXPECT_EQ(events::GetTime(request->submitted_from()), absl::FromUnixSeconds(1772323200));
  EXPECT_EQ(request->page_size(), 10);
  EXPECT_EQ(request->department(), "");
  request = TriageRequest(MustParse({"triage"}));
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->state(), t::IN_TRIAGE);

  EXPECT_EQ(ParseError({"triage", "--state", "ROUTED"}), "unknown option --state for 'triage'");
  EXPECT_EQ(ParseError({"triage", "--department", "roads"}),
            "unknown option --department for 'triage'");
  EXPECT_EQ(ParseError({"triage", kTriaged}),
            "unexpected argument 'MP-7K3QX9M2TD4AB' for 'triage'");
  EXPECT_THAT(BuildError(TriageRequest(MustParse({"triage", "--to", "soon"}))),
              HasSubstr("--to: 'soon'"));
}

TEST(CategoriesTest, LanguageAndInactive) {
  auto request = CategoriesRequest(MustParse({"categories"}));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->language(), t::LANGUAGE_UNSPECIFIED);  // the intake's default, Dutch
  EXPECT_FALSE(request->include_inactive());
  request = CategoriesRequest(MustParse({"categories", "--language", "fr", "--all"}));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->language(), t::FR);
  EXPECT_TRUE(request->include_inactive());
  EXPECT_EQ(BuildError(CategoriesRequest(MustParse({"categories", "--language", "de"}))),
            "--language: unknown value 'de'; one of NL, FR, EN");
  EXPECT_EQ(ParseError({"categories", "--json", "--all", "trees"}),
            "unexpected argument 'trees' for 'categories'");
  EXPECT_EQ(ParseError({"categories", "--include-inactive", "yes"}),
            "unknown option --include-inactive for 'categories'");
}

TEST(ReportTest, ExportLanguageFormatAndYear) {
  auto request = ExportRequest(MustParse({"report", "export", "--year", "2025"}));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->year(), 2025);
  EXPECT_EQ(request->format(), intake::v1::HTML);
  EXPECT_EQ(request->group_by(), intake::v1::GROUP_NONE);
  EXPECT_EQ(request->language(), t::LANGUAGE_UNSPECIFIED);  // the intake's default, Dutch

  request = ExportRequest(MustParse({"report", "export", "--year", "2025", "--format", "CSV",
                                     "--group-by", "month", "--language", "En"}));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->format(), intake::v1::CSV);
  EXPECT_EQ(request->group_by(), intake::v1::GROUP_MONTH);
  EXPECT_EQ(request->language(), t::EN);
  request = ExportRequest(MustParse({"report", "export", "--year", "2025", "--language", "nl"}));
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->language(), t::NL);

  EXPECT_EQ(BuildError(ExportRequest(
                MustParse({"report", "export", "--year", "2025", "--language", "de"}))),
            "--language: unknown value 'de'; one of NL, FR, EN");
  EXPECT_EQ(BuildError(ExportRequest(
                MustParse({"report", "export", "--year", "2025", "--language", "dutch"}))),
            "--language: unknown value 'dutch'; one of NL, FR, EN");
  EXPECT_EQ(BuildError(ExportRequest(MustParse({"report", "export", "--language", "fr"}))),
            "report export needs --year");
  EXPECT_THAT(BuildError(ExportRequest(MustParse({"report", "export", "--year", "1999"}))),
              HasSubstr("--year: '1999' is not a whole number from 2000 to 2100"));
  EXPECT_EQ(BuildError(ExportRequest(
                MustParse({"report", "export", "--year", "2025", "--format", "pdf"}))),
            "--format: csv or html");
  EXPECT_THAT(BuildError(ExportRequest(
                  MustParse({"report", "export", "--year", "2025", "--group-by", "street"}))),
              HasSubstr("--group-by: one of none,"));
}

TEST(ReportTest, LanguageIsForExportOnly) {
  EXPECT_TRUE(
      CheckReport(MustParse({"report", "export", "--year", "2025", "--language", "fr"})).ok());
  EXPECT_TRUE(CheckReport(MustParse({"report", "complaints", "--year", "2025"})).ok());
  absl::Status complaints =
      CheckReport(MustParse({"report", "complaints", "--year", "2025", "--language", "fr"}));
  EXPECT_EQ(complaints.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(complaints.message(), HasSubstr("--language: only for report export"));
  EXPECT_FALSE(CheckReport(MustParse({"report", "indicators", "--from", "2025-01-01", "--to",
                                      "2026-01-01", "--language", "en"}))
                   .ok());
  EXPECT_EQ(CheckReport(MustParse({"report", "annual"})).message(),
            "report: indicators, complaints or export");
}

TEST(SubmitTest, ReceiptTimeAndRegisteredLetter) {
  auto request = SubmitRequest(MustParse({"submit", "--channel", "letter", "--received-at",
                                          "2026-03-01T10:30:00+01:00", "--registered-letter"}));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->draft().channel(), t::LETTER);
  ASSERT_TRUE(request->draft().has_received_at());
  EXPECT_EQ(events::GetTime(request->draft().received_at()), absl::FromUnixSeconds(1772357400));
  EXPECT_TRUE(request->draft().registered_letter());

  request =
      SubmitRequest(MustParse({"submit", "--channel", "phone", "--received-at", "2026-03-01"}));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(events::GetTime(request->draft().received_at()), absl::FromUnixSeconds(1772323200));
  EXPECT_FALSE(request->draft().registered_letter());

  request = SubmitRequest(MustParse({"submit"}));
  ASSERT_TRUE(request.ok());
  EXPECT_FALSE(request->draft().has_received_at());  // the intake takes the submission
  EXPECT_FALSE(request->draft().registered_letter());

  EXPECT_THAT(BuildError(SubmitRequest(MustParse({"submit", "--received-at", "gisteren"}))),
              HasSubstr("--received-at: 'gisteren' is not an RFC 3339 time"));
  EXPECT_EQ(ParseError({"submit", "--registered-letter=yes"}),
            "option --registered-letter takes no value");
  EXPECT_EQ(ParseError({"list", "--registered-letter"}),
            "unknown option --registered-letter for 'list'");
  EXPECT_EQ(ParseError({"submit", "--received-at"}), "option --received-at needs a value");
}

t::Case TriagedCase(const std::string& id, int64_t submitted, const std::string& reason) {
  t::Case c;
  c.set_case_id(id);
  c.set_reference("MP-2026-" + id.substr(3, 9));
  c.set_state(t::IN_TRIAGE);
  c.mutable_draft()->set_kind(t::REPORT);
  c.mutable_draft()->set_category("trees");
  c.set_triage_reason(reason);
  events::SetTime(c.mutable_submitted_at(), absl::FromUnixSeconds(submitted));
  return c;
}

TEST(OutputTest, CaseTextTriageReasonAndReceipt) {
  t::Case c = TriagedCase(kTriaged, 1772357400,
                          "every department that could handle the case bounced it\n(bounced by "
                          "green-spaces, public-works)");
  *c.mutable_received_at() = c.submitted_at();  // as the fold sets it without a receipt time
  std::string text = CaseText(c);
  EXPECT_THAT(text, HasSubstr("\nstate=IN_TRIAGE\n"));
  EXPECT_THAT(text, HasSubstr("\ntriage_reason=every department that could handle the case "
                              "bounced it\\n(bounced by green-spaces, public-works)\n"));
  EXPECT_THAT(text, Not(HasSubstr("received_at=")));
  EXPECT_THAT(text, Not(HasSubstr("registered_letter=")));

  c.clear_triage_reason();
  events::SetTime(c.mutable_received_at(), absl::FromUnixSeconds(1772357400 - 3 * 86400));
  c.mutable_draft()->set_registered_letter(true);
  text = CaseText(c);
  EXPECT_THAT(text, Not(HasSubstr("triage_reason=")));
  EXPECT_THAT(text, HasSubstr("\nreceived_at=2026-02-26T09:30:00Z\nregistered_letter=true\n"
                              "submitted_at=2026-03-01T09:30:00Z\n"));
}

TEST(OutputTest, TableGetsTriageReasonCutWhenACaseHasOne) {
  google::protobuf::RepeatedPtrField<t::Case> cases;
  *cases.Add() = TriagedCase(kTriaged, 1772357400, "no rule matches");
  // 85 characters, the last ones not ASCII: cut after the 79th, at a character boundary.
  *cases.Add() = TriagedCase("MP-AAAAAAAAAAAAA", 1772357460, std::string(75, 'x') + "ééééééééé");
  t::Case* routed = cases.Add();
  routed->set_case_id("MP-BBBBBBBBBBBBB");
  routed->set_state(t::ROUTED);
  routed->set_department("roads");
  routed->mutable_draft()->set_kind(t::REPORT);
  routed->mutable_draft()->set_category("potholes");
  events::SetTime(routed->mutable_submitted_at(), absl::FromUnixSeconds(1772357520));
  EXPECT_EQ(CaseTable(cases),
            "case_id           reference          kind    state      department  category  "
            "submitted_at          triage_reason\n"
            "MP-7K3QX9M2TD4AB  MP-2026-7K3QX9M2T  REPORT  IN_TRIAGE  -           trees     "
            "2026-03-01T09:30:00Z  no rule matches\n"
            "MP-AAAAAAAAAAAAA  MP-2026-AAAAAAAAA  REPORT  IN_TRIAGE  -           trees     "
            "2026-03-01T09:31:00Z  " +
                std::string(75, 'x') + "éééé…\n" +
                "MP-BBBBBBBBBBBBB  -                  REPORT  ROUTED     roads       potholes  "
                "2026-03-01T09:32:00Z  -\n");

  // Exactly 80 characters stay whole.
  cases.Clear();
  *cases.Add() = TriagedCase(kTriaged, 1772357400, std::string(79, 'y') + "é");
  EXPECT_THAT(CaseTable(cases), HasSubstr(std::string(79, 'y') + "é\n"));
}

TEST(OutputTest, TriageQueueOldestFirstWithTheWholeReason) {
  google::protobuf::RepeatedPtrField<t::Case> cases;  // as ListCases answers: newest first
  const std::string long_reason =
      "every department that could handle the case bounced it (bounced by green-spaces, "
      "public-works): to the Meldpunt's triage queue (meldpunt-triage)";
  *cases.Add() = TriagedCase("MP-CCCCCCCCCCCCC", 1772443800, "");
  *cases.Add() = TriagedCase("MP-BBBBBBBBBBBBB", 1772357400, "no rule matches the case");
  *cases.Add() = TriagedCase(kTriaged, 1772357400, long_reason);
  *cases.Add() = TriagedCase("MP-AAAAAAAAAAAAA", 1772271000, "routed 5 times already");
  SortOldestFirst(&cases);
  EXPECT_EQ(TriageTable(cases),
            "case_id           reference          kind    category  submitted_at          "
            "triage_reason\n"
            "MP-AAAAAAAAAAAAA  MP-2026-AAAAAAAAA  REPORT  trees     2026-02-28T09:30:00Z  "
            "routed 5 times already\n"
            // Submitted in the same second: the server's order is kept.
            "MP-BBBBBBBBBBBBB  MP-2026-BBBBBBBBB  REPORT  trees     2026-03-01T09:30:00Z  "
            "no rule matches the case\n"
            "MP-7K3QX9M2TD4AB  MP-2026-7K3QX9M2T  REPORT  trees     2026-03-01T09:30:00Z  " +
                long_reason + "\n" +
                "MP-CCCCCCCCCCCCC  MP-2026-CCCCCCCCC  REPORT  trees     2026-03-02T09:30:00Z  -\n");
}

TEST(OutputTest, WorkloadPerDepartmentTeamAndMember) {
  routing::v1::GetWorkloadResponse response;
  auto* d = response.add_departments();
  d->set_department("public-works");
  d->set_name("Openbare werken");
  auto set = [](routing::v1::Load* load, int open, int soon, int overdue, int capacity) {
    load->set_open(open);
    load->set_due_within_24h(soon);
    load->set_overdue(overdue);
    load->set_capacity(capacity);
  };
  set(d->mutable_load(), 12, 3, 2, 50);
  set(d->mutable_unassigned(), 2, 0, 1, 0);
  auto* team = d->add_teams();
  team->set_team("lighting");
  set(team->mutable_load(), 10, 3, 1, 50);
  auto* an = team->add_members();
  an->set_member("an.peeters");
  an->set_available(true);
  set(an->mutable_load(), 7, 2, 1, 25);
  auto* bart = team->add_members();
  bart->set_member("bart.claes");
  set(bart->mutable_load(), 3, 1, 0, 0);
  auto* parks = response.add_departments();
  parks->set_department("parks");
  set(response.mutable_triage(), 4, 1, 1, 0);
  EXPECT_EQ(WorkloadTable(response),
            "workload        open  due_24h  overdue  capacity\n"
            "(triage)        4     1        1        –         the triage queue: nobody's yet\n"
            "public-works    12    3        2        50        Openbare werken\n"
            "  (unassigned)  2     0        1        –\n"
            "  lighting      10    3        1        50\n"
            "    an.peeters  7     2        1        25\n"
            "    bart.claes  3     1        0        –         unavailable\n"
            "parks           0     0        0        –\n");
}

intake::v1::CategoryInfo* AddCategory(intake::v1::GetCategoriesResponse* response,
                                      const std::string& id, const std::string& parent,
                                      const std::string& label, const std::string& code,
                                      bool active = true) {
  intake::v1::CategoryInfo* c = response->add_categories();
  c->set_id(id);
  c->set_parent(parent);
  c->set_label(label);
  c->set_service_code(code);
  c->set_active(active);
  return c;
}

TEST(OutputTest, CategoryTreeChildrenUnderTheirParent) {
  intake::v1::GetCategoriesResponse response;
  // A child before its parent in the file, a grandchild, an inactive one, a top one without code.
  AddCategory(&response, "potholes", "roads", "Putten in de weg", "RD-01");
  AddCategory(&response, "roads", "", "Wegen en voetpaden", "RD");
  AddCategory(&response, "street-lighting", "", "Éclairage public", "");
  AddCategory(&response, "sinkholes", "potholes", "Verzakkingen", "RD-01-1");
  AddCategory(&response, "cobbles", "roads", "Kasseien", "RD-02", /*active=*/false);
  EXPECT_EQ(CategoryTree(response),
            "id               label               service_code\n"
            "roads            Wegen en voetpaden  RD\n"
            "  potholes       Putten in de weg    RD-01\n"
            "    sinkholes    Verzakkingen        RD-01-1\n"
            "  cobbles        Kasseien            RD-02         inactive\n"
            // Aligned by characters, not bytes.
            "street-lighting  Éclairage public    -\n");
}

TEST(OutputTest, CategoryTreeShowsOrphansAndCyclesAtTheTop) {
  intake::v1::GetCategoriesResponse response;
  // The parent is inactive and was left out (no --all): the child stands at the top.
  AddCategory(&response, "benches", "old-furniture", "Banken", "SF-1");
  // A cycle the intake would refuse: both are shown once, nothing loops.
  AddCategory(&response, "a", "b", "A", "");
  AddCategory(&response, "b", "a", "B", "", /*active=*/false);
  EXPECT_EQ(CategoryTree(response),
            "id       label   service_code\n"
            "benches  Banken  SF-1          under old-furniture\n"
            "a        A       -             under b\n"
            "  b      B       -             inactive\n");
}

}  // namespace
}  // namespace meldpunt::meldctl
