#include "libs/grpc/raw.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_replace.h"
#include "libs/grpc/status.h"
#include "meldpunt/intake/v1/intake.pb.h"

namespace meldpunt::grpc_util {
namespace {

using ::testing::HasSubstr;
using v1 = ::meldpunt::intake::v1::SubmitCaseRequest;

// A request whose "@@" (in any string) is replaced by two bytes that are not UTF-8.
grpc::ByteBuffer Bytes(const v1& request, bool break_utf8) {
  std::string bytes = request.SerializeAsString();
  if (break_utf8) bytes = absl::StrReplaceAll(bytes, {{"@@", "\xc3\x28"}});
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

v1 Request() {
  v1 r;
  r.set_submitting_system("crm");
  r.set_request_key("k-1");
  r.mutable_draft()->set_description("a light is out");
  r.mutable_draft()->add_attachments()->set_url("https://example.org/1.jpg");
  r.mutable_draft()->add_attachments()->set_url("https://example.org/2.jpg");
  return r;
}

TEST(ParseRequest, AWellFormedRequestParses) {
  v1 parsed;
  ASSERT_TRUE(ParseRequest(Bytes(Request(), false), &parsed).ok());
  EXPECT_EQ(parsed.draft().description(), "a light is out");
  EXPECT_EQ(parsed.draft().attachments(1).url(), "https://example.org/2.jpg");
}

TEST(ParseRequest, AnEmptyBodyIsTheEmptyMessage) {
  v1 parsed;
  EXPECT_TRUE(ParseRequest(grpc::ByteBuffer(), &parsed).ok());
  EXPECT_EQ(parsed.submitting_system(), "");
}

TEST(ParseRequest, InvalidUtf8NamesTheField) {
  v1 r = Request();
  r.mutable_draft()->set_description("broken @@ text");
  v1 parsed;
  absl::Status s = ParseRequest(Bytes(r, true), &parsed);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorField(s), "draft.description");
  EXPECT_THAT(s.message(), HasSubstr("draft.description: is not valid UTF-8"));
}

TEST(ParseRequest, InvalidUtf8InARepeatedMessageNamesItsIndex) {
  v1 r = Request();
  r.mutable_draft()->mutable_attachments(1)->set_url("https://example.org/@@.jpg");
  v1 parsed;
  EXPECT_EQ(ErrorField(ParseRequest(Bytes(r, true), &parsed)), "draft.attachments[1].url");
  r = Request();
  r.set_submitting_system("s@@");
  EXPECT_EQ(ErrorField(ParseRequest(Bytes(r, true), &parsed)), "submitting_system");
}

TEST(ParseRequest, GarbageIsInvalidArgumentWithoutAField) {
  const std::string garbage = "\x0a\xff\xff\xff\xff\xff\xff";  // a length past the end
  grpc::Slice slice(garbage);
  v1 parsed;
  absl::Status s = ParseRequest(grpc::ByteBuffer(&slice, 1), &parsed);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorField(s), "");
  EXPECT_THAT(s.message(), HasSubstr("not a valid meldpunt.intake.v1.SubmitCaseRequest"));
}

TEST(SerializeResponse, RoundTrips) {
  grpc::ByteBuffer buffer;
  SerializeResponse(Request(), &buffer);
  v1 parsed;
  ASSERT_TRUE(ParseRequest(buffer, &parsed).ok());
  EXPECT_EQ(parsed.request_key(), "k-1");
}

}  // namespace
}  // namespace meldpunt::grpc_util
