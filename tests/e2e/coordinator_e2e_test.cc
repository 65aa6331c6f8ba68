// The Meldpunt coordinator's view and lever end to end, on the real stack (the four binaries of
// the e2e_services fixture with the shipped routing rules and the e2e deadline config, a real
// Kafka broker and Redis):
// - Routing/GetWorkload: a routed case counts in the `open` of its department, team and member,
//   by the earliest due time of its running clocks as routing folds them from the clock events
//   (the e2e `answer` clock runs 10 s from the receipt: due within 24 hours at first, overdue once
//   the 10 s have passed); answered, it counts no more. An unknown department is refused.
// - CaseWork/ChangePriority: PriorityChanged with the previous priority, the reason and the actor;
//   GetCase follows; a repeated command_id appends nothing; the same priority again, a missing
//   reason or priority, a case no longer open are refused; meldctl priority and workload.
// - Deadline-watch on PriorityChanged: the e2e deadline config gives sewer reports a `resolve`
//   clock of 10 days, 48 hours when URGENT. Raised to URGENT, the running resolve clock moves to
//   resolve-urgent (a new generation, the same start, the earlier due time, a PRIORITY change with
//   the reason, one ClockStarted "priority"); the clocks with one policy for every priority
//   (`answer`, `acknowledge`) stay as they were.
// - Routing decides with the team's priority: a danger word makes a case URGENT, the team lowers
//   it, and when the case is routed again (bounced, then sent on by the team out of triage) it
//   stays as the team set it, on the case and on the department's feed.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "libs/calendar/calendar.h"
#include "libs/events/codec.h"
#include "libs/events/topics.h"
#include "libs/kafka/consumer.h"
#include "meldpunt/deadline/v1/deadline.grpc.pb.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "meldpunt/routing/v1/routing.grpc.pb.h"
#include "tests/testing/e2e.h"
#include "tests/testing/stack.h"

namespace meldpunt {
namespace {

namespace t = ::meldpunt::types::v1;
using deadline::v1::Clock;
using routing::v1::Load;

// The shipped rules (deploy/config/routing-rules.yaml): a sewer goes to public-works, team roads,
// and dirk.jacobs is the only member there with the skill `sewer`.
constexpr char kDepartment[] = "public-works";
constexpr char kTeam[] = "roads";
constexpr char kMember[] = "dirk.jacobs";
constexpr char kTeamActor[] = "team:meldpunt";

// One department's counts in GetWorkload, with one of its teams and one member.
struct Workload {
  Load department;
  Load unassigned;
  Load team;
  Load member;
};

// `after` less `before`, count by count (the capacity too).
Load Minus(const Load& after, const Load& before) {
  Load d;
  d.set_open(after.open() - before.open());
  d.set_due_within_24h(after.due_within_24h() - before.due_within_24h());
  d.set_overdue(after.overdue() - before.overdue());
  d.set_capacity(after.capacity() - before.capacity());
  return d;
}

bool Counts(const Load& d, int64_t open, int64_t due_within_24h, int64_t overdue) {
  return d.open() == open && d.due_within_24h() == due_within_24h && d.overdue() == overdue &&
         d.capacity() == 0;
}

std::string Show(const Load& l) {
  return absl::StrCat("{open ", l.open(), ", due_within_24h ", l.due_within_24h(), ", overdue ",
                      l.overdue(), ", capacity ", l.capacity(), "}");
}

std::string Show(const Workload& before, const Workload& after) {
  return absl::StrCat("changes: department ", Show(Minus(after.department, before.department)),
                      ", unassigned ", Show(Minus(after.unassigned, before.unassigned)), ", team ",
                      Show(Minus(after.team, before.team)), ", member ",
                      Show(Minus(after.member, before.member)));
}

class CoordinatorE2e : public testing::E2eSuite {
 protected:
  static std::shared_ptr<grpc::Channel> ChannelTo(const std::string& service) {
    return grpc::CreateChannel(stack_->services.at(service).grpc,
                               grpc::InsecureChannelCredentials());
  }

