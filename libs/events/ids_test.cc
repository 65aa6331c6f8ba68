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

namespace meldpunt::events {
namespace {

TEST(Reference, DerivedFromTheCaseIdWithACheckCharacter) {
  const std::string case_id = CaseIdFor("web-form", "req-42");
  const std::string reference = ReferenceFor(case_id, 2026);
  EXPECT_EQ(reference.size(), std::string("MP-2026-").size() + 9) << reference;
  EXPECT_EQ(reference.rfind("MP-2026-", 0), 0u);
  EXPECT_EQ(reference.substr(8, 8), case_id.substr(4, 8));
  EXPECT_EQ(ReferenceFor(case_id, 2026, 10).size(), std::string("MP-2026-").size() + 11);
  bool ok = false;
  EXPECT_EQ(NormalizeReference(reference, &ok), reference);
  EXPECT_TRUE(ok);
}

TEST(Reference, NormalisesWhatAPersonTypes) {
  const std::string reference = ReferenceFor(CaseIdFor("crm", "k"), 2026);
  std::string typed;
  for (char c : reference) typed.push_back(static_cast<char>(std::tolower(c)));
  typed.insert(10, " ");
  bool ok = false;
  EXPECT_EQ(NormalizeReference(typed, &ok), reference);
  EXPECT_TRUE(ok);
  EXPECT_EQ(NormalizeReference("MP-2026-0O1I", &ok), "MP-2026-0011");
  EXPECT_EQ(NormalizeReference("not a reference", &ok), "");
  EXPECT_EQ(NormalizeReference("MP-20X6-ABCDE", &ok), "");
}

TEST(Reference, CheckCharacterCatchesEverySingleTypo) {
  const std::string reference = ReferenceFor(CaseIdFor("crm", "typo"), 2026);
  const std::string alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  for (size_t i = 8; i < reference.size(); ++i) {
    for (char c : alphabet) {
      if (c == reference[i]) continue;
      std::string typo = reference;
      typo[i] = c;
      bool ok = true;
      NormalizeReference(typo, &ok);
      EXPECT_FALSE(ok) << typo;
    }
  }
}

}  // namespace
}  // namespace meldpunt::events
