#include "services/open311/wire.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/observability/log.h"

namespace meldpunt::open311 {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Whether `s` is well-formed UTF-8 (no overlong forms, no surrogates).
bool IsUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> PercentDecode(absl::string_view name, absl::string_view text,
                                          bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (c == '%') {
      const int hi = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
      const int lo = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, ": a '%' that is not followed by two hex digits"));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

namespace {

absl::StatusOr<std::string> Decode(absl::string_view name, absl::string_view text) {
  return PercentDecode(name, text, /*plus_is_space=*/true);
}

void XmlText(std::string& out, absl::string_view text) {
  // Replace what is not UTF-8 first, as the JSON side does.
  std::string valid;
  if (!IsUtf8(text)) {
    valid = Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace);
    valid = Json::parse(valid).get<std::string>();
    text = valid;
  }
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 has no place for the C0 controls other than tab, newline and return.
        if (c < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') break;
        out.push_back(ch);
    }
  }
}

void XmlElement(std::string& out, const std::string& name, const Json& value) {
  if (value.is_null()) return;
  out += "<" + name + ">";
  if (value.is_object()) {
    for (const auto& [key, member] : value.items()) XmlElement(out, key, member);
  } else if (value.is_array()) {
    const std::string item = ItemName(name);
    for (const Json& element : value) XmlElement(out, item, element);
  } else if (value.is_string()) {
    XmlText(out, value.get_ref<const std::string&>());
  } else if (value.is_boolean()) {
    out += value.get<bool>() ? "true" : "false";
  } else {
    out += value.dump();
  }
  out += "</" + name + ">";
}

}  // namespace

absl::StatusOr<Params> ParseForm(absl::string_view text, size_t max_params) {
  Params params;
  if (text.empty()) return params;
  for (absl::string_view part : absl::StrSplit(text, '&', absl::SkipEmpty())) {
    if (params.size() == max_params) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameters: more than ", max_params, " parameters"));
    }
    const size_t eq = part.find('=');
    absl::StatusOr<std::string> name = Decode("parameter name", part.substr(0, eq));
    if (!name.ok()) return name.status();
    if (name->empty() || name->size() > 100 || !IsUtf8(*name)) {
      return absl::InvalidArgumentError("parameters: a parameter without a valid name");
    }
    for (char c : *name) {
      if (static_cast<unsigned char>(c) < 0x20) {
        return absl::InvalidArgumentError("parameters: a control character in a parameter name");
      }
    }
    absl::StatusOr<std::string> value =
        eq == absl::string_view::npos ? std::string() : Decode(*name, part.substr(eq + 1));
    if (!value.ok()) return value.status();
    if (!IsUtf8(*value)) {
      return absl::InvalidArgumentError(absl::StrCat(*name, ": is not UTF-8 text"));
    }
    for (char c : *value) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\n' && c != '\r' && c != '\t') || u == 0x7F) {
        return absl::InvalidArgumentError(absl::StrCat(*name, ": contains a control character"));
      }
    }
    params.emplace_back(*std::move(name), *std::move(value));
  }
  return params;
}

std::string Param(const Params& params, absl::string_view name) {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return "";
}

bool HasParam(const Params& params, absl::string_view name) {
  for (const auto& entry : params) {
    if (entry.first == name) return true;
  }
  return false;
}

std::string PercentEncode(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (absl::ascii_isalnum(c) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string ItemName(absl::string_view array) {
  if (array == "services") return "service";
  if (array == "service_requests") return "request";
  if (array == "service_request_updates") return "request_update";
  if (array == "errors") return "error";
  if (array == "endpoints") return "endpoint";
  if (array == "formats") return "format";
  if (array == "attributes") return "attribute";
  if (array == "values") return "value";
  if (!array.empty() && array.back() == 's') return std::string(array.substr(0, array.size() - 1));
  return absl::StrCat(array, "_item");
}

std::string Render(const Json& document, Format format, absl::string_view root) {
  if (format == Format::kJson) {
    return document.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  std::string out = "<?xml version=\"1.0\" encoding=\"utf-8\"?>";
  XmlElement(out, std::string(root), document);
  if (document.is_null()) out += absl::StrCat("<", root, "/>");
  return out;
}

const absl::TimeZone& Brussels() {
  static const absl::TimeZone* zone = [] {
    auto* tz = new absl::TimeZone();
    if (!absl::LoadTimeZone("Europe/Brussels", tz)) {
      log::Error("time zone Europe/Brussels not found (install tzdata); using UTC");
      *tz = absl::UTCTimeZone();
    }
    return tz;
  }();
  return *zone;
}

std::string W3cTime(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", time, Brussels());
}

absl::StatusOr<absl::Time> ParseTime(const std::string& field, const std::string& text) {
  std::string t(absl::StripAsciiWhitespace(text));
  if (t.size() > 40) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not a time"));
  }
  absl::Time time;
  std::string error;
  if (t.size() == 10 && absl::ParseTime("%Y-%m-%d", t, Brussels(), &time, &error)) return time;
  if (!t.empty() && (t.back() == 'Z' || t.back() == 'z')) {
    t.pop_back();
    t += "+00:00";
  }
  if (absl::ParseTime("%Y-%m-%dT%H:%M:%E*S%Ez", t, &time, &error)) return time;
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": must be a W3C time such as 2026-03-04T10:15:00+01:00 or a date 2026-03-04"));
}

}  // namespace meldpunt::open311
