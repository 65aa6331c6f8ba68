#include "tests/testing/mail.h"

#include <cctype>

#include "absl/strings/escaping.h"

namespace meldpunt::testing {

std::map<std::string, std::string> MimeParts(const std::string& raw) {
  const std::string marker = "Content-Type: multipart/alternative; boundary=\"";
  const size_t at = raw.find(marker);
  if (at == std::string::npos) return {};
  const size_t start = at + marker.size();
  const std::string boundary = "--" + raw.substr(start, raw.find('"', start) - start);
  std::map<std::string, std::string> parts;
  for (size_t pos = raw.find(boundary); pos != std::string::npos;) {
    const size_t next = raw.find(boundary, pos + boundary.size());
    if (next == std::string::npos) break;
    const std::string part = raw.substr(pos + boundary.size(), next - pos - boundary.size());
    pos = next;
    const size_t type_at = part.find("Content-Type: ");
    size_t blank = part.find("\r\n\r\n");
    if (blank == std::string::npos) blank = part.find("\n\n");
    if (type_at == std::string::npos || blank == std::string::npos) continue;
    const size_t type_end = part.find_first_of("\r\n", type_at);
    const std::string type = part.substr(type_at + 14, type_end - type_at - 14);
    std::string encoded;
    for (char c : part.substr(blank))
      if (!std::isspace(static_cast<unsigned char>(c))) encoded.push_back(c);
    std::string decoded;
    if (part.find("Content-Transfer-Encoding: base64") == std::string::npos ||
        !absl::Base64Unescape(encoded, &decoded)) {
      decoded = "<not base64>";
    }
    parts[type] = decoded;
  }
  return parts;
}

}  // namespace meldpunt::testing
