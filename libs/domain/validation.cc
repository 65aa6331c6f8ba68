#include "libs/domain/validation.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/catalog/slug.h"
#include "libs/grpc/status.h"
#include "libs/status/status_macros.h"

namespace meldpunt::domain {
namespace {

using grpc_util::FieldError;
namespace t = ::meldpunt::types::v1;

// Deliberately simple: one @, a dot in the domain, no spaces; the mail server has the last word.
bool LooksLikeEmail(const std::string& email) {
  size_t at = email.find('@');
  if (at == std::string::npos || at == 0 || email.find('@', at + 1) != std::string::npos)
    return false;
  std::string domain = email.substr(at + 1);
  if (domain.size() < 3 || domain.find('.') == std::string::npos || domain.front() == '.' ||
      domain.back() == '.') {
    return false;
  }
  for (char c : email) {
    if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == ',' || c == ';') return false;
  }
  return true;
}

bool LooksLikePhone(const std::string& phone) {
  int digits = 0;
  for (size_t i = 0; i < phone.size(); ++i) {
    char c = phone[i];
    if (absl::ascii_isdigit(c)) {
      ++digits;
    } else if (!(c == ' ' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')' ||
                 (c == '+' && i == 0))) {
      return false;
    }
  }
  return digits >= 6 && digits <= 15;
}

absl::Status CheckReporter(const t::CaseDraft& draft) {
  const t::Reporter& r = draft.reporter();
  // What Meldpunt itself sets: a client that sends them could keep its reporter out of the seal
  // (sealed) or its case out of retention (erased).
  if (!r.sealed().empty()) {
    return FieldError("draft.reporter.sealed", "is set by Meldpunt only; send the plain fields");
  }
  if (r.erased()) return FieldError("draft.reporter.erased", "is set by Meldpunt only");
  if (!t::Language_IsValid(r.language()))
    return FieldError("draft.reporter.language", "unknown language");
  if (!t::Channel_IsValid(r.preferred_channel())) {
    return FieldError("draft.reporter.preferred_channel", "unknown channel");
  }
  if (!t::NotifyBy_IsValid(r.notify_by())) {
    return FieldError("draft.reporter.notify_by", "unknown value");
  }
  if (r.anonymous() && r.notify_by() != t::NOTIFY_BY_UNSPECIFIED &&
      r.notify_by() != t::NOTIFY_NONE) {
    return FieldError("draft.reporter.notify_by", "an anonymous reporter gets no messages");
  }
  if (r.notify_by() == t::NOTIFY_EMAIL && r.email().empty()) {
    return FieldError("draft.reporter.notify_by", "NOTIFY_EMAIL needs draft.reporter.email");
  }
  if (r.anonymous()) {
    if (draft.kind() == t::COMPLAINT) {
      return FieldError("draft.reporter.anonymous",
                        "a complaint cannot be anonymous: the reporter's name and an address or "
                        "e-mail are needed");
    }
    if (!r.name().empty() || !r.email().empty() || !r.phone().empty() || !r.address().empty()) {
      return FieldError("draft.reporter.anonymous",
                        "an anonymous reporter must not carry name or contact data");
    }
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(CheckText("draft.reporter.name", r.name(), 200, false, true));
  RETURN_IF_ERROR(CheckText("draft.reporter.address", r.address(), 300, false, false));
  if (!r.email().empty() && (r.email().size() > 254 || !LooksLikeEmail(r.email()))) {
    return FieldError("draft.reporter.email", "is not a valid e-mail address");
  }
  if (!r.phone().empty() && (r.phone().size() > 32 || !LooksLikePhone(r.phone()))) {
    return FieldError("draft.reporter.phone", "is not a valid phone number");
  }
  if (r.email().empty() && r.phone().empty() && r.address().empty()) {
    return FieldError("draft.reporter",
                      "needs at least one of email, phone or address (or anonymous)");
  }
  return absl::OkStatus();
}

absl::Status CheckLocation(const t::Location& l) {
  RETURN_IF_ERROR(CheckText("draft.location.address", l.address(), 300, false, false));
  RETURN_IF_ERROR(CheckText("draft.location.address_id", l.address_id(), 128, false, false));
  if (!l.postcode().empty()) {
    bool four_digits = l.postcode().size() == 4;
    for (char c : l.postcode()) four_digits &= absl::ascii_isdigit(c) != 0;
    if (!four_digits || l.postcode()[0] == '0') {
      return FieldError("draft.location.postcode",
                        "must be a Belgian postcode of four digits (1000-9999)");
    }
  }
  if (l.has_coordinates()) {
    if (!(l.latitude() >= -90 && l.latitude() <= 90)) {
      return FieldError("draft.location.latitude", "must be between -90 and 90");
    }
    if (!(l.longitude() >= -180 && l.longitude() <= 180)) {
      return FieldError("draft.location.longitude", "must be between -180 and 180");
    }
  } else if (l.latitude() != 0 || l.longitude() != 0) {
    return FieldError("draft.location.has_coordinates",
                      "must be true when latitude/longitude are given");
  }
  if (!l.district().empty() && !catalog::IsSlug(l.district())) {
    return FieldError("draft.location.district", catalog::kSlugRule);
  }
  return absl::OkStatus();
}

// What can be checked without a clock; the intake checks the time against its own (not in the
// future, not older than intake.cases.received_at_max_age).
absl::Status CheckReceipt(const t::CaseDraft& draft) {
  const bool by_hand =
      draft.channel() == t::LETTER || draft.channel() == t::PHONE || draft.channel() == t::COUNTER;
  if (draft.has_received_at()) {
    if (!by_hand) {
      return FieldError("draft.received_at",
                        "only for a case received by letter, by phone or at the counter (channel "
                        "LETTER, PHONE or COUNTER) and registered later");
    }
    const auto& at = draft.received_at();
    // 2000-01-01 to 2100-01-01; nanos as in google.protobuf.Timestamp.
    if (at.seconds() < 946684800 || at.seconds() >= 4102444800 || at.nanos() < 0 ||
        at.nanos() > 999'999'999) {
      return FieldError("draft.received_at", "is not a valid time");
    }
  }
  if (draft.registered_letter()) {
    if (draft.channel() != t::LETTER) {
      return FieldError("draft.registered_letter", "only for channel LETTER");
    }
    if (!draft.has_received_at()) {
      return FieldError("draft.registered_letter",
                        "needs draft.received_at, the date the letter was handed to the post");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckAttachment(const std::string& prefix, const t::Attachment& a) {
  if (!(absl::StartsWith(a.url(), "https://") || absl::StartsWith(a.url(), "http://")) ||
      a.url().size() > 2048) {
    return FieldError(prefix + ".url", "must be an http(s) URL of at most 2048 characters");
  }
  RETURN_IF_ERROR(CheckText(prefix + ".url", a.url(), 2048, false, true));
  if (a.media_type().empty() || a.media_type().size() > 127 ||
      a.media_type().find('/') == std::string::npos) {
    return FieldError(prefix + ".media_type", "must be a media type such as image/jpeg");
  }
  RETURN_IF_ERROR(CheckText(prefix + ".media_type", a.media_type(), 127, false, true));
  // 0: not known (a link the submitting system gives, such as Open311's media_url).
  if (a.size_bytes() < 0 || a.size_bytes() > kMaxAttachmentBytes) {
    return FieldError(prefix + ".size_bytes", "must be at most 50 MiB (0: not known)");
  }
  return absl::OkStatus();
}

int64_t Utf8Length(const std::string& text) {
  int64_t count = 0;
  size_t i = 0;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  while (i < text.size()) {
    unsigned char c = s[i];
    size_t extra;
    uint32_t code;
    if (c < 0x80) {
      extra = 0;
      code = c;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return -1;
    }
    if (i + extra >= text.size()) return -1;  // truncated sequence
    for (size_t k = 1; k <= extra; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return -1;
      code = (code << 6) | (s[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and values beyond U+10FFFF are not valid UTF-8.
    if ((extra == 1 && code < 0x80) || (extra == 2 && code < 0x800) ||
        (extra == 3 && code < 0x10000) || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) {
      return -1;
    }
    i += extra + 1;
    ++count;
  }
  return count;
}

absl::Status CheckText(const std::string& field, const std::string& text, size_t max_chars,
                       bool multiline, bool required) {
  if (text.empty()) return required ? FieldError(field, "is required") : absl::OkStatus();
  if (text.size() > max_chars * 4)
    return FieldError(field, absl::StrCat("must be at most ", max_chars, " characters"));
  int64_t length = Utf8Length(text);
  if (length < 0) return FieldError(field, "is not valid UTF-8");
  if (static_cast<size_t>(length) > max_chars) {
    return FieldError(field,
                      absl::StrCat("must be at most ", max_chars, " characters, got ", length));
  }
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      if (multiline && (c == '\n' || c == '\r' || c == '\t')) continue;
      return FieldError(field, "must not contain control characters");
    }
  }
  if (required && absl::StripAsciiWhitespace(text).empty())
    return FieldError(field, "must not be blank");
  return absl::OkStatus();
}

absl::Status ValidateSubmission(const std::string& submitting_system,
                                const std::string& request_key, const t::CaseDraft& draft) {
  if (!catalog::IsSlug(submitting_system)) {
    return FieldError("submitting_system", catalog::kSlugRule);
  }
  if (request_key.empty() || request_key.size() > 128) {
    return FieldError("request_key", "must be 1-128 characters (the client's idempotency key)");
  }
  for (char c : request_key) {
    if (c < 0x21 || c > 0x7e)
      return FieldError("request_key", "must be printable ASCII without spaces");
  }
  if (draft.kind() == t::CASE_KIND_UNSPECIFIED || !t::CaseKind_IsValid(draft.kind())) {
    return FieldError("draft.kind",
                      "must be one of REPORT, COMPLAINT, SUGGESTION, COMPLIMENT, QUESTION");
  }
  if (draft.channel() == t::CHANNEL_UNSPECIFIED || !t::Channel_IsValid(draft.channel())) {
    return FieldError("draft.channel",
                      "must be one of WEB, PHONE, EMAIL, COUNTER, LETTER, APP, PARTNER_SYSTEM");
  }
  if (!catalog::IsSlug(draft.category())) return FieldError("draft.category", catalog::kSlugRule);
  RETURN_IF_ERROR(
      CheckText("draft.description", draft.description(), kMaxDescriptionChars, true, true));
  if (!t::Priority_IsValid(draft.priority()))
    return FieldError("draft.priority", "unknown priority");
  RETURN_IF_ERROR(
      CheckText("draft.external_reference", draft.external_reference(), 128, false, false));
  RETURN_IF_ERROR(CheckLocation(draft.location()));
  RETURN_IF_ERROR(CheckReceipt(draft));
  if (draft.attachments_size() > kMaxAttachments) {
    return FieldError("draft.attachments",
                      absl::StrCat("at most ", kMaxAttachments, " attachments"));
  }
  for (int i = 0; i < draft.attachments_size(); ++i) {
    RETURN_IF_ERROR(
        CheckAttachment(absl::StrCat("draft.attachments[", i, "]"), draft.attachments(i)));
  }
  return CheckReporter(draft);
}

}  // namespace meldpunt::domain
