// What the Open311 port reads and writes, apart from HTTP itself: form and query parameters
// (application/x-www-form-urlencoded), the two answer formats (JSON and XML, from one document)
// and the times (RFC 3339 with the offset of Europe/Brussels).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace meldpunt::open311 {

using Json = nlohmann::ordered_json;

// Parameters in the order sent; a name may repeat.
using Params = std::vector<std::pair<std::string, std::string>>;

// Decodes "a=1&b=x+y&c=%C3%A9". INVALID_ARGUMENT naming the parameter for a bad %-escape, a
// value that is not UTF-8 or a control character; more than `max_params` parameters is refused.
absl::StatusOr<Params> ParseForm(absl::string_view text, size_t max_params = 200);

// %XX escapes decoded ('+' as a space in a form). INVALID_ARGUMENT naming `name` for a bad one.
absl::StatusOr<std::string> PercentDecode(absl::string_view name, absl::string_view text,
                                          bool plus_is_space);

// The first value of `name`, or "".
std::string Param(const Params& params, absl::string_view name);
bool HasParam(const Params& params, absl::string_view name);

// Percent-encodes a path segment or a parameter value.
std::string PercentEncode(absl::string_view text);

enum class Format { kJson, kXml };

// The document as JSON, or as XML under `root`: an object's members become child elements, an
// array's items elements named after their array (ItemName), null members are left out. Text
// that is not UTF-8 is replaced, characters XML 1.0 cannot carry are dropped.
std::string Render(const Json& document, Format format, absl::string_view root);

// The element name of an item of the array named `array` ("services" -> "service").
std::string ItemName(absl::string_view array);

// "2026-03-04T10:15:00+01:00": the time in Europe/Brussels with its offset.
std::string W3cTime(absl::Time time);

// A W3C/RFC 3339 time ("2026-03-04T10:15:00+01:00", "...Z", fractions allowed) or a date
// ("2026-03-04", midnight in Brussels). INVALID_ARGUMENT naming `field`.
absl::StatusOr<absl::Time> ParseTime(const std::string& field, const std::string& text);

const absl::TimeZone& Brussels();

}  // namespace meldpunt::open311
