#include "libs/observability/log.h"

#include <gtest/gtest.h>

namespace meldpunt::log {
namespace {

TEST(Log, LinesAreJsonWithServiceLevelAndFields) {
  Init("intake", Level::kInfo);
  std::string line =
      Format(Level::kWarning, "case submitted", {{"case_id", "MP-1"}, {"attempt", 2}});
  nlohmann::json parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["service"], "intake");
  EXPECT_EQ(parsed["level"], "warning");
  EXPECT_EQ(parsed["msg"], "case submitted");
  EXPECT_EQ(parsed["case_id"], "MP-1");
  EXPECT_EQ(parsed["attempt"], 2);
  EXPECT_EQ(parsed["ts"].get<std::string>().size(), 24u);  // 2026-11-22T07:00:00.000Z
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(Log, InvalidUtf8IsReplacedNotThrown) {
  std::string line = Format(Level::kInfo, "bad \xff bytes", {{"field", "\xc3"}});
  EXPECT_NO_THROW(nlohmann::json::parse(line));
}

TEST(Log, ParseLevel) {
  EXPECT_EQ(*ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(*ParseLevel("error"), Level::kError);
  EXPECT_FALSE(ParseLevel("loud").ok());
}

}  // namespace
}  // namespace meldpunt::log
