// Test access to the webhook sink of the local stack (tests/harness/webhook_sink.py): the
// requests it recorded, and its control endpoint that makes it answer with errors or slowly.
//
//   SinkControl(stack.webhook, "POST", R"({"status": 500, "count": 2})");
//   for (const nlohmann::json& r : SinkRequests(stack.webhook_dir, "/hooks/x")) ...
//   SinkControl(stack.webhook, "DELETE");
#pragma once

#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace meldpunt::testing {

// Every request the sink recorded on `path`, oldest first (its files appear by rename, whole).
std::vector<nlohmann::json> SinkRequests(const std::string& dir, const std::string& path);

// A header of a recorded request, by case-insensitive name; "" when absent.
std::string SinkHeader(const nlohmann::json& request, const std::string& name);

// POST /_sink/respond with `json` (e.g. {"status": 503, "count": 2} or {"delay_ms": 3000}), or
// DELETE it to go back to 200. Returns the HTTP status, 0 when the sink did not answer.
long SinkControl(const std::string& base, const char* method, const std::string& json = "");

// The Standard Webhooks signature of a recorded request ("v1,<base64 HMAC-SHA256(secret,
// "<webhook-id>.<webhook-timestamp>.<body>")>"), computed by Python's hmac from what the sink
// recorded: an implementation independent of ours. "" when python3 failed.
std::string PythonSignature(const nlohmann::json& request, const std::string& secret);

}  // namespace meldpunt::testing