  static std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    return context;
  }

  // A report of a sewer in the centre (no coordinates: never a duplicate of another test's case).
  static std::string Submit(const std::string& description) {
    intake::v1::SubmitCaseRequest r;
    r.set_submitting_system("e2e-web-form");
    r.set_request_key(testing::UniqueName("coordinator"));
    auto* d = r.mutable_draft();
    d->set_kind(t::REPORT);
    d->set_channel(t::WEB);
    d->set_category("sewer");
    d->set_description(description);
    d->mutable_location()->set_postcode("9000");
    d->mutable_reporter()->set_name("Lies Wouters");
    d->mutable_reporter()->set_email("lies.wouters@example.org");
    intake::v1::SubmitCaseResponse response;
    const grpc::Status status =
        intake::v1::Intake::NewStub(ChannelTo("intake"))->SubmitCase(Context().get(), r, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.case_id();
  }

  static std::optional<t::Case> Get(const std::string& case_id) {
    intake::v1::GetCaseRequest request;
    request.set_case_id(case_id);
    intake::v1::GetCaseResponse response;
    if (!intake::v1::Intake::NewStub(ChannelTo("intake"))
             ->GetCase(Context().get(), request, &response)
             .ok()) {
      return std::nullopt;
    }
    return response.case_();
  }

  // The case once it is in `state` with `department` (or as it was after 60 s).
  static std::optional<t::Case> WaitFor(const std::string& case_id, t::CaseState state,
                                        const std::string& department) {
    std::optional<t::Case> c;
    testing::Eventually(
        [&] {
          c = Get(case_id);
          return c && c->state() == state && c->department() == department;
        },
        absl::Seconds(60));
    return c;
  }

  // The case's clocks by name (none when the call fails).
  static std::map<std::string, Clock> Clocks(const std::string& case_id) {
    deadline::v1::GetCaseClocksRequest request;
    request.set_case_id(case_id);
    deadline::v1::GetCaseClocksResponse response;
    std::map<std::string, Clock> out;
    if (!deadline::v1::DeadlineWatch::NewStub(ChannelTo("deadline_watch"))
             ->GetCaseClocks(Context().get(), request, &response)
             .ok()) {
      return out;
    }
    for (const Clock& c : response.clocks()) out[c.name()] = c;
    return out;
  }

  static grpc::Status GetWorkload(const std::string& department,
                                  routing::v1::GetWorkloadResponse* out) {
    routing::v1::GetWorkloadRequest request;
    request.set_department(department);
    return routing::v1::Routing::NewStub(ChannelTo("routing"))
        ->GetWorkload(Context().get(), request, out);
  }

  // kDepartment's counts, with kTeam's and kMember's (none when the call fails or lacks them).
  static std::optional<Workload> ReadWorkload() {
    routing::v1::GetWorkloadResponse response;
    const grpc::Status status = GetWorkload(kDepartment, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok() || response.departments_size() != 1) return std::nullopt;
    const routing::v1::DepartmentWorkload& d = response.departments(0);
    EXPECT_EQ(d.department(), kDepartment);
    Workload w{.department = d.load(), .unassigned = d.unassigned()};
    bool team = false;
    bool member = false;
    for (const auto& t : d.teams()) {
      if (t.team() != kTeam) continue;
      team = true;
      w.team = t.load();
      for (const auto& m : t.members()) {
        if (m.member() != kMember) continue;
        member = true;
        w.member = m.load();
      }
    }
    EXPECT_TRUE(team && member) << response.DebugString();
    if (!team || !member) return std::nullopt;
    return w;
  }

  // kDepartment's workload once none of its cases is due within 24 hours. The cases earlier tests
  // left there are then all overdue (the e2e `answer` clock runs 10 s) or answered, so from here
  // on the counts move with this test's cases only, and the test compares before and after.
  static std::optional<Workload> Baseline() {
    std::optional<Workload> w;
    EXPECT_TRUE(testing::Eventually(
        [&] {
          w = ReadWorkload();
          return w && w->department.due_within_24h() == 0;
        },
        absl::Seconds(60)))
        << "public-works still has cases due within 24 hours: "
        << (w ? Show(w->department) : "no workload");
    return w;
  }

  static grpc::Status ChangePriority(const std::string& case_id, const std::string& command_id,
                                     t::Priority priority, const std::string& reason,
                                     intake::v1::CaseResponse* out) {
    intake::v1::ChangePriorityRequest request;
    request.set_case_id(case_id);
    request.set_command_id(command_id);
    request.mutable_actor()->set_id(kTeamActor);
    request.set_priority(priority);
    request.set_reason(reason);
    return intake::v1::CaseWork::NewStub(ChannelTo("intake"))
        ->ChangePriority(Context().get(), request, out);
  }

  static grpc::Status Answer(const std::string& case_id) {
    intake::v1::AnswerCaseRequest request;
    request.set_case_id(case_id);
    request.mutable_actor()->set_id(absl::StrCat("department:", kDepartment));
    request.set_answer("Het deksel van de rioolkolk is vervangen.");
    intake::v1::CaseResponse out;
    return intake::v1::CaseWork::NewStub(ChannelTo("intake"))
        ->AnswerCase(Context().get(), request, &out);
  }

  static std::vector<intake::v1::HistoryEntry> History(const std::string& case_id) {
    intake::v1::GetCaseHistoryRequest request;
    request.set_case_id(case_id);
    intake::v1::GetCaseHistoryResponse response;
    const grpc::Status status = intake::v1::Intake::NewStub(ChannelTo("intake"))
                                    ->GetCaseHistory(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.entries().begin(), response.entries().end()};
  }

  static int Count(const std::vector<intake::v1::HistoryEntry>& history, const std::string& type) {
    int n = 0;
    for (const auto& e : history) n += e.type() == type && !e.rejected();
    return n;
  }

  // The department's dispatch messages about the case, read by a fresh group until `at_least`
  // arrived or 60 s passed.
  static std::vector<events::v1::DispatchMessage> Dispatched(const std::string& department,
                                                             const std::string& case_id,
                                                             size_t at_least) {
    std::vector<events::v1::DispatchMessage> out;
    auto consumer = kafka::Consumer::Create({.brokers = stack_->kafka,
                                             .group_id = testing::UniqueName("coordinator-reader"),
                                             .topics = {events::DispatchTopic(department)},
                                             .extra = stack_->kafka_properties});
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    if (!consumer.ok()) return out;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline && out.size() < at_least) {
      auto record = (*consumer)->Poll(absl::Milliseconds(200));
      if (!record.ok() || !record->has_value() || (*record)->key != case_id) continue;
      events::v1::DispatchMessage d;
      EXPECT_TRUE(d.ParseFromString((*record)->value));
      out.push_back(d);
    }
    (*consumer)->Close();
    return out;
  }

