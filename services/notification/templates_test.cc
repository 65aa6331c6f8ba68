#include "services/notification/templates.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/notification/html_letter.h"

namespace meldpunt::notification {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;

const std::vector<std::string> kLanguages = {"nl", "fr", "en"};
const std::set<std::string> kCommon = {"reference",  "case_id",  "name",
                                       "kind_label", "category", "submitted_date"};
const std::set<std::string> kReporterLetters = {
    "acknowledgement", "information-request", "inadmissible",  "referral",
    "answer",          "duplicate",           "clock-extended"};
const std::set<std::string> kStaffLetters = {"dispatch", "reminder", "warning", "escalation"};

// The shipped folder, found through the source dir CTest passes.
std::string ShippedDir() {
  const char* source = std::getenv("MELDPUNT_SOURCE_DIR");
  return absl::StrCat(source ? source : ".", "/services/notification/templates");
}

Templates Shipped() {
  absl::StatusOr<Templates> templates = Templates::Load(ShippedDir());
  EXPECT_TRUE(templates.ok()) << templates.status();
  return templates.ok() ? *std::move(templates) : Templates();
}

std::vector<std::string> CatalogueNames() {
  std::vector<std::string> names;
  for (const auto& [name, allowed] : Placeholders()) names.push_back(name);
  return names;
}

// A sample for every placeholder in the catalogue; distinct, so a test can look for each.
const std::map<std::string, std::string>& Samples() {
  static const auto* const samples = new std::map<std::string, std::string>{
      {"reference", "MP-2026-TEST42"},
      {"case_id", "case-7f3a"},
      {"name", "Els Maes"},
      {"kind_label", "klacht"},
      {"category", "Wegen en voetpaden"},
      {"submitted_date", "03/02/2026"},
      {"department", "openbare-werken"},
      {"expected_answer_date", "20/03/2026"},
      {"question", "Op welk huisnummer ligt de losse stoeptegel?"},
      {"reply_hint", "Antwoord op deze e-mail of bel 09 123 45 67."},
      {"ground_label", "de feiten zijn ouder dan een jaar"},
      {"motivation", "De feiten dateren van maart 2024."},
      {"referred_to", "De Watergroep"},
      {"reason", "de waterleiding valt onder de drinkwatermaatschappij"},
      {"answer_text", "De stoeptegel is op 10/02/2026 vervangen."},
      {"is_complaint", "1"},
      {"outcome_label", "deels gegrond"},
      {"master_reference", "MP-2026-MASTER1"},
      {"description", "Losse stoeptegel voor de bakkerij."},
      {"location", "Kerkstraat 12, 9000 Gent"},
      {"priority_label", "hoog"},
      {"due_date", "17/02/2026"},
      {"clock_label", "antwoordtermijn"},
      {"percent", "75"},
      {"level", "2"},
      {"target", "meldpunt-coordinator"},
      {"confidential", "true"},
      {"previous_due_date", "03/03/2026"},
      {"term_label", "10 dagen"},
      {"second_line_name", "Ombudsman van Gent"},
      {"second_line_address", "Botermarkt 1, 9000 Gent"},
      {"second_line_website", "https://stad.gent/ombudsman"},
      {"second_line_email", "ombudsman@stad.gent"},
      {"second_line_phone", "09 266 50 00"},
  };
  return *samples;
}

std::map<std::string, std::string> ValuesFor(const std::string& name) {
  std::map<std::string, std::string> values;
  for (const std::string& placeholder : Placeholders().at(name)) {
    if (placeholder == "confidential") continue;  // a flag that hides content: its own test
    auto sample = Samples().find(placeholder);
    EXPECT_NE(sample, Samples().end()) << "no sample for " << placeholder;
    if (sample != Samples().end()) values[placeholder] = sample->second;
  }
  return values;
}

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

TEST(Placeholders, CatalogueHoldsEveryLetterWithTheCommonValues) {
  EXPECT_THAT(CatalogueNames(),
              ::testing::UnorderedElementsAre(
                  "acknowledgement", "information-request", "inadmissible", "referral", "answer",
                  "duplicate", "clock-extended", "dispatch", "reminder", "warning", "escalation"));
  for (const auto& [name, allowed] : Placeholders()) {
    for (const std::string& common : kCommon) {
      EXPECT_TRUE(allowed.contains(common)) << name << " lacks " << common;
    }
  }
  EXPECT_TRUE(Placeholders().at("answer").contains("is_complaint"));
  // Departments are known by id only: a letter to the reporter cannot name one.
  for (const auto& [name, allowed] : Placeholders()) {
    EXPECT_EQ(allowed.contains("department"), !ForReporter(name)) << name;
  }
  for (const char* name : {"answer", "inadmissible"}) {
    EXPECT_TRUE(Placeholders().at(name).contains("second_line_name")) << name;
  }
  EXPECT_FALSE(Placeholders().at("acknowledgement").contains("outcome_label"));
}

TEST(Check, ShippedFolderPasses) {
  Templates templates = Shipped();
  absl::Status status = templates.Check(CatalogueNames());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(Render, EveryLetterInEveryLanguage) {
  Templates templates = Shipped();
  for (const std::string& name : CatalogueNames()) {
    for (const std::string& language : kLanguages) {
      SCOPED_TRACE(absl::StrCat(language, "/", name));
      const std::map<std::string, std::string> full = ValuesFor(name);
      // Only the common values that are always there, and the letter's own non-optional ones.
      std::map<std::string, std::string> bare = full;
      for (const char* optional :
           {"name", "department", "case_id", "expected_answer_date", "reply_hint", "is_complaint",
            "outcome_label", "location", "previous_due_date", "term_label", "second_line_address",
            "second_line_website", "second_line_email", "second_line_phone"}) {
        bare.erase(optional);
      }
      // Without a catalogue label, a letter to the reporter leaves the subject out.
      if (ForReporter(name)) bare.erase("category");
      if (name == "dispatch") bare.erase("due_date");
      const std::map<std::string, std::string>* const cases[] = {&full, &bare};
      for (const auto* values : cases) {
        absl::StatusOr<Rendered> letter = templates.Render(name, language, *values);
        ASSERT_TRUE(letter.ok()) << letter.status();
        EXPECT_THAT(letter->subject, HasSubstr("MP-2026-TEST42"));
        EXPECT_THAT(letter->subject, Not(HasSubstr("\n")));
        EXPECT_THAT(letter->subject, Not(HasSubstr("{{")));
        EXPECT_THAT(letter->body, Not(HasSubstr("{{")));
        EXPECT_THAT(letter->body, Not(HasSubstr("}}")));
        EXPECT_THAT(letter->body, Not(HasSubstr("\n\n\n"))) << letter->body;
        EXPECT_FALSE(letter->body.empty());
        EXPECT_NE(letter->body.front(), '\n');
      }
      // With every value given, the letter shows each of its own values (is_complaint is a flag).
      absl::StatusOr<Rendered> letter = templates.Render(name, language, full);
      ASSERT_TRUE(letter.ok()) << letter.status();
      const std::string text = absl::StrCat(letter->subject, "\n", letter->body);
      for (const std::string& placeholder : Placeholders().at(name)) {
        if (kCommon.contains(placeholder) || placeholder == "is_complaint" ||
            placeholder == "confidential") {
          continue;
        }
        EXPECT_THAT(text, HasSubstr(full.at(placeholder))) << placeholder;
      }
    }
  }
}

TEST(Render, StaffLettersOfAConfidentialCaseCarryNoContent) {
  Templates templates = Shipped();
  for (const char* name : {"dispatch", "reminder", "warning", "escalation"}) {
    for (const std::string& language : kLanguages) {
      SCOPED_TRACE(absl::StrCat(language, "/", name));
      // What the service gives for a confidential case: no description, location or category.
      std::map<std::string, std::string> values = ValuesFor(name);
      for (const char* content : {"description", "location", "category"}) values.erase(content);
      values["confidential"] = "true";
      absl::StatusOr<Rendered> letter = templates.Render(name, language, values);
      ASSERT_TRUE(letter.ok()) << letter.status();
      EXPECT_THAT(letter->subject, Not(HasSubstr(":  ")));
      EXPECT_THAT(letter->body, Not(HasSubstr("\n\n\n"))) << letter->body;
      EXPECT_THAT(letter->body, Not(HasSubstr("{{")));
      if (std::string(name) == "dispatch") {
        EXPECT_THAT(letter->body,
                    AnyOf(HasSubstr("Vertrouwelijke zaak"), HasSubstr("Dossier confidentiel"),
                          HasSubstr("Confidential case")))
            << letter->body;
        EXPECT_THAT(letter->body, Not(AnyOf(HasSubstr("Omschrijving"), HasSubstr("Description"))))
            << letter->body;
      }
      EXPECT_THAT(letter->body,
                  Not(AnyOf(HasSubstr("Categorie"), HasSubstr("Catégorie"), HasSubstr("Category"))))
          << letter->body;
    }
  }
}

// The templates are parsed once and shared by the lanes and the senders: letters rendered at the
// same moment on several threads each carry their own values, and a copy of the loaded set
// renders the same as the original.
TEST(Render, ConcurrentLettersEachCarryTheirOwnValues) {
  const Templates templates = Shipped();
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::map<std::string, std::string> values = ValuesFor("acknowledgement");
        values["reference"] = absl::StrCat("MP-2026-T", t, "N", i);
        absl::StatusOr<Rendered> letter = templates.Render("acknowledgement", "nl", values);
        if (!letter.ok() || letter->subject.find(values["reference"]) == std::string::npos) {
          ++wrong[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
  const Templates copy = templates;
  EXPECT_EQ(copy.Render("acknowledgement", "fr", ValuesFor("acknowledgement"))->body,
            templates.Render("acknowledgement", "fr", ValuesFor("acknowledgement"))->body);
}

TEST(Placeholders, OnlyTheReporterLettersAreForTheReporter) {
  for (const auto& [name, allowed] : Placeholders()) {
    const bool staff =
        name == "dispatch" || name == "reminder" || name == "warning" || name == "escalation";
    EXPECT_EQ(ForReporter(name), !staff) << name;
  }
}

TEST(Render, InadmissibleAndComplaintAnswerNameTheSecondLine) {
  Templates templates = Shipped();
  for (const std::string& language : kLanguages) {
    SCOPED_TRACE(language);
    absl::StatusOr<Rendered> inadmissible =
        templates.Render("inadmissible", language, ValuesFor("inadmissible"));
    ASSERT_TRUE(inadmissible.ok()) << inadmissible.status();
    std::map<std::string, std::string> values = ValuesFor("answer");
    absl::StatusOr<Rendered> complaint = templates.Render("answer", language, values);
    ASSERT_TRUE(complaint.ok()) << complaint.status();
    for (const Rendered* letter : {&*inadmissible, &*complaint}) {
      for (const char* key : {"second_line_name", "second_line_address", "second_line_website",
                              "second_line_email", "second_line_phone"}) {
        EXPECT_THAT(letter->body, HasSubstr(Samples().at(key))) << key;
      }
      // The old hard-coded route is gone: the configured one is the only one.
      EXPECT_THAT(letter->body, Not(HasSubstr("Vlaamse Ombudsdienst")));
    }
    EXPECT_THAT(complaint->body, HasSubstr("deels gegrond"));

    // Only a name and a website configured: those two, no empty lines or dangling labels.
    std::map<std::string, std::string> sparse = ValuesFor("inadmissible");
    for (const char* key : {"second_line_address", "second_line_email", "second_line_phone"})
      sparse.erase(key);
    absl::StatusOr<Rendered> short_route = templates.Render("inadmissible", language, sparse);
    ASSERT_TRUE(short_route.ok()) << short_route.status();
    EXPECT_THAT(short_route->body,
                HasSubstr(absl::StrCat("  Ombudsman van Gent\n  ",
                                       language == "fr" ? "Site web :" : "Website:",
                                       " https://stad.gent/ombudsman\n\n")))
        << short_route->body;

    // Not a complaint: no outcome, no second line.
    values.erase("is_complaint");
    absl::StatusOr<Rendered> other = templates.Render("answer", language, values);
    ASSERT_TRUE(other.ok()) << other.status();
    EXPECT_THAT(other->body, HasSubstr(values.at("answer_text")));
    EXPECT_THAT(other->body, Not(HasSubstr("Ombudsman van Gent")));
    EXPECT_THAT(other->body, Not(HasSubstr("deels gegrond")));
  }
}

TEST(Render, TheClockExtendedLetterNamesTheTermTheNewDateAndTheReason) {
  Templates templates = Shipped();
  const std::map<std::string, std::string> extended = {
      {"nl", "verlengd, met 10 dagen"}, {"fr", ", de 10 dagen"}, {"en", ", by 10 dagen"}};
  for (const std::string& language : kLanguages) {
    SCOPED_TRACE(language);
    std::map<std::string, std::string> values = ValuesFor("clock-extended");
    absl::StatusOr<Rendered> letter = templates.Render("clock-extended", language, values);
    ASSERT_TRUE(letter.ok()) << letter.status();
    EXPECT_THAT(letter->subject, HasSubstr("17/02/2026"));
    EXPECT_THAT(letter->body, HasSubstr(extended.at(language)));
    EXPECT_THAT(letter->body, HasSubstr("17/02/2026"));
    EXPECT_THAT(letter->body, HasSubstr("03/03/2026"));
    EXPECT_THAT(letter->body, HasSubstr(values.at("reason")));
    EXPECT_THAT(letter->body, HasSubstr("antwoordtermijn"));
    // A due time set by hand has no term: the letter names the date only.
    values.erase("term_label");
    letter = templates.Render("clock-extended", language, values);
    ASSERT_TRUE(letter.ok()) << letter.status();
    EXPECT_THAT(letter->body, Not(HasSubstr(extended.at(language))));
    EXPECT_THAT(letter->body, Not(HasSubstr(" .")));
  }
}

TEST(HtmlLetter, EscapesEverythingAndKeepsParagraphsAndLines) {
  const std::string html =
      HtmlLetter("Uw klacht <b>MP-1</b>",
                 "Beste Els,\n\nOmschrijving: <script>alert('x')</script> & co\n"
                 "tweede regel\n\n  Leuvenseweg 48\n",
                 "nl");
  EXPECT_THAT(html, HasSubstr("<html lang=\"nl\">"));
  EXPECT_THAT(html, HasSubstr("<meta charset=\"utf-8\">"));
  EXPECT_THAT(html, HasSubstr("<title>Uw klacht &lt;b&gt;MP-1&lt;/b&gt;</title>"));
  EXPECT_THAT(html, HasSubstr("<p>Beste Els,</p>"));
  EXPECT_THAT(html, HasSubstr("<p>Omschrijving: &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; "
                              "&amp; co<br>\ntweede regel</p>"));
  EXPECT_THAT(html, HasSubstr("<p>&nbsp;&nbsp;Leuvenseweg 48</p>"));
  EXPECT_THAT(html, Not(HasSubstr("<script>")));
  EXPECT_THAT(html, Not(HasSubstr("<b>")));
}

TEST(Render, ReporterLettersStartPolitelyWithOrWithoutName) {
  Templates templates = Shipped();
  const std::map<std::string, std::string> anonymous_greeting = {{"nl", "Geachte mevrouw, meneer,"},
                                                                 {"fr", "Madame, Monsieur,"},
                                                                 {"en", "Dear Sir or Madam,"}};
  const std::map<std::string, std::string> named_greeting = {
      {"nl", "Beste Els Maes,"}, {"fr", "Bonjour Els Maes,"}, {"en", "Dear Els Maes,"}};
  for (const std::string& name : kReporterLetters) {
    for (const std::string& language : kLanguages) {
      SCOPED_TRACE(absl::StrCat(language, "/", name));
      std::map<std::string, std::string> values = ValuesFor(name);
      absl::StatusOr<Rendered> named = templates.Render(name, language, values);
      ASSERT_TRUE(named.ok()) << named.status();
      EXPECT_EQ(FirstLine(named->body), named_greeting.at(language));
      values["name"] = "";  // an empty name is left out, as if not given
      absl::StatusOr<Rendered> nameless = templates.Render(name, language, values);
      ASSERT_TRUE(nameless.ok()) << nameless.status();
      EXPECT_EQ(FirstLine(nameless->body), anonymous_greeting.at(language));
    }
  }
}

TEST(Render, StaffLettersDoNotShowTheReporter) {
  Templates templates = Shipped();
  for (const std::string& name : kStaffLetters) {
    for (const std::string& language : kLanguages) {
      absl::StatusOr<Rendered> letter = templates.Render(name, language, ValuesFor(name));
      ASSERT_TRUE(letter.ok()) << letter.status();
      EXPECT_THAT(letter->body, Not(HasSubstr("Els Maes"))) << language << "/" << name;
    }
  }
}

// A scratch template folder, removed afterwards.
class CheckFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::path(::testing::TempDir()) /
            absl::StrCat("templates_test_", getpid(), "_",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    dir_ = root_ / "templates";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  void Write(const std::string& language, const std::string& name, const std::string& text) {
    std::filesystem::create_directories(dir_ / language);
    std::ofstream(dir_ / language / (name + ".mustache")) << text;
  }

  absl::Status Check(const std::vector<std::string>& names) {
    absl::StatusOr<Templates> templates = Templates::Load(dir_.string());
    if (!templates.ok()) return templates.status();
    return templates->Check(names);
  }

  static constexpr char kAnswer[] =
      "Subject: Antwoord {{reference}}\n\nBeste,\n\n{{answer_text}}\n"
      "{{#is_complaint}}Oordeel: {{outcome_label}}{{/is_complaint}}\n";

  std::filesystem::path root_;
  std::filesystem::path dir_;
};

TEST_F(CheckFolder, PassesWhenEveryLanguageUsesKnownPlaceholders) {
  for (const std::string& language : kLanguages) Write(language, "answer", kAnswer);
  EXPECT_TRUE(Check({"answer"}).ok()) << Check({"answer"});
}

TEST_F(CheckFolder, UnknownPlaceholderNamesFileAndPlaceholder) {
  Write("nl", "answer", kAnswer);
  Write("fr", "answer", "Subject: Réponse {{reference}}\n\n{{outcome}}\n{{outcome}}\n");
  Write("en", "answer", kAnswer);
  absl::Status status = Check({"answer"});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("templates/fr/answer.mustache: unknown placeholder 'outcome'"));
  EXPECT_THAT(status.message(), Not(HasSubstr("nl/answer.mustache")));
  // Reported once per file.
  EXPECT_EQ(std::string(status.message()).find("'outcome'"),
            std::string(status.message()).rfind("'outcome'"));
}

TEST_F(CheckFolder, UnknownSectionIsAnErrorToo) {
  for (const std::string& language : {"nl", "fr"}) Write(language, "answer", kAnswer);
  Write("en", "answer", "Subject: {{reference}}\n\n{{^is_founded}}No.{{/is_founded}}\n");
  absl::Status status = Check({"answer"});
  EXPECT_THAT(status.message(),
              HasSubstr("templates/en/answer.mustache: unknown placeholder 'is_founded'"));
}

TEST_F(CheckFolder, MissingLanguageNamesTheFile) {
  Write("nl", "answer", kAnswer);
  Write("en", "answer", kAnswer);
  absl::Status status = Check({"answer"});
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("templates/fr/answer.mustache"));
  EXPECT_THAT(status.message(), HasSubstr("missing"));
}

TEST_F(CheckFolder, UnknownTemplateNameFails) {
  for (const std::string& language : kLanguages) Write(language, "answer", kAnswer);
  absl::Status status = Check({"answer", "farewell"});
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("'farewell'"));
}

TEST_F(CheckFolder, ReadsEveryTagFormAndRejectsPartials) {
  Write("nl", "answer",
        "Subject: {{ reference }}\n\n{{! a note for translators: {{answer}} }}\n"
        "{{{raw_text}}} {{& amp_text }} {{#is_complaint}}x{{/is_complaint}}\n"
        "{{=<% %>=}}<% swapped %> {{not_a_tag}} <%={{ }}=%>{{> footer}}\n");
  Write("fr", "answer", kAnswer);
  Write("en", "answer", kAnswer);
  absl::Status status = Check({"answer"});
  ASSERT_FALSE(status.ok());
  const std::string message(status.message());
  EXPECT_THAT(message, HasSubstr("nl/answer.mustache: unknown placeholder 'raw_text'"));
  EXPECT_THAT(message, HasSubstr("nl/answer.mustache: unknown placeholder 'amp_text'"));
  EXPECT_THAT(message, HasSubstr("nl/answer.mustache: unknown placeholder 'swapped'"));
  EXPECT_THAT(message, HasSubstr("nl/answer.mustache: partial 'footer' is not allowed"));
  EXPECT_THAT(message, Not(HasSubstr("'answer'")));     // inside a comment
  EXPECT_THAT(message, Not(HasSubstr("not_a_tag")));    // plain text under other delimiters
  EXPECT_THAT(message, Not(HasSubstr("'reference'")));  // trimmed, and allowed
}

TEST(FromSources, ChecksTheTextsAsLoadDoes) {
  absl::StatusOr<Templates> bad = Templates::FromSources("letters", {{"nl/answer", "{{#x}}"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("letters/nl/answer.mustache"));
  absl::StatusOr<Templates> no_subject =
      Templates::FromSources("letters", {{"nl/answer", "Dear {{name}}"}});
  ASSERT_FALSE(no_subject.ok());
  EXPECT_THAT(no_subject.status().message(), HasSubstr("must start with 'Subject: '"));
  absl::StatusOr<Templates> good =
      Templates::FromSources("letters", {{"nl/answer", "Subject: {{reference}}\n\nHi"}});
  ASSERT_TRUE(good.ok()) << good.status();
  absl::StatusOr<Rendered> letter = good->Render("answer", "fr", {{"reference", "MP-1"}});
  ASSERT_TRUE(letter.ok()) << letter.status();
  EXPECT_EQ(letter->subject, "MP-1");
  EXPECT_EQ(letter->body, "Hi");
}

}  // namespace
}  // namespace meldpunt::notification
