#include "libs/catalog/catalog.h"

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "libs/catalog/catalog_file.h"
#include "libs/catalog/slug.h"

namespace meldpunt::catalog {
namespace {

namespace t = ::meldpunt::types::v1;

constexpr char kSmall[] = R"(categories:
  - id: public-space
    labels: {nl: Openbare ruimte, fr: Espace public, en: Public space}
  - id: roads
    parent: public-space
    labels: {nl: Wegen, fr: Routes, en: Roads}
    descriptions: {nl: Het wegdek}
    keywords: [weg, route]
    group: street
    service_code: "102"
  - id: potholes
    parent: roads
    labels: {nl: Putten, fr: Nids-de-poule, en: Potholes}
  - id: old-kiosks
    labels: {nl: Kiosken, fr: Kiosques, en: Kiosks}
    active: false
)";

std::string ErrorOf(const std::string& yaml) {
  auto catalog = Catalog::Parse(yaml, "categories.yaml");
  if (catalog.ok()) return "OK";
  EXPECT_EQ(catalog.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(catalog.status().message());
}

TEST(Slug, OneRuleForEveryId) {
  EXPECT_TRUE(IsSlug("street-lighting"));
  EXPECT_TRUE(IsSlug("a"));
  EXPECT_TRUE(IsSlug(std::string(64, 'x')));
  EXPECT_FALSE(IsSlug(std::string(65, 'x')));
  EXPECT_FALSE(IsSlug(""));
  EXPECT_FALSE(IsSlug("-roads"));
  EXPECT_FALSE(IsSlug("roads-"));
  EXPECT_FALSE(IsSlug("Roads"));
  EXPECT_FALSE(IsSlug("wegen en voetpaden"));
  EXPECT_FALSE(IsSlug("route/a"));
  EXPECT_FALSE(IsSlug("é"));
}

TEST(Catalog, TheTreeAndTheLabels) {
  auto catalog = Catalog::Parse(kSmall, "categories.yaml");
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  const Catalog& c = **catalog;
  EXPECT_EQ(c.categories().size(), 4u);
  EXPECT_EQ(c.Ancestors("potholes"),
            (std::vector<std::string>{"potholes", "roads", "public-space"}));
  EXPECT_TRUE(c.IsWithin("potholes", "roads"));
  EXPECT_TRUE(c.IsWithin("potholes", "public-space"));
  EXPECT_TRUE(c.IsWithin("roads", "roads"));
  EXPECT_FALSE(c.IsWithin("roads", "potholes"));
  EXPECT_FALSE(c.IsWithin("unknown", "unknown")) << "an unknown id lies nowhere";
  EXPECT_TRUE(c.Ancestors("unknown").empty());
  EXPECT_EQ(c.Label("potholes", t::FR), "Nids-de-poule");
  EXPECT_EQ(c.Label("potholes", t::EN), "Potholes");
  EXPECT_EQ(c.Label("potholes", t::NL), "Putten");
  EXPECT_EQ(c.Label("potholes", t::LANGUAGE_UNSPECIFIED), "Putten");
  EXPECT_EQ(c.Label("unknown", t::FR), "unknown");
  const Category* roads = c.Find("roads");
  ASSERT_NE(roads, nullptr);
  EXPECT_EQ(roads->descriptions.In(t::FR), "Het wegdek") << "a missing text falls back to Dutch";
  EXPECT_EQ(roads->keywords, (std::vector<std::string>{"weg", "route"}));
  EXPECT_EQ(roads->group, "street");
  EXPECT_EQ(roads->service_code, "102");
  EXPECT_TRUE(roads->active);
  EXPECT_FALSE(c.Find("old-kiosks")->active);
}

TEST(Catalog, EveryProblemIsNamedWithItsLine) {
  EXPECT_EQ(ErrorOf(kSmall), "OK");
  EXPECT_EQ(ErrorOf("categories: []"),
            "categories.yaml: categories: required, a list of at least one category");
  EXPECT_EQ(ErrorOf("categories:\n  - id: Roads\n    labels: {nl: a, fr: b, en: c}\n"),
            std::string("categories.yaml:2:5: categories[0].id: ") + kSlugRule);
  EXPECT_EQ(ErrorOf("categories:\n  - id: a\n    labels: {nl: a, fr: b, en: c}\n"
                    "  - id: a\n    labels: {nl: a, fr: b, en: c}\n"),
            "categories.yaml:4:9: categories[1].id: 'a' twice");
  EXPECT_EQ(ErrorOf("categories:\n  - id: a\n    labels: {nl: a, en: c}\n"),
            "categories.yaml:3:13: categories[0].labels.fr: required: a label in each of nl, fr "
            "and en");
  EXPECT_EQ(ErrorOf("categories:\n  - id: a\n"),
            "categories.yaml: categories[0].labels: required (nl, fr and en)");
  EXPECT_EQ(ErrorOf("categories:\n  - id: a\n    parent: b\n    labels: {nl: a, fr: b, en: c}\n"),
            "categories.yaml:3:13: categories[0].parent: 'b' is not a category of this file");
  EXPECT_NE(ErrorOf("categories:\n  - id: a\n    parent: b\n    labels: {nl: a, fr: b, en: c}\n"
                    "  - id: b\n    parent: a\n    labels: {nl: a, fr: b, en: c}\n")
                .find("go round in a circle"),
            std::string::npos);
  EXPECT_NE(ErrorOf("categories:\n  - id: a\n    labels: {nl: a, fr: b, en: c}\n"
                    "    service_code: \"1\"\n  - id: b\n    labels: {nl: a, fr: b, en: c}\n"
                    "    service_code: \"1\"\n")
                .find("categories[1].service_code: '1' is also the code of 'a'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("categories:\n  - id: a\n    labels: {nl: a, fr: b, en: c}\n    actief: true\n")
                .find("unknown key 'actief'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("categories:\n  - id: a\n    labels: {nl: a, fr: b, en: c}\n    active: yes\n")
                .find("categories[0].active: true or false"),
            std::string::npos);
  EXPECT_NE(ErrorOf("categories:\n  - id: a\n    labels: {nl: a, fr: b, en: c}\n"
                    "    service_code: \"a b\"\n")
                .find("categories[0].service_code"),
            std::string::npos);
  EXPECT_NE(ErrorOf("categories: [{id: a, labels: {nl: a, fr: b, en: c}, keywords: weg}]")
                .find("categories[0].keywords: must be a list"),
            std::string::npos);
  EXPECT_NE(ErrorOf("categories: [{id: a").find("categories.yaml:1:"), std::string::npos);
  EXPECT_EQ(Catalog::LoadFile("/nonexistent/categories.yaml").status().code(),
            absl::StatusCode::kNotFound);
}

// The departments' names, for what people read; a department the file does not name keeps its id.
TEST(Catalog, DepartmentsHaveNamesInTheThreeLanguages) {
  auto catalog = Catalog::Parse(
      "departments:\n  - id: public-works\n"
      "    labels: {nl: Openbare werken, fr: Travaux publics, en: Public works}\n"
      "categories:\n  - id: a\n    labels: {nl: a, fr: b, en: c}\n",
      "categories.yaml");
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  EXPECT_EQ((*catalog)->DepartmentLabel("public-works", t::FR), "Travaux publics");
  EXPECT_EQ((*catalog)->DepartmentLabel("public-works", t::LANGUAGE_UNSPECIFIED),
            "Openbare werken");
  EXPECT_EQ((*catalog)->DepartmentLabel("parks", t::EN), "parks");
  ASSERT_EQ((*catalog)->departments().size(), 1u);

  const std::string category = "categories:\n  - id: a\n    labels: {nl: a, fr: b, en: c}\n";
  EXPECT_EQ(ErrorOf("departments:\n  - id: Works\n    labels: {nl: a, fr: b, en: c}\n" + category),
            std::string("categories.yaml:2:5: departments[0].id: ") + kSlugRule);
  EXPECT_EQ(ErrorOf("departments:\n  - id: w\n    labels: {nl: a, fr: b, en: c}\n"
                    "  - id: w\n    labels: {nl: a, fr: b, en: c}\n" +
                    category),
            "categories.yaml:4:9: departments[1].id: 'w' twice");
  EXPECT_NE(ErrorOf("departments:\n  - id: w\n    labels: {nl: a}\n" + category)
                .find("departments[0].labels.fr: required"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf("departments:\n  - id: w\n    name: Werken\n" + category).find("unknown key 'name'"),
      std::string::npos);
  EXPECT_NE(ErrorOf("departments: public-works\n" + category).find("departments: must be a list"),
            std::string::npos);
}

TEST(Catalog, TheShippedCatalogueLoads) {
  const char* source = std::getenv("MELDPUNT_SOURCE_DIR");
  auto catalog =
      Catalog::LoadFile(std::string(source ? source : ".") + "/deploy/config/categories.yaml");
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  EXPECT_TRUE((*catalog)->IsWithin("potholes", "public-space"));
  for (const Category& c : (*catalog)->categories()) {
    EXPECT_FALSE(c.labels.fr.empty() || c.labels.en.empty()) << c.id;
    EXPECT_FALSE(c.service_code.empty()) << c.id << " needs a public service code";
  }
}

TEST(CatalogFile, AChangedFileIsReadAgainAndABadOneKeepsTheCatalogueInForce) {
  const std::string path = ::testing::TempDir() + "/catalog-file-test.yaml";
  std::ofstream(path) << kSmall;
  auto file = CatalogFile::Open(path, absl::ZeroDuration());
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE((*file)->Current()->Contains("potholes"));
  // A category added: seen at the next look.
  std::ofstream(path)
      << kSmall << "  - id: graffiti\n    labels: {nl: Graffiti, fr: Graffiti, en: Graffiti}\n";
  EXPECT_TRUE((*file)->Current()->Contains("graffiti"));
  // A file with an error: refused, the catalogue in force stays, Reload says why.
  std::ofstream(path) << "categories:\n  - id: Graffiti\n";
  EXPECT_TRUE((*file)->Current()->Contains("graffiti"));
  absl::Status reload = (*file)->Reload();
  EXPECT_EQ(reload.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(reload.message().find("categories[0].id"), std::string::npos) << reload;
  EXPECT_TRUE((*file)->Current()->Contains("graffiti"));
  // A missing or bad file at start stops the start.
  EXPECT_FALSE(CatalogFile::Open(path).ok());
  EXPECT_FALSE(CatalogFile::Open(path + ".missing").ok());
}

}  // namespace
}  // namespace meldpunt::catalog
