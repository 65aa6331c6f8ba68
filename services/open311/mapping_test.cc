#include "services/open311/mapping.h"

#include <gtest/gtest.h>

#include "libs/catalog/slug.h"
#include "libs/events/codec.h"
#include "services/open311/api_keys.h"

namespace meldpunt::open311 {
namespace {

constexpr char kCatalogue[] = R"(
departments:
  - id: public-works
    labels: {nl: Openbare werken, fr: Travaux publics, en: Public works}
categories:
  - id: public-space
    labels: {nl: Openbare ruimte, fr: Espace public, en: Public space}
  - id: street-lighting
    parent: public-space
    labels: {nl: Straatverlichting, fr: Éclairage public, en: Street lighting}
    descriptions: {nl: Een lamp die niet brandt, en: A street light that is out}
    keywords: [lamp, paal]
    group: street
    service_code: "101"
  - id: old-bins
    labels: {nl: Oude vuilbakken, fr: Anciennes poubelles, en: Old bins}
    active: false
    service_code: "900"
)";

std::shared_ptr<const catalog::Catalog> Catalogue() {
  auto c = catalog::Catalog::Parse(kCatalogue, "test");
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

Params Form(std::initializer_list<std::pair<std::string, std::string>> fields) {
  return Params(fields.begin(), fields.end());
}

std::string Refusal(const Params& form) {
  auto r = ToSubmission(form, *Catalogue(), "city-app", "key-1", t::NL);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(r.status().message());
}

TEST(Services, TheActiveCategoriesWithACodeInTheLanguageAsked) {
  Json list = ServiceList(*Catalogue(), t::EN);
  ASSERT_EQ(list.size(), 1u) << list.dump();
  EXPECT_EQ(list[0]["service_code"], "101");
  EXPECT_EQ(list[0]["service_name"], "Street lighting");
  EXPECT_EQ(list[0]["description"], "A street light that is out");
  EXPECT_EQ(list[0]["keywords"], "lamp,paal");
  EXPECT_EQ(list[0]["metadata"], true);
  EXPECT_EQ(ServiceList(*Catalogue(), t::FR)[0]["service_name"], "Éclairage public");
  // French has no description: the Dutch one stands in.
  EXPECT_EQ(ServiceList(*Catalogue(), t::FR)[0]["description"], "Een lamp die niet brandt");
}

TEST(Services, ADefinitionListsTheAttributesAndUnknownCodesHaveNone) {
  std::optional<Json> d = ServiceDefinition(*Catalogue(), "101", t::EN);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ((*d)["service_code"], "101");
  std::vector<std::string> codes;
  for (const Json& a : (*d)["attributes"]) codes.push_back(a["code"]);
  EXPECT_EQ(codes, (std::vector<std::string>{"kind", "confidential", "language", "notify",
                                             "external_reference"}));
  EXPECT_EQ((*d)["attributes"][0]["values"][1]["key"], "COMPLAINT");
  EXPECT_FALSE(ServiceDefinition(*Catalogue(), "900", t::EN).has_value());  // inactive
  EXPECT_FALSE(ServiceDefinition(*Catalogue(), "nope", t::EN).has_value());
}

TEST(Submission, AFormBecomesADraftOfTheCallersSystem) {
  auto r = ToSubmission(Form({{"api_key", "secret"},
                              {"service_code", "101"},
                              {"lat", "51.0543"},
                              {"long", "3.7174"},
                              {"address_string", "Korenmarkt 1, Gent"},
                              {"address_id", "CRAB-123"},
                              {"zipcode", "9000"},
                              {"email", "els@example.org"},
                              {"first_name", "Els"},
                              {"last_name", "Maes"},
                              {"phone", "+32 9 210 10 10"},
                              {"description", "Lamp brandt niet"},
                              {"media_url", "https://img.example.org/1.jpg"},
                              {"attribute[kind]", "COMPLAINT"},
                              {"attribute[language]", "fr"},
                              {"attribute[external_reference]", "APP-77"}}),
                        *Catalogue(), "city-app", "key-1", t::NL);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->submitting_system(), "city-app");
  EXPECT_EQ(r->request_key(), "key-1");
  const t::CaseDraft& d = r->draft();
  EXPECT_EQ(d.kind(), t::COMPLAINT);
  EXPECT_EQ(d.channel(), t::APP);
  EXPECT_EQ(d.category(), "street-lighting");
  EXPECT_TRUE(d.location().has_coordinates());
  EXPECT_DOUBLE_EQ(d.location().latitude(), 51.0543);
  EXPECT_EQ(d.location().address(), "Korenmarkt 1, Gent");
  EXPECT_EQ(d.location().address_id(), "CRAB-123");
  EXPECT_EQ(d.location().postcode(), "9000");
  EXPECT_EQ(d.reporter().name(), "Els Maes");
  EXPECT_EQ(d.reporter().email(), "els@example.org");
  EXPECT_EQ(d.reporter().language(), t::FR);
  EXPECT_FALSE(d.reporter().anonymous());
  ASSERT_EQ(d.attachments_size(), 1);
  EXPECT_EQ(d.attachments(0).url(), "https://img.example.org/1.jpg");
  EXPECT_EQ(d.attachments(0).media_type(), "image/jpeg");
  EXPECT_EQ(d.attachments(0).size_bytes(), 0) << "not known";
  EXPECT_EQ(MediaLink("https://x.example/a.PNG?w=1").media_type(), "image/png");
  EXPECT_EQ(MediaLink("https://x.example/view?id=1").media_type(), "application/octet-stream");
  EXPECT_EQ(d.external_reference(), "APP-77");
}

TEST(Submission, NobodyNamedIsAnAnonymousReport) {
  auto r = ToSubmission(
      Form({{"service_code", "101"}, {"address_string", "Korenmarkt"}, {"description", "Lamp"}}),
      *Catalogue(), "city-app", "k", t::EN);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->draft().reporter().anonymous());
  EXPECT_EQ(r->draft().reporter().language(), t::EN);
}

