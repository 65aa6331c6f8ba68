// The Open311 gateway end to end, on the real stack (the four services and meldpunt-open311 of
// the e2e_services fixture, a real Kafka broker and Redis, the SMTP sink): a case POSTed as a
// city app would is the case of the system its API key names, is routed, dispatched on the
// department's feed and acknowledged by e-mail, and is visible through both APIs (gRPC GetCase
// and GET requests/{id}, in JSON and XML). A retried POST (the same Idempotency-Key, or the same
// form without one) gives the same case; another system's key does not see it; information the
// reporter adds (POST servicerequestupdates) reaches the case.
#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/events/topics.h"
#include "libs/kafka/consumer.h"
#include "meldpunt/events/v1/dispatch.pb.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/testing/e2e.h"
#include "tests/testing/stack.h"

namespace meldpunt {
namespace {

namespace t = ::meldpunt::types::v1;
using Json = nlohmann::json;

constexpr char kKey[] = "dev-open311-key";         // city-app (tests/e2e/config/open311-keys.yaml)
constexpr char kOtherKey[] = "e2e-other-app-key";  // other-app
constexpr char kEmail[] = "griet.declercq@example.org";

class Open311E2e : public testing::E2eSuite {
 protected:
  static httplib::Client Http() {
    const std::string& address = stack_->services.at("open311").http;
    const size_t colon = address.rfind(':');
    httplib::Client client(address.substr(0, colon), std::stoi(address.substr(colon + 1)));
    client.set_read_timeout(20, 0);
    return client;
  }

  static httplib::Params Form(const std::string& description, const std::string& key = kKey) {
    return {{"api_key", key},
            {"service_code", "101"},
            {"lat", "51.0543"},
            {"long", "3.7174"},
            {"address_string", "Korenmarkt 1, Gent"},
            {"email", kEmail},
            {"first_name", "Griet"},
            {"last_name", "Declercq"},
            {"description", description},
            {"media_url", "https://img.example.org/lamp.jpg"}};
  }

  static std::unique_ptr<intake::v1::Intake::Stub> Intake() {
    return intake::v1::Intake::NewStub(grpc::CreateChannel(stack_->services.at("intake").grpc,
                                                           grpc::InsecureChannelCredentials()));
  }

  static bool Dispatched(const std::string& department, const std::string& case_id) {
    auto consumer = kafka::Consumer::Create({.brokers = stack_->kafka,
                                             .group_id = testing::UniqueName("open311-e2e"),
                                             .topics = {events::DispatchTopic(department)},
                                             .extra = stack_->kafka_properties});
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    if (!consumer.ok()) return false;
    bool found = false;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (!found && absl::Now() < deadline) {
      auto record = (*consumer)->Poll(absl::Milliseconds(200));
      if (record.ok() && record->has_value() && (*record)->key == case_id) {
        events::v1::DispatchMessage message;
        found = message.ParseFromString((*record)->value) && message.case_id() == case_id;
      }
    }
    (*consumer)->Close();
    return found;
  }

  static bool Acknowledged(const std::string& case_id) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(stack_->smtp_dir, ec)) {
      if (entry.path().extension() != ".eml") continue;
      std::ifstream in(entry.path());
      std::stringstream raw;
      raw << in.rdbuf();
      if (raw.str().find("X-Meldpunt-Case: " + case_id) != std::string::npos &&
          raw.str().find(std::string("To: ") + kEmail) != std::string::npos) {
        return true;
      }
    }
    return false;
  }
};