  // meldctl's output and exit status.
  static std::pair<int, std::string> Meldctl(const std::vector<std::string>& args) {
    std::string command =
        absl::StrCat(MELDCTL_BIN, " --intake ", stack_->services.at("intake").grpc, " --routing ",
                     stack_->services.at("routing").grpc, " --timeout 60");
    for (const std::string& arg : args) absl::StrAppend(&command, " '", arg, "'");
    absl::StrAppend(&command, " 2>&1");
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return {-1, ""};
    std::array<char, 4096> buffer;
    while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) out.append(buffer.data(), n);
    const int status = pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
  }
};

TEST_F(CoordinatorE2e, TheWorkloadCountsARoutedCaseAndTheTeamRaisesItsPriority) {
  const std::optional<Workload> before = Baseline();
  ASSERT_TRUE(before.has_value());
  // The capacity the rules give: the member's own, the team's and the department's sums.
  EXPECT_EQ(before->member.capacity(), 30);
  EXPECT_EQ(before->team.capacity(), 60);
  EXPECT_EQ(before->department.capacity(), 110);

  const std::string case_id = Submit("Het deksel van de rioolkolk ligt naast het gat");
  ASSERT_FALSE(case_id.empty());
  std::optional<t::Case> c = WaitFor(case_id, t::ROUTED, kDepartment);
  ASSERT_TRUE(c && c->state() == t::ROUTED && c->department() == kDepartment)
      << "state " << (c ? t::CaseState_Name(c->state()) : "none");
  EXPECT_EQ(c->team(), kTeam);
  EXPECT_EQ(c->assignee(), kMember);
  EXPECT_EQ(c->priority(), t::NORMAL);

  // Its clocks run from the receipt (GetCaseClocks); `answer` is the earliest due.
  std::map<std::string, Clock> clocks;
  ASSERT_TRUE(testing::Eventually(
      [&] {
        clocks = Clocks(case_id);
        return clocks.count("answer") && clocks.count("acknowledge") && clocks.count("resolve");
      },
      absl::Seconds(30)))
      << "the clocks of " << case_id << " did not start";
  const absl::Time received = events::GetTime(c->received_at());
  for (const char* name : {"answer", "acknowledge"}) {
    EXPECT_EQ(events::GetTime(clocks[name].started_at()), received) << name;
    EXPECT_EQ(clocks[name].policy(), name);
    EXPECT_EQ(clocks[name].generation(), 1) << name;
  }
  // `answer` 10 s exactly; `acknowledge` 10 days the default way: the end of the 10th day after.
  EXPECT_EQ(events::GetTime(clocks["answer"].due_at()), received + absl::Seconds(10));
  const absl::TimeZone& zone = calendar::BrusselsTimeZone();
  EXPECT_EQ(events::GetTime(clocks["acknowledge"].due_at()),
            absl::FromCivil(absl::ToCivilDay(received, zone) + 11, zone));
  EXPECT_EQ(clocks["resolve"].policy(), "resolve");
  EXPECT_EQ(clocks["resolve"].term(), "10d");

  // Counted where it was sent: the department, the team, the member (nobody else's); due within
  // 24 hours while `answer` runs (unless routing folded it after its 10 s), then overdue.
  std::optional<Workload> now;
  EXPECT_TRUE(testing::Eventually(
      [&] {
        now = ReadWorkload();
        if (!now) return false;
        for (const Load& d : {Minus(now->department, before->department),
                              Minus(now->team, before->team), Minus(now->member, before->member)}) {
          if (d.open() != 1 || d.due_within_24h() + d.overdue() != 1) return false;
        }
        return Counts(Minus(now->unassigned, before->unassigned), 0, 0, 0);
      },
      absl::Seconds(30)))
      << (now ? Show(*before, *now) : "no workload");
  EXPECT_TRUE(testing::Eventually(
      [&] {
        now = ReadWorkload();
        return now && Counts(Minus(now->department, before->department), 1, 0, 1) &&
               Counts(Minus(now->team, before->team), 1, 0, 1) &&
               Counts(Minus(now->member, before->member), 1, 0, 1) &&
               Counts(Minus(now->unassigned, before->unassigned), 0, 0, 0);
      },
      absl::Seconds(30)))
      << (now ? Show(*before, *now) : "no workload");
  auto [code, table] = Meldctl({"workload", "--department", kDepartment});
  EXPECT_EQ(code, 0) << table;
  EXPECT_NE(table.find(kDepartment), std::string::npos) << table;
  EXPECT_NE(table.find(kMember), std::string::npos) << table;

  // The team raises it.
  const std::string reason = "gevaar voor fietsers: het gat ligt op het fietspad";
  const std::string command_id = testing::UniqueName("priority");
  intake::v1::CaseResponse changed;
  grpc::Status status = ChangePriority(case_id, command_id, t::URGENT, reason, &changed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_FALSE(changed.event_id().empty());
  EXPECT_EQ(changed.case_().priority(), t::URGENT);
  c = Get(case_id);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->priority(), t::URGENT);
  EXPECT_EQ(c->state(), t::ROUTED);
  EXPECT_EQ(c->department(), kDepartment);

  std::vector<intake::v1::HistoryEntry> history = History(case_id);
  ASSERT_EQ(Count(history, "PriorityChanged"), 1);
  for (const auto& e : history) {
    if (e.type() != "PriorityChanged") continue;
    EXPECT_EQ(e.event_id(), changed.event_id());
    EXPECT_EQ(e.actor().id(), kTeamActor);
    ASSERT_TRUE(e.event().has_priority_changed()) << e.DebugString();
    EXPECT_EQ(e.event().priority_changed().previous(), t::NORMAL);
    EXPECT_EQ(e.event().priority_changed().priority(), t::URGENT);
    EXPECT_EQ(e.event().priority_changed().reason(), reason);
  }

  // The same command again: the same event, nothing new (although the case is URGENT now).
  intake::v1::CaseResponse repeated;
  status = ChangePriority(case_id, command_id, t::URGENT, reason, &repeated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(repeated.event_id(), changed.event_id());
  EXPECT_EQ(Count(History(case_id), "PriorityChanged"), 1);
  // The priority it has, no reason, no priority: refused, nothing appended.
  intake::v1::CaseResponse refused;
  status = ChangePriority(case_id, testing::UniqueName("priority"), t::URGENT, reason, &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "priority: the case is URGENT already"))
      << status.error_message();
  status = ChangePriority(case_id, testing::UniqueName("priority"), t::HIGH, "", &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "reason")) << status.error_message();
  status = ChangePriority(case_id, testing::UniqueName("priority"), t::PRIORITY_UNSPECIFIED, reason,
                          &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "priority")) << status.error_message();
  auto [again_code, again] = Meldctl({"priority", case_id, "--set", "URGENT", "--reason", reason});
  EXPECT_NE(again_code, 0) << again;
  EXPECT_NE(again.find("URGENT already"), std::string::npos) << again;
  EXPECT_EQ(Count(History(case_id), "PriorityChanged"), 1);
  EXPECT_EQ(Get(case_id)->priority(), t::URGENT);

  // The resolve clock moves to the urgent policy: from the same start, due earlier.
  std::map<std::string, Clock> moved;
  ASSERT_TRUE(testing::Eventually(
      [&] {
        moved = Clocks(case_id);
        return moved.count("resolve") && moved["resolve"].policy() == "resolve-urgent";
      },
      absl::Seconds(30)))
      << "resolve did not move: " << moved["resolve"].DebugString();
  const Clock& resolve = moved["resolve"];
  EXPECT_EQ(resolve.term(), "48h");
  EXPECT_EQ(resolve.generation(), clocks["resolve"].generation() + 1);
  EXPECT_EQ(events::GetTime(resolve.started_at()), received);
  EXPECT_LT(events::GetTime(resolve.due_at()), events::GetTime(clocks["resolve"].due_at()));
  EXPECT_GE(events::GetTime(resolve.due_at()), received + absl::Hours(48));
  ASSERT_GE(resolve.changes_size(), 1);
  const auto& change = resolve.changes(resolve.changes_size() - 1);
  EXPECT_EQ(change.kind(), deadline::v1::ClockChange::PRIORITY);
  EXPECT_EQ(change.event_id(), changed.event_id());
  EXPECT_EQ(change.actor(), kTeamActor);
  EXPECT_EQ(change.reason(), "NORMAL -> URGENT: " + reason);
  EXPECT_EQ(events::GetTime(change.previous_due_at()), events::GetTime(clocks["resolve"].due_at()));

  // Still overdue in the workload (`answer` is still the earliest).
  now = ReadWorkload();
  ASSERT_TRUE(now.has_value());
  EXPECT_TRUE(Counts(Minus(now->department, before->department), 1, 0, 1) &&
              Counts(Minus(now->member, before->member), 1, 0, 1))
      << Show(*before, *now);

  // The department answers. Deadline-watch reads the case's events in order: once it has
  // stopped `answer` for the answer, it has handled the PriorityChanged before it.
  status = Answer(case_id);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::map<std::string, Clock> after;
  ASSERT_TRUE(testing::Eventually(
      [&] {
        after = Clocks(case_id);
        return after.count("answer") && after["answer"].status() == deadline::v1::STOPPED;
      },
      absl::Seconds(30)))
      << "answer not stopped: " << after["answer"].DebugString();
  EXPECT_EQ(after["answer"].stop_reason(), "answered");
  // `answer` and `acknowledge` have one policy for every priority: as before, with no PRIORITY
  // change.
  for (const char* name : {"answer", "acknowledge"}) {
    ASSERT_TRUE(after.count(name)) << name;
    const Clock& was = clocks[name];
    const Clock& is = after[name];
    EXPECT_EQ(is.policy(), was.policy()) << name;
    EXPECT_EQ(is.generation(), was.generation()) << name;
    EXPECT_EQ(is.term(), was.term()) << name;
    EXPECT_EQ(events::GetTime(is.started_at()), events::GetTime(was.started_at())) << name;
    EXPECT_EQ(events::GetTime(is.due_at()), events::GetTime(was.due_at())) << name;
    for (const auto& change : is.changes()) {
      EXPECT_NE(change.kind(), deadline::v1::ClockChange::PRIORITY) << name << change.DebugString();
    }
  }
  int moved_by_priority = 0;
  for (const auto& e : History(case_id)) {
    if (!e.event().has_clock_started() || e.event().clock_started().reason() != "priority")
      continue;
    ++moved_by_priority;
    EXPECT_EQ(e.event().clock_started().clock(), "resolve") << e.DebugString();
    EXPECT_EQ(e.event().clock_started().policy(), "resolve-urgent") << e.DebugString();
  }
  EXPECT_EQ(moved_by_priority, 1);

  // Answered: out of the workload, and no priority any more.
  EXPECT_TRUE(testing::Eventually(
      [&] {
        now = ReadWorkload();
        return now && Counts(Minus(now->department, before->department), 0, 0, 0) &&
               Counts(Minus(now->team, before->team), 0, 0, 0) &&
               Counts(Minus(now->member, before->member), 0, 0, 0);
      },
      absl::Seconds(30)))
      << (now ? Show(*before, *now) : "no workload");
  status = ChangePriority(case_id, testing::UniqueName("priority"), t::LOW, reason, &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_EQ(Count(History(case_id), "PriorityChanged"), 1);
}