TEST(Submission, BadFormsNameTheOpen311Parameter) {
  EXPECT_EQ(Refusal(Form({{"lat", "51"}, {"long", "3"}})), "service_code: required");
  EXPECT_EQ(Refusal(Form({{"service_code", "999"}, {"lat", "51"}, {"long", "3"}})),
            "service_code: unknown service code '999' (GET services lists them)");
  EXPECT_EQ(Refusal(Form({{"service_code", "900"}, {"lat", "51"}, {"long", "3"}})).substr(0, 13),
            "service_code:");
  EXPECT_EQ(Refusal(Form({{"service_code", "101"}})),
            "lat: a location is required: lat and long, address_string or address_id");
  EXPECT_EQ(Refusal(Form({{"service_code", "101"}, {"lat", "51"}})),
            "long: lat and long go together");
  EXPECT_EQ(Refusal(Form({{"service_code", "101"}, {"lat", "91"}, {"long", "3"}})),
            "lat: must be a latitude in degrees (WGS84), -90 to 90");
  EXPECT_EQ(Refusal(Form({{"service_code", "101"}, {"lat", "nan"}, {"long", "3"}})),
            "lat: must be a latitude in degrees (WGS84), -90 to 90");
  EXPECT_EQ(Refusal(Form({{"service_code", "101"}, {"lat", "51"}, {"long", "x"}})),
            "long: must be a longitude in degrees (WGS84), -180 to 180");
  EXPECT_EQ(Refusal(Form(
                {{"service_code", "101"}, {"address_string", "a"}, {"attribute[kind]", "PRAISE"}})),
            "attribute[kind]: must be REPORT, COMPLAINT, SUGGESTION, COMPLIMENT or QUESTION");
  EXPECT_EQ(
      Refusal(
          Form({{"service_code", "101"}, {"address_string", "a"}, {"attribute[colour]", "red"}}))
          .substr(0, 36),
      "attribute[colour]: unknown attribute");
  EXPECT_EQ(Refusal(Form({{"service_code", "101"}, {"address_string", "a"}, {"priority", "1"}})),
            "priority: not a parameter of POST requests");
  EXPECT_EQ(
      Refusal(Form({{"service_code", "101"}, {"service_code", "101"}, {"address_string", "a"}})),
      "service_code: given more than once");
  EXPECT_EQ(
      Refusal(
          Form({{"service_code", "101"}, {"address_string", "a"}, {"attribute[notify]", "email"}})),
      "attribute[notify]: email needs the reporter's email");
}