TEST_F(Open311E2e, APostedCaseIsRoutedDispatchedAcknowledgedAndVisibleThroughBothApis) {
  httplib::Client http = Http();
  const std::string key = testing::UniqueName("o311-e2e");
  const httplib::Headers idempotent = {{"Idempotency-Key", key}};
  const std::string description = "Lamp " + key + " brandt niet meer";

  auto posted = http.Post("/open311/v2/requests.json", idempotent, Form(description));
  ASSERT_TRUE(posted) << httplib::to_string(posted.error());
  ASSERT_EQ(posted->status, 201) << posted->body;
  const Json created = Json::parse(posted->body);
  ASSERT_TRUE(created.is_array() && created.size() == 1) << posted->body;
  const std::string id = created[0]["service_request_id"];
  EXPECT_EQ(created[0]["token"], key);
  EXPECT_EQ(id.rfind("MP-20", 0), 0u) << "the reference a citizen reads, not an internal id";

  // A retry with the same key is the same case, and says it made none.
  auto retried = http.Post("/open311/v2/requests.xml", idempotent, Form(description));
  ASSERT_TRUE(retried);
  EXPECT_EQ(retried->status, 200) << retried->body;
  EXPECT_NE(retried->body.find("<service_request_id>" + id + "</service_request_id>"),
            std::string::npos)
      << retried->body;

  // Through gRPC: the case of the system the API key names, as the form described it.
  intake::v1::GetCaseRequest get;
  get.set_case_id(id);
  intake::v1::GetCaseResponse got;
  {
    grpc::ClientContext context;
    grpc::Status status = Intake()->GetCase(&context, get, &got);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  const std::string case_id = got.case_().case_id();
  EXPECT_EQ(got.case_().submitting_system(), "city-app");
  EXPECT_EQ(got.case_().draft().category(), "street-lighting");
  EXPECT_EQ(got.case_().draft().channel(), t::APP);
  EXPECT_EQ(got.case_().draft().description(), description);
  EXPECT_NEAR(got.case_().draft().location().latitude(), 51.0543, 1e-9);
  EXPECT_EQ(got.case_().draft().attachments(0).url(), "https://img.example.org/lamp.jpg");
  EXPECT_EQ(got.case_().draft().reporter().email(), kEmail);
  EXPECT_EQ(got.case_().draft().reporter().name(), "Griet Declercq");

  // Routed to public works and dispatched on its feed; the reporter is acknowledged.
  EXPECT_TRUE(testing::Eventually(
      [&] {
        grpc::ClientContext context;
        return Intake()->GetCase(&context, get, &got).ok() &&
               got.case_().department() == "public-works" && got.case_().acknowledged();
      },
      absl::Seconds(60)))
      << got.case_().ShortDebugString();
  EXPECT_TRUE(Dispatched("public-works", case_id)) << "no dispatch message for " << case_id;
  EXPECT_TRUE(testing::Eventually([&] { return Acknowledged(case_id); }, absl::Seconds(60)))
      << "no acknowledgement to " << kEmail << " in " << stack_->smtp_dir;

  // Through Open311: the same case, in JSON and XML, with the department's name.
  auto read =
      http.Get(absl::StrCat("/open311/v2/requests/", id, ".json?api_key=", kKey, "&locale=en"));
  ASSERT_TRUE(read);
  ASSERT_EQ(read->status, 200) << read->body;
  const Json request = Json::parse(read->body).at(0);
  EXPECT_EQ(request["service_request_id"], id);
  EXPECT_EQ(request["status"], "open");
  EXPECT_EQ(request["agency_responsible"], "Public works");
  EXPECT_EQ(request["service_code"], "101");
  EXPECT_EQ(request["description"], description);
  EXPECT_EQ(request["media_url"], "https://img.example.org/lamp.jpg");
  EXPECT_EQ(read->body.find(case_id), std::string::npos) << "an internal id in " << read->body;
  EXPECT_EQ(read->body.find(kEmail), std::string::npos) << "personal data in " << read->body;
  auto xml =
      http.Get(absl::StrCat("/open311/v2/requests.xml?api_key=", kKey, "&service_request_id=", id));
  ASSERT_TRUE(xml);
  EXPECT_EQ(xml->status, 200);
  EXPECT_NE(xml->body.find("<agency_responsible>Openbare werken</agency_responsible>"),
            std::string::npos)
      << xml->body;
  auto token = http.Get(absl::StrCat("/open311/v2/tokens/", key, ".json?api_key=", kKey));
  ASSERT_TRUE(token);
  EXPECT_EQ(token->status, 200);
  EXPECT_EQ(Json::parse(token->body).at(0)["service_request_id"], id);
  auto open = http.Get(absl::StrCat("/open311/v2/requests.json?api_key=", kKey,
                                    "&status=open&service_code=101&page_size=200"));
  ASSERT_TRUE(open);
  ASSERT_EQ(open->status, 200) << open->body;
  bool listed = false;
  for (const Json& r : Json::parse(open->body)) listed = listed || r["service_request_id"] == id;
  EXPECT_TRUE(listed) << open->body;

  // Another system's key: the case does not exist for it.
  auto other = http.Get(absl::StrCat("/open311/v2/requests/", id, ".json?api_key=", kOtherKey));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404) << other->body;
  auto other_list = http.Get(absl::StrCat("/open311/v2/requests.json?api_key=", kOtherKey));
  ASSERT_TRUE(other_list);
  EXPECT_EQ(other_list->body.find(id), std::string::npos);
  auto other_token =
      http.Get(absl::StrCat("/open311/v2/tokens/", key, ".json?api_key=", kOtherKey));
  ASSERT_TRUE(other_token);
  EXPECT_EQ(other_token->status, 404);

  // The reporter adds information (FixMyStreet's update): it reaches the case, once.
  httplib::Params update = {{"api_key", kKey},
                            {"service_request_id", id},
                            {"description", "Het is de paal aan de tramhalte"}};
  auto added = http.Post("/open311/v2/servicerequestupdates.json", update);
  ASSERT_TRUE(added);
  ASSERT_EQ(added->status, 200) << added->body;
  auto again = http.Post("/open311/v2/servicerequestupdates.json", update);
  ASSERT_TRUE(again);
  EXPECT_EQ(Json::parse(again->body), Json::parse(added->body)) << "a retry appends nothing";
  intake::v1::GetCaseHistoryRequest history_request;
  history_request.set_case_id(id);
  intake::v1::GetCaseHistoryResponse history;
  int provided = 0;
  EXPECT_TRUE(testing::Eventually(
      [&] {
        grpc::ClientContext context;
        if (!Intake()->GetCaseHistory(&context, history_request, &history).ok()) return false;
        provided = 0;
        for (const auto& e : history.entries()) provided += e.type() == "InformationProvided";
        return provided > 0;
      },
      absl::Seconds(30)));
  EXPECT_EQ(provided, 1);
  auto updates = http.Get(absl::StrCat("/open311/v2/servicerequestupdates.json?api_key=", kKey));
  ASSERT_TRUE(updates);
  EXPECT_NE(updates->body.find(id), std::string::npos) << updates->body;
}

