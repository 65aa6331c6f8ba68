// Validation of what a submitting system sends. Every error is INVALID_ARGUMENT naming the field
// (as a path in the request, e.g. "draft.reporter.email") and the reason; nothing is changed.
//
//   RETURN_IF_ERROR(ValidateSubmission("web-form", "req-42", draft));
#pragma once

#include <string>

#include "absl/status/status.h"
#include "meldpunt/types/v1/case.pb.h"

namespace meldpunt::domain {

inline constexpr size_t kMaxDescriptionChars = 4000;
inline constexpr int kMaxAttachments = 10;
inline constexpr int64_t kMaxAttachmentBytes = 50LL * 1024 * 1024;

absl::Status ValidateSubmission(const std::string& submitting_system,
                                const std::string& request_key, const types::v1::CaseDraft& draft);

// Number of Unicode code points in valid UTF-8; -1 when the bytes are not valid UTF-8.
int64_t Utf8Length(const std::string& text);

// Valid UTF-8 without control characters (tab, CR and LF allowed when multiline).
// One attachment reference: http(s) URL, media type, 1 byte to 50 MiB. `field` prefixes the errors.
absl::Status CheckAttachment(const std::string& field, const types::v1::Attachment& attachment);

absl::Status CheckText(const std::string& field, const std::string& text, size_t max_chars,
                       bool multiline, bool required);

}  // namespace meldpunt::domain
