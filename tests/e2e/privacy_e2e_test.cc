// The reporter's personal data end to end, on the real stack (the four binaries started by the
// e2e_services fixture with tests/e2e/config, a real Kafka broker, Redis, the key store and the
// SMTP sink):
// - after EraseReporterData no copy of the reporter's name, e-mail, phone or address is left in
//   clear anywhere: not in any record (value, key or header) of any partition of any Kafka topic,
//   not in any key of the derived Redis or the key store, and not after every rebuild either;
// - a confidential report reaches the Meldpunt team's feed without content and no department's;
// - PreviewTemplate, which shows the reporter's name, leaves a record on the audit trail.
#include <grpcpp/grpcpp.h>
#include <librdkafka/rdkafkacpp.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "libs/events/codec.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/kafka/consumer.h"
#include "libs/redis/redis.h"
#include "meldpunt/deadline/v1/deadline.grpc.pb.h"
#include "meldpunt/events/v1/audit.pb.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "meldpunt/notification/v1/notification.grpc.pb.h"
#include "tests/testing/e2e.h"
#include "tests/testing/stack.h"

namespace meldpunt {
namespace {

namespace t = ::meldpunt::types::v1;
using events::Envelope;

// A reporter no other test or run has: every value can be searched for on its own.
struct Person {
  std::string name;
  std::string email;
  std::string phone;
  std::string address;
  std::vector<std::string> All() const { return {name, email, phone, address}; }
};

Person NewPerson() {
  const std::string token = testing::UniqueName("p").substr(2);  // letters and digits
  const int64_t digits = absl::ToUnixMicros(absl::Now()) % 10'000'000;
  return Person{absl::StrCat("Mira Grep", token),
                absl::StrCat("mira.", absl::AsciiStrToLower(token), "@example.org"),
                absl::StrFormat("+32 470 %07d", digits),
                absl::StrCat("Grepstraat ", token, " 7, 9000 Gent")};
}

// Where each needle was found in `haystack`, as "<where>: <needle>".
void Search(const std::string& where, absl::string_view haystack,
            const std::vector<std::string>& needles, std::vector<std::string>& found) {
  for (const std::string& needle : needles) {
    if (haystack.find(needle) != absl::string_view::npos) {
      found.push_back(absl::StrCat(where, ": ", needle));
    }
  }
}

class PrivacyE2e : public testing::E2eSuite {
 protected:
  static std::shared_ptr<grpc::Channel> Channel(const std::string& service) {
    return grpc::CreateChannel(stack_->services.at(service).grpc,
                               grpc::InsecureChannelCredentials());
  }
  static void Within(grpc::ClientContext& context, absl::Duration limit) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + limit));
  }

  static intake::v1::SubmitCaseRequest Request(const Person& p, const std::string& category,
                                               const std::string& description) {
    intake::v1::SubmitCaseRequest r;
    r.set_submitting_system("e2e-web-form");
    r.set_request_key(testing::UniqueName("privacy"));
    auto* d = r.mutable_draft();
    d->set_kind(t::REPORT);
    d->set_channel(t::WEB);
    d->set_category(category);
    d->set_description(description);
    d->mutable_location()->set_postcode("9000");
    d->mutable_reporter()->set_name(p.name);
    d->mutable_reporter()->set_email(p.email);
    d->mutable_reporter()->set_phone(p.phone);
    d->mutable_reporter()->set_address(p.address);
    d->mutable_reporter()->set_language(t::NL);
    return r;
  }

  static intake::v1::SubmitCaseResponse Submit(const intake::v1::SubmitCaseRequest& request) {
    grpc::ClientContext context;
    Within(context, absl::Seconds(20));
    intake::v1::SubmitCaseResponse response;
    grpc::Status status =
        intake::v1::Intake::NewStub(Channel("intake"))->SubmitCase(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // Every record on `topic` whose key is `key`, read by a fresh consumer group until `done`
  // says enough or `limit` passes.
  static std::vector<kafka::Record> Read(
      const std::string& topic, const std::string& key,
      const std::function<bool(const std::vector<kafka::Record>&)>& done, absl::Duration limit) {
    auto consumer = kafka::Consumer::Create({.brokers = stack_->kafka,
                                             .group_id = testing::UniqueName("e2e-reader"),
                                             .topics = {topic},
                                             .extra = stack_->kafka_properties});
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    std::vector<kafka::Record> out;
    if (!consumer.ok()) return out;
    const absl::Time deadline = absl::Now() + limit;
    while (absl::Now() < deadline && !done(out)) {
      auto record = (*consumer)->Poll(absl::Milliseconds(200));
      if (record.ok() && record->has_value() && (*record)->key == key) out.push_back(**record);
    }
    (*consumer)->Close();
    return out;
  }

  static std::vector<Envelope> CaseEvents(
      const std::string& case_id, const std::function<bool(const std::vector<Envelope>&)>& done,
      absl::Duration limit) {
    std::vector<Envelope> envelopes;
    Read(
        events::kCaseEventsTopic, case_id,
        [&](const std::vector<kafka::Record>& records) {
          envelopes.clear();
          for (const auto& r : records) {
            auto e = events::Decode(r.value);
            if (e.ok()) envelopes.push_back(*e);
          }
          return done(envelopes);
        },
        limit);
    return envelopes;
  }

  static bool Has(const std::vector<Envelope>& envelopes, const std::string& type,
                  const std::string& template_name = "") {
    for (const auto& e : envelopes) {
      if (e.type() != type) continue;
      if (template_name.empty() || e.notification_delivered().template_name() == template_name)
        return true;
    }
    return false;
  }

  // Every mail in the SMTP sink to `to`.
  static int MailsTo(const std::string& to) {
    int n = 0;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(stack_->smtp_dir, ec)) {
      if (entry.path().extension() != ".eml") continue;
      std::ifstream in(entry.path());
      std::stringstream buffer;
      buffer << in.rdbuf();
      n += buffer.str().find("To: " + to) != std::string::npos;
    }
    return n;
  }

  // Reads every partition of every topic of the broker from its first record to its end (value,
  // key and every header of each record, aborted transactions' records included) and says where
  // a needle is. Empty: none anywhere.
  static std::vector<std::string> GrepKafka(const std::vector<std::string>& needles) {
    std::vector<std::string> found;
    std::string error;
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::map<std::string, std::string> properties = stack_->kafka_properties;
    properties["bootstrap.servers"] = stack_->kafka;
    properties["group.id"] = testing::UniqueName("e2e-grep");
    properties["enable.auto.commit"] = "false";
    properties["enable.partition.eof"] = "true";
    properties["isolation.level"] = "read_uncommitted";
    for (const auto& [k, v] : properties) {
      if (conf->set(k, v, error) != RdKafka::Conf::CONF_OK) {
        ADD_FAILURE() << k << ": " << error;
        return found;
      }
    }
    std::unique_ptr<RdKafka::KafkaConsumer> consumer(
        RdKafka::KafkaConsumer::create(conf.get(), error));
    if (!consumer) {
      ADD_FAILURE() << error;
      return found;
    }
    RdKafka::Metadata* raw = nullptr;
    if (consumer->metadata(true, nullptr, &raw, 10'000) != RdKafka::ERR_NO_ERROR) {
      ADD_FAILURE() << "no metadata from " << stack_->kafka;
      return found;
    }
    std::unique_ptr<RdKafka::Metadata> metadata(raw);
    std::vector<RdKafka::TopicPartition*> partitions;
    std::set<std::pair<std::string, int32_t>> open;
    for (const RdKafka::TopicMetadata* topic : *metadata->topics()) {
      for (const RdKafka::PartitionMetadata* partition : *topic->partitions()) {
        int64_t low = 0, high = 0;
        if (consumer->query_watermark_offsets(topic->topic(), partition->id(), &low, &high,
                                              10'000) != RdKafka::ERR_NO_ERROR) {
          ADD_FAILURE() << "no watermarks of " << topic->topic() << "/" << partition->id();
          continue;
        }
        if (high <= low) continue;  // empty
        partitions.push_back(RdKafka::TopicPartition::create(topic->topic(), partition->id(),
                                                             RdKafka::Topic::OFFSET_BEGINNING));
        open.insert({topic->topic(), partition->id()});
      }
    }
    EXPECT_FALSE(open.empty()) << "no records at all on " << stack_->kafka;
    consumer->assign(partitions);
    RdKafka::TopicPartition::destroy(partitions);
    int64_t records = 0;
    const absl::Time deadline = absl::Now() + absl::Minutes(3);
    while (!open.empty() && absl::Now() < deadline) {
      std::unique_ptr<RdKafka::Message> m(consumer->consume(500));
      if (m->err() == RdKafka::ERR__PARTITION_EOF) {
        open.erase({m->topic_name(), m->partition()});
        continue;
      }
      if (m->err() != RdKafka::ERR_NO_ERROR) continue;
      ++records;
      const std::string where =
          absl::StrCat(m->topic_name(), "/", m->partition(), "@", m->offset());
      Search(where + " value", absl::string_view(static_cast<const char*>(m->payload()), m->len()),
             needles, found);
      if (m->key() != nullptr) Search(where + " key", *m->key(), needles, found);
      if (RdKafka::Headers* headers = m->headers()) {
        for (const RdKafka::Headers::Header& h : headers->get_all()) {
          Search(absl::StrCat(where, " header ", h.key()), h.key(), needles, found);
          if (h.value() != nullptr) {
            Search(absl::StrCat(where, " header ", h.key()),
                   absl::string_view(static_cast<const char*>(h.value()), h.value_size()), needles,
                   found);
          }
        }
      }
    }
    EXPECT_TRUE(open.empty()) << open.size() << " partitions not read to their end";
    EXPECT_GT(records, 0);
    consumer->close();
    return found;
  }

  // Every key of the Redis at `address` (SCAN), read by its type, and its name too.
  static std::vector<std::string> GrepRedis(const std::string& address,
                                            const std::vector<std::string>& needles) {
    std::vector<std::string> found;
    auto redis = redis::Client::Create({.address = address});
    if (!redis.ok()) {
      ADD_FAILURE() << address << ": " << redis.status();
      return found;
    }
    std::string cursor = "0";
    int64_t keys = 0;
    do {
      auto page = (*redis)->Command({"SCAN", cursor, "COUNT", "1000"});
      if (!page.ok() || page->elements.size() != 2) {
        ADD_FAILURE() << "SCAN on " << address << " failed";
        return found;
      }
      cursor = page->elements[0].str;
      for (const redis::Reply& k : page->elements[1].elements) {
        ++keys;
        const std::string& key = k.str;
        const std::string where = absl::StrCat(address, " ", key);
        Search(where + " (name)", key, needles, found);
        auto type = (*redis)->Command({"TYPE", key});
        if (!type.ok()) continue;
        std::vector<std::string> read;
        if (type->str == "string") read = {"GET", key};
        if (type->str == "hash") read = {"HGETALL", key};
        if (type->str == "list") read = {"LRANGE", key, "0", "-1"};
        if (type->str == "set") read = {"SMEMBERS", key};
        if (type->str == "zset") read = {"ZRANGE", key, "0", "-1", "WITHSCORES"};
        if (type->str == "stream") read = {"XRANGE", key, "-", "+"};
        if (read.empty()) {
          if (type->str != "none") ADD_FAILURE() << where << ": a " << type->str << " not read";
          continue;
        }
        auto value = (*redis)->Command(read);
        if (!value.ok()) continue;  // gone meanwhile
        std::string all;
        std::function<void(const redis::Reply&)> flatten = [&](const redis::Reply& r) {
          all += r.str;
          all += '\n';
          for (const auto& e : r.elements) flatten(e);
        };
        flatten(*value);
        Search(absl::StrCat(where, " (", type->str, ")"), all, needles, found);
      }
    } while (cursor != "0");
    EXPECT_GT(keys, 0) << address << " holds nothing at all";
    return found;
  }

  static std::vector<std::string> GrepRedisAll(const std::vector<std::string>& needles) {
    std::vector<std::string> found = GrepRedis(stack_->redis, needles);
    for (std::string& f : GrepRedis(stack_->key_store, needles)) found.push_back(std::move(f));
    return found;
  }

  // Redis holds no needle (the services may still be handling the erasure: waited for).
  static void ExpectRedisClean(const std::vector<std::string>& needles, const std::string& when) {
    std::vector<std::string> found;
    EXPECT_TRUE(testing::Eventually(
        [&] {
          found = GrepRedisAll(needles);
          return found.empty();
        },
        absl::Seconds(60)))
        << when << ": in clear in Redis:\n  " << absl::StrJoin(found, "\n  ");
  }
};

// Only the services that open reporters' personal data are told where the key store is: the
// stack gives routing and deadline-watch neither its address nor its Sentinels, as deploy/ does.
TEST_F(PrivacyE2e, OnlyIntakeAndNotificationAreToldWhereTheKeyStoreIs) {
  auto told = [](const std::string& service) {
    std::ifstream in(absl::StrCat("/proc/", stack_->pids.at(service), "/environ"),
                     std::ios::binary);
    EXPECT_TRUE(in.good()) << "cannot read the environment of " << service;
    std::vector<std::string> privacy;
    std::string entry;
    while (std::getline(in, entry, '\0')) {
      if (absl::StartsWith(entry, "MELDPUNT_PRIVACY_")) privacy.push_back(entry);
    }
    return privacy;
  };
  EXPECT_FALSE(told("intake").empty());
  EXPECT_FALSE(told("notification").empty());
  EXPECT_THAT(told("routing"), ::testing::IsEmpty());
  EXPECT_THAT(told("deadline_watch"), ::testing::IsEmpty());
}

TEST_F(PrivacyE2e, AfterErasureTheReporterIsNowhereInClearNotEvenAfterARebuild) {
  const Person p = NewPerson();
  // environment may see the reporter (its policy): the strongest reason to copy it somewhere.
  const intake::v1::SubmitCaseResponse submitted =
      Submit(Request(p, "noise", "Lawaai van een bouwwerf, elke nacht"));
  const std::string case_id = submitted.case_id();
  ASSERT_TRUE(events::IsCaseId(case_id));

  // Routed and dispatched: the department learns that it may read the reporter, not who it is.
  auto dispatched = Read(
      events::DispatchTopic("environment"), case_id,
      [](const std::vector<kafka::Record>& r) { return !r.empty(); }, absl::Seconds(60));
  ASSERT_EQ(dispatched.size(), 1u) << "no dispatch message for " << case_id;
  events::v1::DispatchMessage dispatch;
  ASSERT_TRUE(dispatch.ParseFromString(dispatched[0].value));
  EXPECT_TRUE(dispatch.reporter_available());
  EXPECT_FALSE(dispatch.has_reporter());
  EXPECT_FALSE(dispatch.confidential());
  EXPECT_EQ(dispatch.description(), "Lawaai van een bouwwerf, elke nacht");
  // The acknowledgement reached the reporter.
  ASSERT_TRUE(testing::Eventually([&] { return MailsTo(p.email) > 0; }, absl::Seconds(60)))
      << "no acknowledgement to " << p.email;
  auto history = CaseEvents(
      case_id,
      [](const std::vector<Envelope>& e) {
        return Has(e, "CaseRouted") && Has(e, "NotificationDelivered", "acknowledgement");
      },
      absl::Seconds(60));
  ASSERT_TRUE(Has(history, "NotificationDelivered", "acknowledgement"));
  for (const auto& e : history) {
    if (e.has_case_routed()) EXPECT_TRUE(e.case_routed().reporter_visible());
  }

  // The reporter asks to be forgotten.
  {
    intake::v1::EraseReporterDataRequest erase;
    erase.set_case_id(case_id);
    erase.set_command_id(testing::UniqueName("erase"));
    erase.set_reason("request of the reporter");
    erase.mutable_actor()->set_id("team:meldpunt");
    intake::v1::CaseResponse erased;
    grpc::ClientContext context;
    Within(context, absl::Seconds(20));
    grpc::Status status =
        intake::v1::Admin::NewStub(Channel("intake"))->EraseReporterData(&context, erase, &erased);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  ASSERT_TRUE(
      Has(CaseEvents(
              case_id, [](const std::vector<Envelope>& e) { return Has(e, "ReporterDataErased"); },
              absl::Seconds(30)),
          "ReporterDataErased"));

  // The searches see what is there: the case's description is on its events and its dispatch
  // message, its id in Redis.
  std::vector<std::string> control = GrepKafka({"Lawaai van een bouwwerf, elke nacht"});
  EXPECT_GE(control.size(), 2u) << absl::StrJoin(control, "\n");
  bool on_feed = false;
  for (const std::string& where : control)
    on_feed |= where.rfind(events::DispatchTopic("environment"), 0) == 0;
  EXPECT_TRUE(on_feed) << absl::StrJoin(control, "\n");
  EXPECT_FALSE(GrepRedisAll({case_id}).empty());

  const std::vector<std::string> needles = p.All();
  ExpectRedisClean(needles, "after the erasure");
  std::vector<std::string> in_kafka = GrepKafka(needles);
  EXPECT_TRUE(in_kafka.empty()) << "after the erasure, in clear on Kafka:\n  "
                                << absl::StrJoin(in_kafka, "\n  ");

  // Every rebuild from the log: nothing erased comes back.
  {
    grpc::ClientContext context;
    Within(context, absl::Minutes(3));
    intake::v1::RebuildProjectionResponse response;
    grpc::Status status =
        intake::v1::Admin::NewStub(Channel("intake"))->RebuildProjection(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << "RebuildProjection: " << status.error_message();
  }
  {
    grpc::ClientContext context;
    Within(context, absl::Minutes(3));
    notification::v1::RebuildDeliveriesResponse response;
    grpc::Status status = notification::v1::Notifications::NewStub(Channel("notification"))
                              ->RebuildDeliveries(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << "RebuildDeliveries: " << status.error_message();
  }
  {
    grpc::ClientContext context;
    Within(context, absl::Minutes(3));
    deadline::v1::RebuildTimersResponse response;
    grpc::Status status = deadline::v1::DeadlineWatch::NewStub(Channel("deadline_watch"))
                              ->RebuildTimers(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << "RebuildTimers: " << status.error_message();
  }
  // The case is back in the projection, its reporter erased.
  ASSERT_TRUE(testing::Eventually(
      [&] {
        grpc::ClientContext context;
        intake::v1::GetCaseRequest request;
        request.set_case_id(case_id);
        intake::v1::GetCaseResponse response;
        return intake::v1::Intake::NewStub(Channel("intake"))
                   ->GetCase(&context, request, &response)
                   .ok() &&
               response.case_().draft().reporter().erased();
      },
      absl::Seconds(60)));
  ExpectRedisClean(needles, "after the rebuilds");
  in_kafka = GrepKafka(needles);
  EXPECT_TRUE(in_kafka.empty()) << "after the rebuilds, in clear on Kafka:\n  "
                                << absl::StrJoin(in_kafka, "\n  ");
  // And the reporter was not written to again.
  EXPECT_EQ(MailsTo(p.email), 1);
}

TEST_F(PrivacyE2e, AConfidentialReportGoesToTheTeamWithoutContentAndToNoDepartment) {
  const Person p = NewPerson();
  const std::string secret = absl::StrCat("Vertrouwelijk ", testing::UniqueName("detail"));
  // street-lighting belongs to public-works; a confidential case goes to the team whatever it is.
  intake::v1::SubmitCaseRequest request = Request(p, "street-lighting", secret);
  request.mutable_draft()->set_confidential(true);
  const intake::v1::SubmitCaseResponse submitted = Submit(request);
  const std::string case_id = submitted.case_id();
  ASSERT_TRUE(events::IsCaseId(case_id));
  auto dispatched = Read(
      events::DispatchTopic("meldpunt-triage"), case_id,
      [](const std::vector<kafka::Record>& r) { return !r.empty(); }, absl::Seconds(60));
  ASSERT_EQ(dispatched.size(), 1u) << "no dispatch to the team's queue for " << case_id;
  events::v1::DispatchMessage dispatch;
  ASSERT_TRUE(dispatch.ParseFromString(dispatched[0].value));
  EXPECT_TRUE(dispatch.confidential());
  EXPECT_EQ(dispatch.case_id(), case_id);
  EXPECT_EQ(dispatch.reference(), submitted.reference());
  EXPECT_EQ(dispatch.kind(), t::REPORT);
  EXPECT_EQ(dispatch.department(), "meldpunt-triage");
  EXPECT_EQ(dispatch.description(), "");
  EXPECT_EQ(dispatch.category(), "");
  EXPECT_FALSE(dispatch.has_location());
  EXPECT_FALSE(dispatch.has_reporter());
  EXPECT_FALSE(dispatch.reporter_available());
  std::string wire = dispatched[0].value;
  for (const auto& [name, value] : dispatched[0].headers) absl::StrAppend(&wire, name, value);
  std::vector<std::string> found;
  std::vector<std::string> needles = p.All();
  needles.push_back(secret);
  Search("dispatch", wire, needles, found);
  EXPECT_TRUE(found.empty()) << absl::StrJoin(found, "\n");
  auto history = CaseEvents(
      case_id, [](const std::vector<Envelope>& e) { return Has(e, "CaseRouted"); },
      absl::Seconds(30));
  for (const auto& e : history) {
    if (!e.has_case_routed()) continue;
    EXPECT_EQ(e.case_routed().department(), "meldpunt-triage");
    EXPECT_EQ(e.case_routed().rule_id(), "confidential");
    EXPECT_FALSE(e.case_routed().reporter_visible());
    EXPECT_EQ(e.case_routed().explanation().find(secret), std::string::npos);
  }
  // The category's department never hears of it (its feed is read for a while: nothing comes).
  EXPECT_TRUE(Read(
                  events::DispatchTopic("public-works"), case_id,
                  [](const std::vector<kafka::Record>&) { return false; }, absl::Seconds(5))
                  .empty());
}

TEST_F(PrivacyE2e, PreviewingALetterWithTheReporterLeavesAnAuditRecord) {
  const Person p = NewPerson();
  const intake::v1::SubmitCaseResponse submitted =
      Submit(Request(p, "noise", "Blaffende hond, de hele dag"));
  const std::string case_id = submitted.case_id();
  ASSERT_TRUE(events::IsCaseId(case_id));
  auto stub = notification::v1::Notifications::NewStub(Channel("notification"));
  notification::v1::PreviewTemplateRequest request;
  request.set_template_name("acknowledgement");
  request.set_case_id(case_id);
  notification::v1::PreviewTemplateResponse letter;
  // Once notification has the case.
  ASSERT_TRUE(testing::Eventually(
      [&] {
        grpc::ClientContext context;
        Within(context, absl::Seconds(10));
        return stub->PreviewTemplate(&context, request, &letter).ok();
      },
      absl::Seconds(60)));
  EXPECT_NE(letter.body().find(p.name), std::string::npos) << letter.body();
  auto records = Read(
      events::kAuditTopic, case_id,
      [](const std::vector<kafka::Record>& records) {
        for (const auto& r : records) {
          events::v1::PersonalDataRead read;
          if (read.ParseFromString(r.value) && read.producer() == "notification") return true;
        }
        return false;
      },
      absl::Seconds(30));
  std::vector<events::v1::PersonalDataRead> reads;
  for (const auto& r : records) {
    events::v1::PersonalDataRead read;
    if (read.ParseFromString(r.value) && read.producer() == "notification") reads.push_back(read);
  }
  ASSERT_FALSE(reads.empty()) << "no audit record of the preview of " << case_id;
  EXPECT_EQ(reads[0].case_id(), case_id);
  EXPECT_NE(reads[0].method().find("PreviewTemplate"), std::string::npos) << reads[0].method();
  ASSERT_EQ(reads[0].fields_size(), 1);
  EXPECT_EQ(reads[0].fields(0), "reporter.name");
  // A letter to staff shows nobody.
  request.set_template_name("dispatch");
  grpc::ClientContext context;
  Within(context, absl::Seconds(10));
  ASSERT_TRUE(stub->PreviewTemplate(&context, request, &letter).ok());
  EXPECT_EQ(letter.body().find(p.name), std::string::npos) << letter.body();
}

}  // namespace
}  // namespace meldpunt
