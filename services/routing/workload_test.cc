#include "services/routing/workload.h"

#include <gtest/gtest.h>

namespace meldpunt::routing {
namespace {

Department Works() {
  Department d;
  d.id = "public-works";
  d.name = "Openbare werken";
  Team lighting{"lighting", {{"an", 25, {}, true}, {"bart", 20, {}, false}}};
  // A member in two teams counts in both, and once in the department.
  Team roads{"roads", {{"chris", 30, {}, true}, {"an", 25, {}, true}}};
  d.teams = {lighting, roads};
  return d;
}

const v1::MemberWorkload& MemberOf(const v1::TeamWorkload& team, const std::string& id) {
  for (const auto& m : team.members())
    if (m.member() == id) return m;
  ADD_FAILURE() << id << " not in " << team.team();
  static const v1::MemberWorkload none;
  return none;
}

TEST(Workload, CountsOpenDueSoonOverdueAndCapacity) {
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  DepartmentCases cases;
  cases.due = {
      {"overdue-an", now - absl::Minutes(1)},
      {"soon-an", now + absl::Hours(23)},
      {"edge-an", now + absl::Hours(24)},  // exactly 24 h ahead: not within 24 hours
      {"now-bart", now},                   // due at this very moment: not overdue yet
      {"no-clock-chris", std::nullopt},
      {"overdue-nobody", now - absl::Hours(5)},
      {"later-nobody", now + absl::Hours(100)},
  };
  cases.assigned = {{"an", {"overdue-an", "soon-an", "edge-an", "closed-meanwhile"}},
                    {"bart", {"now-bart"}},
                    {"chris", {"no-clock-chris"}}};
  v1::DepartmentWorkload w = CountWorkload(Works(), cases, now);

  EXPECT_EQ(w.department(), "public-works");
  EXPECT_EQ(w.name(), "Openbare werken");
  EXPECT_EQ(w.load().open(), 7);
  EXPECT_EQ(w.load().overdue(), 2);
  EXPECT_EQ(w.load().due_within_24h(), 2) << "soon-an and now-bart";
  EXPECT_EQ(w.load().capacity(), 25 + 20 + 30) << "an once";
  EXPECT_EQ(w.unassigned().open(), 2);
  EXPECT_EQ(w.unassigned().overdue(), 1);
  EXPECT_EQ(w.unassigned().due_within_24h(), 0);

  ASSERT_EQ(w.teams_size(), 2);
  const v1::TeamWorkload& lighting = w.teams(0);
  EXPECT_EQ(lighting.team(), "lighting");
  EXPECT_EQ(lighting.load().open(), 4) << "an's three (the closed one not) and bart's one";
  EXPECT_EQ(lighting.load().capacity(), 45);
  const v1::MemberWorkload& an = MemberOf(lighting, "an");
  EXPECT_EQ(an.load().open(), 3);
  EXPECT_EQ(an.load().overdue(), 1);
  EXPECT_EQ(an.load().due_within_24h(), 1);
  EXPECT_EQ(an.load().capacity(), 25);
  EXPECT_TRUE(an.available());
  const v1::MemberWorkload& bart = MemberOf(lighting, "bart");
  EXPECT_FALSE(bart.available());
  EXPECT_EQ(bart.load().due_within_24h(), 1);

  const v1::TeamWorkload& roads = w.teams(1);
  EXPECT_EQ(roads.load().open(), 1 + 3);
  EXPECT_EQ(MemberOf(roads, "chris").load().open(), 1);
  EXPECT_EQ(MemberOf(roads, "chris").load().overdue(), 0);
  EXPECT_EQ(MemberOf(roads, "chris").load().due_within_24h(), 0);
}

TEST(Workload, AnEmptyDepartmentCountsNothing) {
  v1::DepartmentWorkload w =
      CountWorkload(Works(), DepartmentCases{}, absl::FromUnixSeconds(1'800'000'000));
  EXPECT_EQ(w.load().open(), 0);
  EXPECT_EQ(w.unassigned().open(), 0);
  EXPECT_EQ(w.load().capacity(), 75);
  EXPECT_EQ(w.teams(0).members(0).load().open(), 0);
}

}  // namespace
}  // namespace meldpunt::routing
