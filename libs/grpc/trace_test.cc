#include "libs/grpc/trace.h"

#include <grpcpp/test/server_context_test_spouse.h>

#include <gtest/gtest.h>

namespace meldpunt::grpc_util {
namespace {

constexpr char kTraceparent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

std::string TraceOf(const std::vector<std::pair<std::string, std::string>>& metadata) {
  grpc::ServerContext context;
  grpc::testing::ServerContextTestSpouse spouse(&context);
  for (const auto& [key, value] : metadata) spouse.AddClientMetadata(key, value);
  return TraceIdFrom(context);
}

TEST(TraceIdFrom, NoHeadersGiveNothing) {
  EXPECT_EQ(TraceOf({}), "");
  EXPECT_EQ(TraceOf({{"authorization", "Bearer x"}}), "");
}

TEST(TraceIdFrom, XTraceIdWinsOverTraceparent) {
  EXPECT_EQ(TraceOf({{"x-trace-id", "trace-1"}}), "trace-1");
  EXPECT_EQ(TraceOf({{"x-trace-id", "trace-1"}, {"traceparent", kTraceparent}}), "trace-1");
}

TEST(TraceIdFrom, TakesTheTraceIdPartOfTraceparent) {
  EXPECT_EQ(TraceOf({{"traceparent", kTraceparent}}), "4bf92f3577b34da6a3ce929d0e0e4736");
  // A later version may add fields after the four of version 00.
  EXPECT_EQ(TraceOf({{"traceparent", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x"}}),
            "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(TraceIdFrom, AcceptsOneToOneHundredTwentyEightVisibleCharacters) {
  EXPECT_EQ(TraceOf({{"x-trace-id", "a"}}), "a");
  const std::string longest(128, 'z');
  EXPECT_EQ(TraceOf({{"x-trace-id", longest}}), longest);
  EXPECT_EQ(TraceOf({{"x-trace-id", "!~{}[]:/=+"}}), "!~{}[]:/=+");
}

TEST(TraceIdFrom, IgnoresAnInvalidXTraceIdAndFallsBackToTraceparent) {
  for (const std::string& bad :
       {std::string(), std::string(129, 'z'), std::string("has space"), std::string("tab\there"),
        std::string("caf\xc3\xa9"), std::string("nul\0x", 5), std::string("\x7f")}) {
    EXPECT_EQ(TraceOf({{"x-trace-id", bad}}), "") << bad;
    EXPECT_EQ(TraceOf({{"x-trace-id", bad}, {"traceparent", kTraceparent}}),
              "4bf92f3577b34da6a3ce929d0e0e4736")
        << bad;
  }
}

TEST(TraceIdFrom, IgnoresMalformedTraceparents) {
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",      // no flags
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  // v00 has no more fields
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   // uppercase
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   // zero parent id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // forbidden version
           "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  // no '-' before more
           "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",   // wrong separators
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",   // not hex
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z",   // flags not hex
       }) {
    EXPECT_EQ(TraceOf({{"traceparent", bad}}), "") << bad;
  }
}

TEST(TraceIdFrom, OnlyTheFirstValueOfAHeaderCounts) {
  EXPECT_EQ(TraceOf({{"x-trace-id", "first"}, {"x-trace-id", "second"}}), "first");
}

}  // namespace
}  // namespace meldpunt::grpc_util