TEST_F(Open311E2e, WithoutAKeyTheSameFormIsTheSameCaseAndBadInputChangesNothing) {
  httplib::Client http = Http();
  const std::string description = "Paal " + testing::UniqueName("o311") + " scheef";
  auto first = http.Post("/open311/v2/requests.json", Form(description));
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 201) << first->body;
  auto second = http.Post("/open311/v2/requests.json", Form(description));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200) << second->body;
  EXPECT_EQ(Json::parse(second->body).at(0)["service_request_id"],
            Json::parse(first->body).at(0)["service_request_id"]);
  // The same form from another system is that system's own case.
  auto theirs = http.Post("/open311/v2/requests.json", Form(description, kOtherKey));
  ASSERT_TRUE(theirs);
  EXPECT_EQ(theirs->status, 201) << theirs->body;

  // Bad input: a clear 400 naming the parameter, and no case.
  httplib::Params bad = Form("Lamp");
  bad.erase("email");
  bad.emplace("email", "not-an-address");
  auto refused = http.Post("/open311/v2/requests.json", bad);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400);
  EXPECT_EQ(Json::parse(refused->body).at(0)["description"].get<std::string>().rfind("email:", 0),
            0u)
      << refused->body;
  auto keyless = http.Post("/open311/v2/requests.json", httplib::Params{{"service_code", "101"}});
  ASSERT_TRUE(keyless);
  EXPECT_EQ(keyless->status, 403) << keyless->body;
}

}  // namespace
}  // namespace meldpunt