TEST_F(CoordinatorE2e, TheWorkloadOfEveryDepartmentOrOneTheRulesKnow) {
  routing::v1::GetWorkloadResponse all;
  grpc::Status status = GetWorkload("", &all);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<std::string> departments;
  for (const auto& d : all.departments()) departments.push_back(d.department());
  for (const char* d : {"public-works", "environment", "green-spaces", "mobility",
                        "complaints-office", "meldpunt-triage"}) {
    EXPECT_NE(std::find(departments.begin(), departments.end(), d), departments.end()) << d;
  }
  EXPECT_EQ(departments.size(), 6u);
  EXPECT_LE(absl::AbsDuration(events::GetTime(all.as_of()) - absl::Now()), absl::Minutes(1));

  routing::v1::GetWorkloadResponse unknown;
  status = GetWorkload("riolering", &unknown);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "department")) << status.error_message();
  auto [code, out] = Meldctl({"workload", "--department", "riolering"});
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("department"), std::string::npos) << out;
}

// A danger word makes the case URGENT; the team lowers it. Bounced by public-works, the case goes
// to triage, and the team sends it on to environment: routed again, as the team set it, not as
// the danger word says.
TEST_F(CoordinatorE2e, RoutingDecidesWithThePriorityTheTeamSet) {
  const std::string case_id = Submit("Rioolgeur aan de school, de kinderen spreken van gevaar");
  ASSERT_FALSE(case_id.empty());
  std::optional<t::Case> c = WaitFor(case_id, t::ROUTED, kDepartment);
  ASSERT_TRUE(c && c->department() == kDepartment)
      << "state " << (c ? t::CaseState_Name(c->state()) : "none");
  EXPECT_EQ(c->priority(), t::URGENT) << "the danger word";

  auto [code, out] =
      Meldctl({"priority", case_id, "--set", "LOW", "--reason", "geen gevaar: een geurklacht",
               "--command-id", testing::UniqueName("priority")});
  ASSERT_EQ(code, 0) << out;
  c = Get(case_id);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->priority(), t::LOW);

  // The triage queue's count in the workload view, before the case falls into it.
  auto triage_open = [&]() -> int64_t {
    routing::v1::GetWorkloadResponse w;
    if (!GetWorkload("", &w).ok() || !w.has_triage()) return -1;
    return w.triage().open();
  };
  const int64_t triage_before = triage_open();
  ASSERT_GE(triage_before, 0);

  intake::v1::BounceCaseRequest bounce;
  bounce.set_case_id(case_id);
  bounce.mutable_actor()->set_id(absl::StrCat("department:", kDepartment));
  bounce.set_reason("een geur, geen verstopping: milieu");
  intake::v1::CaseResponse bounced;
  grpc::Status status = intake::v1::CaseWork::NewStub(ChannelTo("intake"))
                            ->BounceCase(Context().get(), bounce, &bounced);
  ASSERT_TRUE(status.ok()) << status.error_message();
  c = WaitFor(case_id, t::IN_TRIAGE, "");
  ASSERT_TRUE(c && c->state() == t::IN_TRIAGE)
      << "state " << (c ? t::CaseState_Name(c->state()) : "none");
  EXPECT_EQ(c->priority(), t::LOW);
  EXPECT_TRUE(
      testing::Eventually([&] { return triage_open() == triage_before + 1; }, absl::Seconds(20)))
      << "the triage queue counts the case: " << triage_open() << " after " << triage_before;

  intake::v1::ReassignCaseRequest reassign;
  reassign.set_case_id(case_id);
  reassign.mutable_actor()->set_id(kTeamActor);
  reassign.set_department("environment");
  reassign.set_reason("geurhinder: milieu");
  intake::v1::CaseResponse reassigned;
  status = intake::v1::CaseWork::NewStub(ChannelTo("intake"))
               ->ReassignCase(Context().get(), reassign, &reassigned);
  ASSERT_TRUE(status.ok()) << status.error_message();
  c = WaitFor(case_id, t::ROUTED, "environment");
  ASSERT_TRUE(c && c->department() == "environment")
      << "state " << (c ? t::CaseState_Name(c->state()) : "none");
  EXPECT_EQ(c->priority(), t::LOW) << "the team's priority, not the danger word's";
  EXPECT_TRUE(
      testing::Eventually([&] { return triage_open() == triage_before; }, absl::Seconds(20)))
      << "out of the triage queue: " << triage_open() << " after " << triage_before;

  std::vector<intake::v1::HistoryEntry> history = History(case_id);
  ASSERT_EQ(Count(history, "CaseRouted"), 2);
  int routed = 0;
  for (const auto& e : history) {
    if (!e.event().has_case_routed()) continue;
    const auto& r = e.event().case_routed();
    if (++routed == 1) {
      EXPECT_EQ(r.priority(), t::URGENT);
      continue;
    }
    EXPECT_EQ(r.department(), "environment");
    EXPECT_EQ(r.priority(), t::LOW);
    EXPECT_TRUE(absl::StrContains(r.explanation(), "priority LOW set by the Meldpunt team"))
        << r.explanation();
  }
  std::vector<events::v1::DispatchMessage> dispatched = Dispatched("environment", case_id, 1);
  ASSERT_EQ(dispatched.size(), 1u);
  EXPECT_EQ(dispatched[0].priority(), t::LOW);
}

}  // namespace
}  // namespace meldpunt