TEST(Submission, TheDerivedKeyIsTheSameForTheSameFormOnly) {
  const Params a = Form({{"api_key", "k1"}, {"service_code", "101"}, {"description", "x"}});
  const Params same = Form({{"description", "x"}, {"service_code", "101"}, {"api_key", "k2"}});
  const Params other = Form({{"service_code", "101"}, {"description", "y"}});
  EXPECT_EQ(DerivedRequestKey("city-app", a), DerivedRequestKey("city-app", same));
  EXPECT_NE(DerivedRequestKey("city-app", a), DerivedRequestKey("city-app", other));
  EXPECT_NE(DerivedRequestKey("city-app", a), DerivedRequestKey("web-form", a));
  // No two forms serialize alike: "a=b&c" is not "a=b\nc".
  EXPECT_NE(DerivedRequestKey("s", Form({{"description", "x\n1:c=0:"}})),
            DerivedRequestKey("s", Form({{"description", "x"}, {"c", ""}})));
  EXPECT_EQ(DerivedRequestKey("city-app", a).size(), 45u);
}

TEST(Errors, TheIntakesFieldsAreRenamedToOpen311s) {
  EXPECT_EQ(Open311Message("draft.description: required"), "description: required");
  EXPECT_EQ(Open311Message("draft.reporter.email: is not a valid e-mail address"),
            "email: is not a valid e-mail address");
  EXPECT_EQ(Open311Message("draft.attachments[0].url: must be https"), "media_url: must be https");
  EXPECT_EQ(Open311Message("draft.location.address_id: too long"), "address_id: too long");
  EXPECT_EQ(Open311Message("something else"), "something else");
}

TEST(States, EveryStateHasAStatusADetailedStatusAndNotesInEveryLanguage) {
  for (int s = t::RECEIVED; s <= t::WITHDRAWN; ++s) {
    const auto state = static_cast<t::CaseState>(s);
    const std::string status = StatusOf(state);
    EXPECT_TRUE(status == "open" || status == "closed") << s;
    for (t::Language l : {t::NL, t::FR, t::EN}) EXPECT_FALSE(StatusNotes(state, l).empty()) << s;
  }
  EXPECT_EQ(StatusOf(t::ROUTED), "open");
  EXPECT_EQ(StatusOf(t::WAITING_FOR_REPORTER), "open");
  EXPECT_EQ(StatusOf(t::ANSWERED), "closed");
  EXPECT_EQ(StatusOf(t::WITHDRAWN), "closed");
  EXPECT_EQ(DetailedStatusOf(t::ROUTED), "RECEIVED");
  EXPECT_EQ(DetailedStatusOf(t::IN_PROGRESS), "IN_PROCESS");
  EXPECT_EQ(DetailedStatusOf(t::ANSWERED), "PROCESSED");
  EXPECT_EQ(DetailedStatusOf(t::CLOSED), "ARCHIVED");
  EXPECT_EQ(DetailedStatusOf(t::INADMISSIBLE), "REJECTED");
}

