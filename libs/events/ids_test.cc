#include "libs/events/ids.h"

#include <gtest/gtest.h>

#include <set>

namespace meldpunt::events {
namespace {

TEST(Ids, DeterministicIdIsStableAndSeparatesParts) {
  EXPECT_EQ(DeterministicId("routed", {"ev-1"}), DeterministicId("routed", {"ev-1"}));
  EXPECT_NE(DeterministicId("routed", {"ev-1"}), DeterministicId("routed", {"ev-2"}));
  EXPECT_NE(DeterministicId("routed", {"ab", "c"}), DeterministicId("routed", {"a", "bc"}));
  EXPECT_NE(DeterministicId("routed", {"x"}), DeterministicId("warning", {"x"}));
  const std::string id = DeterministicId("routed", {"ev-1"});
  EXPECT_EQ(id.rfind("routed-", 0), 0u);
  EXPECT_EQ(id.size(), std::string("routed-").size() + 32);
}

TEST(Ids, RandomIdsDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(RandomId("req"));
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Ids, CaseIdDependsOnSystemAndKey) {
  const std::string id = CaseIdFor("web-form", "req-42");
  EXPECT_EQ(id, CaseIdFor("web-form", "req-42"));
  EXPECT_NE(id, CaseIdFor("crm", "req-42"));
  EXPECT_NE(id, CaseIdFor("web-form", "req-43"));
  EXPECT_TRUE(IsCaseId(id)) << id;
  EXPECT_EQ(id.size(), 16u);
}

TEST(Ids, IsCaseIdRejectsMalformed) {
  EXPECT_FALSE(IsCaseId(""));
  EXPECT_FALSE(IsCaseId("MP-123"));
  EXPECT_FALSE(IsCaseId("XX-0123456789ABC"));
  EXPECT_FALSE(IsCaseId("MP-0123456789ABI"));  // I is not Crockford base32
  EXPECT_TRUE(IsCaseId("MP-0123456789ABC"));
}

}  // namespace
}  // namespace meldpunt::events
