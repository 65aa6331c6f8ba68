// The messages the test stack's SMTP sink stored (tests/harness/smtp_sink.py writes each as an
// .eml file), taken apart as a mail client would.
//
//   std::map<std::string, std::string> parts = testing::MimeParts(raw);
//   parts["text/plain; charset=utf-8"]   // the decoded text part
#pragma once

#include <map>
#include <string>

namespace meldpunt::testing {

// The parts of a multipart/alternative message by their Content-Type, base64-decoded; empty when
// the message is not multipart/alternative. A part that is not base64 decodes to "<not base64>".
std::map<std::string, std::string> MimeParts(const std::string& raw);

}  // namespace meldpunt::testing