TEST(Requests, ACaseAsAServiceRequestShowsNoInternalIdAndTheTermAwaited) {
  t::Case c;
  c.set_case_id("MP-0123456789ABC");
  c.set_reference("MP-2026-4KQ7ZP2MX");
  c.set_state(t::ROUTED);
  c.set_department("public-works");
  c.mutable_draft()->set_category("street-lighting");
  c.mutable_draft()->set_description("Lamp brandt niet");
  c.mutable_draft()->mutable_location()->set_has_coordinates(true);
  c.mutable_draft()->mutable_location()->set_latitude(51.05);
  c.mutable_draft()->mutable_location()->set_longitude(3.72);
  c.mutable_draft()->mutable_reporter()->set_email("els@example.org");
  events::SetTime(c.mutable_submitted_at(), absl::FromUnixSeconds(1772616900));
  events::SetTime(c.mutable_updated_at(), absl::FromUnixSeconds(1772617000));
  auto* acceptance = c.add_running_clocks();
  acceptance->set_clock("acceptance");
  events::SetTime(acceptance->mutable_due_at(), absl::FromUnixSeconds(1772800000));
  auto* resolution = c.add_running_clocks();
  resolution->set_clock("resolution");
  events::SetTime(resolution->mutable_due_at(), absl::FromUnixSeconds(1773800000));
  Json r = RequestOf(c, *Catalogue(), t::EN);
  EXPECT_EQ(r["service_request_id"], "MP-2026-4KQ7ZP2MX");
  EXPECT_EQ(r["status"], "open");
  EXPECT_EQ(r["detailed_status"], "RECEIVED");
  EXPECT_EQ(r["meldpunt_state"], "ROUTED");
  EXPECT_EQ(r["status_notes"], "Sent to the department in charge.");
  EXPECT_EQ(r["agency_responsible"], "Public works");
  EXPECT_EQ(r["service_code"], "101");
  EXPECT_EQ(r["service_name"], "Street lighting");
  EXPECT_EQ(r["requested_datetime"], "2026-03-04T10:35:00+01:00");
  EXPECT_EQ(r["expected_datetime"], W3cTime(absl::FromUnixSeconds(1773800000)));
  EXPECT_DOUBLE_EQ(r["lat"].get<double>(), 51.05);
  const std::string all = r.dump();
  EXPECT_EQ(all.find("MP-0123456789ABC"), std::string::npos) << all;
  EXPECT_EQ(all.find("els@example.org"), std::string::npos) << all;
  // The clock awaited stands still: no expected time until it runs again.
  c.mutable_running_clocks(1)->set_paused(true);
  EXPECT_FALSE(RequestOf(c, *Catalogue(), t::EN).contains("expected_datetime"));
  c.mutable_running_clocks(1)->set_paused(false);
  c.set_state(t::ANSWERED);
  EXPECT_FALSE(RequestOf(c, *Catalogue(), t::EN).contains("expected_datetime"));
}

TEST(Locale, TheLocaleOrAcceptLanguageChoosesAndAnythingElseIsRefused) {
  EXPECT_EQ(*LanguageOf("fr", ""), t::FR);
  EXPECT_EQ(*LanguageOf("en-GB", "fr"), t::EN);
  EXPECT_EQ(*LanguageOf("", "de-DE, fr-BE;q=0.8, en;q=0.5"), t::FR);
  EXPECT_EQ(*LanguageOf("", ""), t::NL);
  EXPECT_EQ(LanguageOf("de", "").status().message(), "locale: must be nl, fr or en");
}

TEST(ApiKeysFile, EntriesAreCheckedAndKeysFoundByTheirDigest) {
  const std::string digest = Sha256Hex("dev-open311-key");
  // As `printf %s dev-open311-key | sha256sum` prints it.
  EXPECT_EQ(digest, "909f414b50045ffa04c1893dd485a4774d0902e9af6bce3b13bd3f967980a0ab");
  auto keys = ApiKeys::Parse(
      "keys:\n  - {sha256: " + digest + ", system: city-app, role: submitter}\n", "keys.yaml");
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_TRUE((*keys)->Find("dev-open311-key").has_value());
  EXPECT_EQ((*keys)->Find("dev-open311-key")->subject, "city-app");
  EXPECT_FALSE((*keys)->Find("dev-open311-kex").has_value());
  EXPECT_FALSE((*keys)->Find("").has_value());
  const auto why = [](const std::string& yaml) {
    auto k = ApiKeys::Parse(yaml, "keys.yaml");
    EXPECT_FALSE(k.ok()) << yaml;
    return std::string(k.status().message());
  };
  EXPECT_EQ(why("keys:\n  - {sha256: abc, system: a, role: submitter}\n"),
            "keys.yaml: keys[0].sha256: must be the 64 hex digits of the key's SHA-256");
  EXPECT_EQ(why("keys:\n  - {sha256: " + digest + ", system: A B, role: submitter}\n"),
            std::string("keys.yaml: keys[0].system: ") + catalog::kSlugRule);
  EXPECT_EQ(why("keys:\n  - {sha256: " + digest + ", system: a, role: admin}\n"),
            "keys.yaml: keys[0].role: must be submitter: the gateway speaks for submitting "
            "systems only");
  EXPECT_EQ(why("keys:\n  - {sha256: " + digest + ", system: a, role: submitter, key: x}\n"),
            "keys.yaml: keys[0].key: unknown field (sha256, system, role)");
  EXPECT_EQ(why("keys:\n  - {sha256: " + digest + ", system: a, role: submitter}\n  - {sha256: " +
                digest + ", system: b, role: submitter}\n"),
            "keys.yaml: keys[1].sha256: appears twice");
}

}  // namespace
}  // namespace meldpunt::open311
