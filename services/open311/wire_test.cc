#include "services/open311/wire.h"

#include <gtest/gtest.h>

namespace meldpunt::open311 {
namespace {

TEST(Form, DecodesEscapesPlusAndRepeatedNames) {
  absl::StatusOr<Params> form = ParseForm(
      "service_code=101&description=Lamp+kapot+%C3%A9n+flikkert&attribute%5Bkind%5D=REPORT&x=1&x=2&"
      "empty");
  ASSERT_TRUE(form.ok()) << form.status();
  EXPECT_EQ(Param(*form, "description"), "Lamp kapot én flikkert");
  EXPECT_EQ(Param(*form, "attribute[kind]"), "REPORT");
  EXPECT_EQ(Param(*form, "x"), "1");
  EXPECT_TRUE(HasParam(*form, "empty"));
  EXPECT_EQ(Param(*form, "missing"), "");
}

TEST(Form, BadInputIsRefusedNamingTheParameter) {
  const auto why = [](const std::string& text) {
    absl::StatusOr<Params> form = ParseForm(text);
    EXPECT_FALSE(form.ok()) << text;
    return std::string(form.status().message());
  };
  EXPECT_EQ(why("description=100%"), "description: a '%' that is not followed by two hex digits");
  EXPECT_EQ(why("lat=%G1"), "lat: a '%' that is not followed by two hex digits");
  EXPECT_EQ(why("description=%C3%28"), "description: is not UTF-8 text");
  EXPECT_EQ(why("description=%00"), "description: contains a control character");
  EXPECT_EQ(why("description=%ED%A0%80"), "description: is not UTF-8 text");  // a surrogate
  EXPECT_EQ(why("=x"), "parameters: a parameter without a valid name");
  std::string many;
  for (int i = 0; i < 201; ++i) many += "a=1&";
  EXPECT_EQ(why(many), "parameters: more than 200 parameters");
}

TEST(Render, JsonAndXmlCarryTheSameDocument) {
  Json doc = Json::array();
  doc.push_back(Json{{"service_request_id", "MP-2026-1"},
                     {"description", "Fish & <chips> \"here\""},
                     {"lat", 51.05},
                     {"metadata", true},
                     {"missing", nullptr}});
  EXPECT_EQ(
      Render(doc, Format::kJson, "service_requests"),
      R"([{"service_request_id":"MP-2026-1","description":"Fish & <chips> \"here\"","lat":51.05,"metadata":true,"missing":null}])");
  EXPECT_EQ(Render(doc, Format::kXml, "service_requests"),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><service_requests><request>"
            "<service_request_id>MP-2026-1</service_request_id>"
            "<description>Fish &amp; &lt;chips&gt; &quot;here&quot;</description>"
            "<lat>51.05</lat><metadata>true</metadata></request></service_requests>");
}

TEST(Render, NestedListsTakeTheirItemNames) {
  Json discovery = {{"changeset", "x"},
                    {"endpoints", Json::array({{{"formats", Json::array({"text/xml"})}}})}};
  EXPECT_EQ(Render(discovery, Format::kXml, "discovery"),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><discovery><changeset>x</changeset>"
            "<endpoints><endpoint><formats><format>text/xml</format></formats></endpoint>"
            "</endpoints></discovery>");
  EXPECT_EQ(ItemName("attributes"), "attribute");
  EXPECT_EQ(ItemName("values"), "value");
  EXPECT_EQ(ItemName("service_request_updates"), "request_update");
}

TEST(Render, TextXmlCannotCarryIsDroppedAndBadUtf8Replaced) {
  Json doc = {{"a", std::string("x\x01y\tz")}, {"b", std::string("\xff")}};
  const std::string xml = Render(doc, Format::kXml, "r");
  EXPECT_NE(xml.find("<a>xy\tz</a>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<b>\xEF\xBF\xBD</b>"), std::string::npos) << xml;
  EXPECT_EQ(Render(doc, Format::kJson, "r"), "{\"a\":\"x\\u0001y\\tz\",\"b\":\"\xEF\xBF\xBD\"}");
}

TEST(Times, BrusselsWithItsOffsetBothWays) {
  const absl::Time winter = absl::FromUnixSeconds(1772616900);  // 2026-03-04 09:35 UTC
  EXPECT_EQ(W3cTime(winter), "2026-03-04T10:35:00+01:00");
  const absl::Time summer = absl::FromUnixSeconds(1783157700);  // 2026-07-04 09:35 UTC
  EXPECT_EQ(W3cTime(summer), "2026-07-04T11:35:00+02:00");
  for (const char* text : {"2026-03-04T10:35:00+01:00", "2026-03-04T09:35:00Z",
                           "2026-03-04T09:35:00.000Z", "2026-03-04T04:35:00-05:00"}) {
    absl::StatusOr<absl::Time> t = ParseTime("start_date", text);
    ASSERT_TRUE(t.ok()) << text << ": " << t.status();
    EXPECT_EQ(*t, winter) << text;
  }
  absl::StatusOr<absl::Time> day = ParseTime("start_date", "2026-03-04");
  ASSERT_TRUE(day.ok());
  EXPECT_EQ(W3cTime(*day), "2026-03-04T00:00:00+01:00");
  for (const char* bad : {"", "yesterday", "2026-13-01", "2026-03-04T25:00:00Z", "1772616900"}) {
    absl::StatusOr<absl::Time> t = ParseTime("end_date", bad);
    EXPECT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().message().substr(0, 9), "end_date:") << bad;
  }
}

TEST(Encode, PercentEncodesWhatAPathCannotCarry) {
  EXPECT_EQ(PercentEncode("MP-2026-ABC"), "MP-2026-ABC");
  EXPECT_EQ(PercentEncode("a b/é"), "a%20b%2F%C3%A9");
  absl::StatusOr<std::string> back = PercentDecode("token", "a%20b%2F%C3%A9+", false);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "a b/é+");
}

}  // namespace
}  // namespace meldpunt::open311
