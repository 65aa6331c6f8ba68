#include "libs/domain/validation.h"

#include <gtest/gtest.h>

#include "libs/grpc/status.h"

namespace meldpunt::domain {
namespace {

namespace t = ::meldpunt::types::v1;

t::CaseDraft ValidDraft() {
  t::CaseDraft d;
  d.set_kind(t::REPORT);
  d.set_channel(t::WEB);
  d.set_category("street-lighting");
  d.set_description("Street light out in front of number 12");
  d.mutable_location()->set_postcode("9000");
  d.mutable_reporter()->set_name("Jan Peeters");
  d.mutable_reporter()->set_email("jan.peeters@example.org");
  return d;
}

std::string FieldOf(const t::CaseDraft& draft, const std::string& system = "web-form",
                    const std::string& key = "req-1") {
  absl::Status status = ValidateSubmission(system, key, draft);
  if (status.ok()) return "OK";
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  return grpc_util::ErrorField(status);
}

TEST(Validation, AcceptsAValidDraft) { EXPECT_EQ(FieldOf(ValidDraft()), "OK"); }

TEST(Validation, NamesTheFieldOfEveryProblem) {
  EXPECT_EQ(FieldOf(ValidDraft(), ""), "submitting_system");
  EXPECT_EQ(FieldOf(ValidDraft(), "Web Form"), "submitting_system");
  EXPECT_EQ(FieldOf(ValidDraft(), "web-form", ""), "request_key");
  EXPECT_EQ(FieldOf(ValidDraft(), "web-form", std::string(129, 'k')), "request_key");
  EXPECT_EQ(FieldOf(ValidDraft(), "web-form", "has space"), "request_key");

  auto d = ValidDraft();
  d.set_kind(t::CASE_KIND_UNSPECIFIED);
  EXPECT_EQ(FieldOf(d), "draft.kind");
  d = ValidDraft();
  d.set_kind(static_cast<t::CaseKind>(99));
  EXPECT_EQ(FieldOf(d), "draft.kind");
  d = ValidDraft();
  d.set_channel(t::CHANNEL_UNSPECIFIED);
  EXPECT_EQ(FieldOf(d), "draft.channel");
  d = ValidDraft();
  d.set_category("Street Lighting!");
  EXPECT_EQ(FieldOf(d), "draft.category");
  d = ValidDraft();
  d.set_description("");
  EXPECT_EQ(FieldOf(d), "draft.description");
  d.set_description("   \n ");
  EXPECT_EQ(FieldOf(d), "draft.description");
  d.set_description("bell\x07");
  EXPECT_EQ(FieldOf(d), "draft.description");
  d.set_description("bad \xc3\x28 utf8");
  EXPECT_EQ(FieldOf(d), "draft.description");
  d = ValidDraft();
  d.mutable_location()->set_postcode("90000");
  EXPECT_EQ(FieldOf(d), "draft.location.postcode");
  d = ValidDraft();
  d.mutable_location()->set_has_coordinates(true);
  d.mutable_location()->set_latitude(91);
  EXPECT_EQ(FieldOf(d), "draft.location.latitude");
  d = ValidDraft();
  d.mutable_location()->set_longitude(3.7);
  EXPECT_EQ(FieldOf(d), "draft.location.has_coordinates");
  d = ValidDraft();
  d.mutable_reporter()->set_email("not-an-email");
  EXPECT_EQ(FieldOf(d), "draft.reporter.email");
  d = ValidDraft();
  d.mutable_reporter()->set_email("");
  EXPECT_EQ(FieldOf(d), "draft.reporter");
  d = ValidDraft();
  d.mutable_reporter()->set_phone("call me");
  EXPECT_EQ(FieldOf(d), "draft.reporter.phone");
  d = ValidDraft();
  d.mutable_reporter()->set_name("");
  EXPECT_EQ(FieldOf(d), "draft.reporter.name");
}

TEST(Validation, AReceiptTimeOnlyForWhatCameInByHand) {
  t::CaseDraft letter = ValidDraft();
  letter.set_channel(t::LETTER);
  letter.mutable_received_at()->set_seconds(1'796'000'000);  // 2026-11-30
  EXPECT_EQ(FieldOf(letter), "OK");
  for (t::Channel channel : {t::PHONE, t::COUNTER}) {
    t::CaseDraft d = letter;
    d.set_channel(channel);
    EXPECT_EQ(FieldOf(d), "OK") << t::Channel_Name(channel);
  }
  for (t::Channel channel : {t::WEB, t::EMAIL, t::APP, t::PARTNER_SYSTEM}) {
    t::CaseDraft d = letter;
    d.set_channel(channel);
    EXPECT_EQ(FieldOf(d), "draft.received_at") << t::Channel_Name(channel);
  }
  t::CaseDraft bad = letter;
  bad.mutable_received_at()->set_nanos(-1);
  EXPECT_EQ(FieldOf(bad), "draft.received_at");
  bad = letter;
  bad.mutable_received_at()->set_seconds(-62'135'596'800);  // year 1
  EXPECT_EQ(FieldOf(bad), "draft.received_at");

  t::CaseDraft registered = letter;
  registered.set_registered_letter(true);
  EXPECT_EQ(FieldOf(registered), "OK");
  registered.clear_received_at();
  EXPECT_EQ(FieldOf(registered), "draft.registered_letter") << "the posting date is needed";
  t::CaseDraft phoned = letter;
  phoned.set_channel(t::PHONE);
  phoned.set_registered_letter(true);
  EXPECT_EQ(FieldOf(phoned), "draft.registered_letter");
}

TEST(Validation, DescriptionLimitCountsCharactersNotBytes) {
  auto d = ValidDraft();
  std::string text;
  for (int i = 0; i < 4000; ++i) text += "\xc3\xa9";  // é: 2 bytes, 1 character
  d.set_description(text);
  EXPECT_EQ(FieldOf(d), "OK");
  d.set_description(text + "x");
  EXPECT_EQ(FieldOf(d), "draft.description");
  d.set_description("line one\nline two\ttabbed");
  EXPECT_EQ(FieldOf(d), "OK");
}

TEST(Validation, AttachmentsAreBounded) {
  auto d = ValidDraft();
  auto* a = d.add_attachments();
  a->set_url("https://files.example.org/photo.jpg");
  a->set_media_type("image/jpeg");
  a->set_size_bytes(120000);
  EXPECT_EQ(FieldOf(d), "OK");
  a->set_url("ftp://x");
  EXPECT_EQ(FieldOf(d), "draft.attachments[0].url");
  a->set_url("https://files.example.org/photo.jpg");
  a->set_size_bytes(-1);
  EXPECT_EQ(FieldOf(d), "draft.attachments[0].size_bytes");
  a->set_size_bytes(0);  // not known: a link
  EXPECT_EQ(FieldOf(d), "OK");
  a->set_size_bytes(1);
  a->set_media_type("jpeg");
  EXPECT_EQ(FieldOf(d), "draft.attachments[0].media_type");
  a->set_media_type("image/jpeg");
  for (int i = 0; i < kMaxAttachments; ++i) *d.add_attachments() = *a;
  EXPECT_EQ(FieldOf(d), "draft.attachments");
}

TEST(Validation, AnonymityDependsOnKind) {
  auto d = ValidDraft();
  d.clear_reporter();
  d.mutable_reporter()->set_anonymous(true);
  EXPECT_EQ(FieldOf(d), "OK");
  d.set_kind(t::COMPLAINT);
  EXPECT_EQ(FieldOf(d), "draft.reporter.anonymous");
  d.set_kind(t::REPORT);
  d.mutable_reporter()->set_email("x@example.org");
  EXPECT_EQ(FieldOf(d), "draft.reporter.anonymous");
}

TEST(Validation, WhatMeldpuntSetsIsRefusedFromAClient) {
  auto d = ValidDraft();
  d.mutable_reporter()->set_sealed("x");
  EXPECT_EQ(FieldOf(d), "draft.reporter.sealed");
  d = ValidDraft();
  d.mutable_reporter()->set_erased(true);
  EXPECT_EQ(FieldOf(d), "draft.reporter.erased");
  // Anonymous reporters too: the check comes before anything else of the reporter.
  d.clear_reporter();
  d.mutable_reporter()->set_anonymous(true);
  d.mutable_reporter()->set_erased(true);
  EXPECT_EQ(FieldOf(d), "draft.reporter.erased");
}

TEST(Validation, HowTheReporterHearsFromUs) {
  auto d = ValidDraft();
  d.mutable_reporter()->set_notify_by(t::NOTIFY_WEBHOOK);
  EXPECT_EQ(FieldOf(d), "OK");
  d.mutable_reporter()->set_notify_by(static_cast<t::NotifyBy>(42));
  EXPECT_EQ(FieldOf(d), "draft.reporter.notify_by");
  d.mutable_reporter()->set_notify_by(t::NOTIFY_EMAIL);
  d.mutable_reporter()->clear_email();
  d.mutable_reporter()->set_phone("+32 9 123 45 67");
  EXPECT_EQ(FieldOf(d), "draft.reporter.notify_by");
  d.clear_reporter();
  d.mutable_reporter()->set_anonymous(true);
  d.mutable_reporter()->set_notify_by(t::NOTIFY_WEBHOOK);
  EXPECT_EQ(FieldOf(d), "draft.reporter.notify_by");
  d.mutable_reporter()->set_notify_by(t::NOTIFY_NONE);
  EXPECT_EQ(FieldOf(d), "OK");
}

TEST(Utf8, LengthAndValidity) {
  EXPECT_EQ(Utf8Length(""), 0);
  EXPECT_EQ(Utf8Length("abc"), 3);
  EXPECT_EQ(Utf8Length("\xe2\x82\xac"), 1);      // €
  EXPECT_EQ(Utf8Length("\xf0\x9f\x98\x80"), 1);  // emoji
  EXPECT_EQ(Utf8Length("\xe2\x82"), -1);         // truncated
  EXPECT_EQ(Utf8Length("\xc0\xaf"), -1);         // overlong
  EXPECT_EQ(Utf8Length("\xed\xa0\x80"), -1);     // surrogate
  EXPECT_EQ(Utf8Length("\xff"), -1);
}

}  // namespace
}  // namespace meldpunt::domain
