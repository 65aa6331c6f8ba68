#include "tools/chaos/verify.h"

#include <grpcpp/grpcpp.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <tuple>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "libs/events/codec.h"
#include "libs/events/dead_letters.h"
#include "libs/events/topics.h"
#include "meldpunt/deadline/v1/deadline.grpc.pb.h"
#include "meldpunt/events/v1/dead_letter.pb.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "meldpunt/notification/v1/notification.grpc.pb.h"

namespace meldpunt::chaos {
namespace {

struct LedgerCase {
  std::string key, case_id, email;
  int64_t ok_ms = 0;
  bool read_your_write = true;
  std::string read_your_write_error;
  // A --nearby load's: what the duplicate checks need.
  std::string reference, kind, category;
  bool has_point = false;
  double latitude = 0, longitude = 0;
};

// Great-circle metres on the sphere of Redis's GEO commands (haversine, radius 6372797.560856 m),
// written here again so that the verifier does not take routing's word for a distance.
double Metres(double lat1, double lon1, double lat2, double lon2) {
  constexpr double kRadians = M_PI / 180;
  const double dlat = (lat2 - lat1) * kRadians, dlon = (lon2 - lon1) * kRadians;
  const double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(lat1 * kRadians) * std::cos(lat2 * kRadians) * std::sin(dlon / 2) *
                       std::sin(dlon / 2);
  return 2 * 6372797.560856 * std::asin(std::sqrt(a));
}

struct RawRecord {
  std::string topic, key, value, event_id;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
};

// The case ids of ledger files (JSON lines with "case_id").
std::set<std::string> LedgerCaseIds(const std::vector<std::string>& paths) {
  std::set<std::string> ids;
  for (const auto& path : paths) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded() && !j.value("case_id", "").empty()) ids.insert(j.value("case_id", ""));
    }
  }
  return ids;
}

// Every record of the topics `wanted` accepts (one metadata request for all of them), from offset
// 0 to the end as it is now, read-committed.
std::vector<RawRecord> ReadAll(const std::string& brokers,
                               const std::function<bool(const std::string&)>& wanted,
                               std::string* error) {
  std::vector<RawRecord> out;
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", brokers, err);
  conf->set("group.id", absl::StrCat("chaos-verify-", absl::ToUnixNanos(absl::Now())), err);
  conf->set("enable.auto.commit", "false", err);
  conf->set("isolation.level", "read_committed", err);
  conf->set("enable.partition.eof", "true", err);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer) {
    *error = err;
    return out;
  }
  RdKafka::Metadata* raw = nullptr;
  if (consumer->metadata(true, nullptr, &raw, 10000) != RdKafka::ERR_NO_ERROR || !raw) {
    *error = "no topic metadata";
    return out;
  }
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  std::vector<RdKafka::TopicPartition*> assignment;
  for (const auto* t : *metadata->topics()) {
    if (!wanted(t->topic())) continue;
    for (const auto* p : *t->partitions()) {
      assignment.push_back(
          RdKafka::TopicPartition::create(t->topic(), p->id(), RdKafka::Topic::OFFSET_BEGINNING));
    }
  }
  const size_t partitions = assignment.size();
  consumer->assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);
  size_t at_end = 0;
  const absl::Time limit = absl::Now() + absl::Minutes(5);
  while (at_end < partitions && absl::Now() < limit) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(500));
    if (m->err() == RdKafka::ERR__PARTITION_EOF) {
      ++at_end;
      continue;
    }
    if (m->err() == RdKafka::ERR__TIMED_OUT) continue;
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;  // transient; the next round reads again
    RawRecord r;
    r.topic = m->topic_name();
    r.partition = m->partition();
    r.offset = m->offset();
    if (m->key()) r.key = *m->key();
    if (m->payload()) r.value.assign(static_cast<const char*>(m->payload()), m->len());
    r.timestamp_ms = m->timestamp().timestamp;
    if (const RdKafka::Headers* headers = m->headers()) {
      for (const auto& h : headers->get("event-id")) {
        if (h.value()) r.event_id.assign(static_cast<const char*>(h.value()), h.value_size());
      }
    }
    out.push_back(std::move(r));
  }
  if (at_end < partitions) *error = "the topics were not read to their end within 5 minutes";
  consumer->close();
  return out;
}

bool IsVerifiedTopic(const std::string& topic) {
  return topic == events::kCaseEventsTopic || topic == events::kNotificationDeadLetterTopic ||
         topic == events::kCaseEventsDeadLetterTopic ||
         (absl::StartsWith(topic, "meldpunt.dispatch.") && absl::EndsWith(topic, ".v1"));
}

// What the log says about one case.
struct CaseFacts {
  std::set<std::string> submitted, routed, dispatched;
  int64_t submitted_raw = 0, routed_raw = 0, dispatched_raw = 0;
  int64_t first_dispatch_ms = 0;
  // (clock, generation) -> event ids / due time / stopped
  std::map<std::pair<std::string, int>, std::set<std::string>> clock_started;
  std::map<std::pair<std::string, int>, absl::Time> clock_due;
  std::set<std::pair<std::string, int>> clock_stopped, clock_breached;
  // (type, clock, generation, level or fraction) -> distinct event ids
  std::map<std::tuple<std::string, std::string, int, int>, std::set<std::string>> firings;
  std::set<std::string> ack_keys;  // NotificationDelivered acknowledgement -> reporter
  int64_t ack_delivered_ms = 0;
  bool ack_dead_lettered = false;  // NotificationFailed (dead_lettered) on the case log
  bool ack_in_dlq = false;         // and its record on the dead-letter topic
  // CaseLinked / CaseMerged: their event ids, and the first record's master and its reference
  // (what every consumer keeps: a repeat of the id is passed over).
  std::set<std::string> link_ids;
  std::string link_master, link_reference;
  std::set<std::string> duplicate_keys;  // NotificationDelivered duplicate -> reporter
};

struct MailFacts {
  std::set<std::string> keys;
  int64_t raw = 0;
  std::map<std::string, std::string> text;  // idempotency key -> the plain text part, decoded
  std::set<std::string> showing_the_id;     // keys of the letters whose text shows the case id
};

struct Probe {
  bool get_case = false, clocks = false, deliveries = false;
  std::string clocks_why, deliveries_why, get_case_why;
};

std::string Header(const std::string& eml, const std::string& name) {
  const std::string needle = absl::StrCat("\r\n", name, ": ");
  size_t at = eml.find(needle);
  if (at == std::string::npos) return "";
  at += needle.size();
  const size_t end = eml.find("\r\n", at);
  return eml.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

class Verifier {
 public:
  explicit Verifier(const VerifyOptions& options) : options_(options) {
    for (const auto& path : options.ledgers) {
      std::ifstream in(path);
      std::string line;
      while (std::getline(in, line)) {
        if (line.empty()) continue;
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded()) continue;
        LedgerCase c{j.value("key", ""),
                     j.value("case_id", ""),
                     j.value("email", ""),
                     j.value("ok_ms", int64_t{0}),
                     j.value("read_your_write", true),
                     j.value("read_your_write_error", "")};
        c.reference = j.value("reference", "");
        c.kind = j.value("kind", "");
        c.category = j.value("category", "");
        c.has_point = j.contains("latitude") && j.contains("longitude");
        c.latitude = j.value("latitude", 0.0);
        c.longitude = j.value("longitude", 0.0);
        if (!ledger_index_.count(c.case_id)) {
          ledger_index_[c.case_id] = ledger_.size();
          ledger_.push_back(c);
        }
      }
    }
    injected_ = LedgerCaseIds(options.injected);
    other_injected_ = LedgerCaseIds(options.other_injected);
    auto channel = [](const std::string& address) {
      return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    };
    intake_ = intake::v1::Intake::NewStub(channel(options.intake));
    deadline_ = deadline::v1::DeadlineWatch::NewStub(channel(options.deadline));
    notification_ = notification::v1::Notifications::NewStub(channel(options.notification));
  }

  VerifyResult Run() {
    const absl::Time start = absl::Now();
    const absl::Time limit = start + options_.settle;
    VerifyResult result;
    while (true) {
      result = Round();
      result.settled_after_s = absl::ToDoubleSeconds(absl::Now() - start);
      if (result.passed || absl::Now() >= limit) break;
      absl::SleepFor(absl::Seconds(3));
    }
    return result;
  }

 private:
  VerifyResult Round() {
    VerifyResult r;
    r.acknowledged = static_cast<int64_t>(ledger_.size());
    std::map<std::string, CaseFacts> facts;
    std::map<std::string, std::set<std::string>> cases_by_key;
    std::string error;
    // One read of the case log, every dispatch feed and the dead-letter topic.
    std::vector<RawRecord> case_records, dispatch_records, dead_letters, case_dead_letters;
    for (RawRecord& rec : ReadAll(options_.kafka, IsVerifiedTopic, &error)) {
      (rec.topic == events::kCaseEventsTopic               ? case_records
       : rec.topic == events::kNotificationDeadLetterTopic ? dead_letters
       : rec.topic == events::kCaseEventsDeadLetterTopic   ? case_dead_letters
                                                           : dispatch_records)
          .push_back(std::move(rec));
    }
    if (!error.empty()) r.failures.push_back("read " + error);
    std::map<std::string, int64_t> seen_ids;
    // The undecodable records written since the scenario started: (partition, offset).
    std::set<std::pair<int32_t, int64_t>> undecodable;
    for (const auto& rec : case_records) {
      auto decoded = events::Decode(rec.value);
      if (!decoded.ok()) {
        ++r.undecodable_records;
        if (rec.timestamp_ms >= options_.since_ms) undecodable.insert({rec.partition, rec.offset});
        continue;
      }
      const events::Envelope& e = *decoded;
      const bool ours = ledger_index_.count(e.case_id()) > 0;
      if (e.has_case_submitted() && e.case_submitted().submitting_system() == "chaos-load")
        cases_by_key[e.case_submitted().request_key()].insert(e.case_id());
      if (!ours) continue;
      if (++seen_ids[e.event_id()] > 1) ++r.repeats_absorbed;
      CaseFacts& f = facts[e.case_id()];
      switch (e.payload_case()) {
        case events::Envelope::kCaseSubmitted:
          f.submitted.insert(e.event_id());
          ++f.submitted_raw;
          break;
        case events::Envelope::kCaseRouted:
          f.routed.insert(e.event_id());
          ++f.routed_raw;
          break;
        case events::Envelope::kClockStarted:
        case events::Envelope::kClocksStarted: {
          // One event id per clock generation, whichever record announced it.
          std::vector<events::v1::ClockStarted> started(e.clocks_started().clocks().begin(),
                                                        e.clocks_started().clocks().end());
          if (e.has_clock_started()) started.push_back(e.clock_started());
          for (const auto& p : started) {
            f.clock_started[{p.clock(), p.generation()}].insert(e.event_id());
            f.clock_due[{p.clock(), p.generation()}] = events::GetTime(p.due_at());
          }
          break;
        }
        case events::Envelope::kClockStopped:
          f.clock_stopped.insert({e.clock_stopped().clock(), e.clock_stopped().generation()});
          break;
        case events::Envelope::kDeadlineWarning: {
          const auto& p = e.deadline_warning();
          f.firings[{"warning", p.clock(), p.generation(), static_cast<int>(p.fraction() * 1000)}]
              .insert(e.event_id());
          break;
        }
        case events::Envelope::kDeadlineBreached: {
          const auto& p = e.deadline_breached();
          f.firings[{"breach", p.clock(), p.generation(), 0}].insert(e.event_id());
          f.clock_breached.insert({p.clock(), p.generation()});
          break;
        }
        case events::Envelope::kCaseEscalated: {
          const auto& p = e.case_escalated();
          f.firings[{"escalation", p.clock(), p.generation(), p.level()}].insert(e.event_id());
          break;
        }
        case events::Envelope::kCaseLinked:
        case events::Envelope::kCaseMerged:
          f.link_ids.insert(e.event_id());
          if (f.link_master.empty()) {
            f.link_master = e.has_case_linked() ? e.case_linked().master_case_id()
                                                : e.case_merged().master_case_id();
            f.link_reference = e.has_case_linked() ? e.case_linked().master_reference()
                                                   : e.case_merged().master_reference();
          }
          break;
        case events::Envelope::kNotificationDelivered: {
          const auto& p = e.notification_delivered();
          if (p.template_name() == "duplicate" && p.recipient() == "reporter")
            f.duplicate_keys.insert(p.idempotency_key());
          if (p.template_name() == "acknowledgement" && p.recipient() == "reporter") {
            f.ack_keys.insert(p.idempotency_key());
            if (!f.ack_delivered_ms) f.ack_delivered_ms = rec.timestamp_ms;
          }
          break;
        }
        case events::Envelope::kNotificationFailed: {
          const auto& p = e.notification_failed();
          if (p.template_name() == "acknowledgement" && p.recipient() == "reporter" &&
              p.dead_lettered())
            f.ack_dead_lettered = true;
          break;
        }
        default:
          break;
      }
    }
    std::map<std::string, int64_t> seen_dispatch;
    for (const auto& rec : dispatch_records) {
      if (!ledger_index_.count(rec.key)) continue;
      CaseFacts& f = facts[rec.key];
      std::string id = rec.event_id;
      if (id.empty()) {
        events::v1::DispatchMessage m;
        if (m.ParseFromString(rec.value)) id = m.dispatch_id();
      }
      f.dispatched.insert(id);
      ++f.dispatched_raw;
      if (++seen_dispatch[id] > 1) ++r.repeats_absorbed;
      if (!f.first_dispatch_ms) f.first_dispatch_ms = rec.timestamp_ms;
    }
    for (const auto& rec : dead_letters) {
      if (!ledger_index_.count(rec.key)) continue;
      auto decoded = events::Decode(rec.value);
      if (decoded.ok() && decoded->has_notification_failed() &&
          decoded->notification_failed().template_name() == "acknowledgement" &&
          decoded->notification_failed().recipient() == "reporter")
        facts[rec.key].ack_in_dlq = true;
    }
    ReadMails();
    for (const auto& [id, mail] : mails_) r.repeats_absorbed += mail.raw - mail.keys.size();

    auto fail = [&](const std::string& rule, const std::string& case_id, const std::string& why) {
      int& n = failure_counts_[rule];
      if (++n <= 5) r.failures.push_back(absl::StrCat(rule, " ", case_id, ": ", why));
    };
    failure_counts_.clear();
    CheckDeadLetters(case_dead_letters, undecodable, r, fail);
    for (const auto& [key, ids] : cases_by_key) {
      if (ids.size() > 1) {
        ++r.violations;
        fail("one-case-per-key", key, absl::StrCat(ids.size(), " cases"));
      }
    }
    std::vector<double> lags;
    std::string slowest;  // the case of the longest lag, so the logs can be read for it
    double slowest_lag = -1;
    const absl::Time now = absl::Now();
    for (const LedgerCase& c : ledger_) {
      CaseFacts& f = facts[c.case_id];
      Probe& probe = probes_[c.case_id];
      // 1. In the log and in GetCase.
      if (f.submitted.size() > 1) {
        ++r.violations;
        fail("submitted-once", c.case_id, absl::StrCat(f.submitted.size(), " ids"));
      }
      if (!probe.get_case) probe.get_case = GetCase(c.case_id, &probe.get_case_why);
      if (!c.read_your_write) {
        // The submitter's GetCase right after the OK did not show the case. Whether it shows now
        // tells a late fold from a lost one.
        ++r.violations;
        fail("read-your-writes", c.case_id,
             absl::StrCat(c.read_your_write_error, " right after the OK; now: ",
                          probe.get_case ? "found" : probe.get_case_why));
      } else if (f.submitted.empty()) {
        fail("in-log", c.case_id, "no CaseSubmitted on the log");
      } else if (!probe.get_case) {
        fail("get-case", c.case_id, probe.get_case_why);
      } else {
        ++r.found;
      }
      // 2. Routed and dispatched once in effect.
      if (f.routed.size() > 1 || f.dispatched.size() > 1) {
        ++r.violations;
        fail("dispatched-once", c.case_id,
             absl::StrCat(f.routed.size(), " CaseRouted ids, ", f.dispatched.size(),
                          " dispatch ids"));
      } else if (f.routed.size() == 1 && f.dispatched.size() == 1) {
        ++r.dispatched_once;
      } else {
        fail("dispatched", c.case_id,
             absl::StrCat(f.routed.size(), " CaseRouted, ", f.dispatched.size(), " dispatched"));
      }
      // 3. Clocks: started once per generation, held in Redis, fired when due, once.
      bool clocks_ok = true;
      for (const auto& [k, ids] : f.firings) {
        if (ids.size() > 1) {
          ++r.violations;
          clocks_ok = false;
          fail("fired-once", c.case_id,
               absl::StrCat(std::get<0>(k), " of ", std::get<1>(k), " generation ", std::get<2>(k),
                            ": ", ids.size(), " ids"));
        }
      }
      std::map<std::string, int> newest;
      for (const auto& [k, ids] : f.clock_started) {
        if (ids.size() > 1) {
          ++r.violations;
          clocks_ok = false;
          fail("clock-started-once", c.case_id,
               absl::StrCat(k.first, " generation ", k.second, ": ", ids.size(), " ids"));
        }
        newest[k.first] = std::max(newest[k.first], k.second);
        const bool stopped = f.clock_stopped.count(k) > 0;
        // A clock that runs out during the run must have fired: the verifier waits for it (a
        // 10-day clock is checked by being held in Redis, below).
        if (!stopped && !f.clock_breached.count(k) && f.clock_due[k] < now + options_.settle) {
          clocks_ok = false;
          fail(f.clock_due[k] + options_.fire_grace < now ? "fired-when-due" : "not-due-yet",
               c.case_id,
               absl::StrCat(k.first, " due ", absl::FormatTime(f.clock_due[k]),
                            " has no DeadlineBreached"));
        }
      }
      for (const auto& name : options_.clocks) {
        if (!newest.count(name)) {
          clocks_ok = false;
          fail("clock-started", c.case_id,
               absl::StrCat("no ClocksStarted or ClockStarted for ", name));
        }
      }
      if (clocks_ok && !probe.clocks) probe.clocks = Clocks(c.case_id, newest, &probe.clocks_why);
      if (clocks_ok && !probe.clocks) {
        clocks_ok = false;
        fail("clocks-in-redis", c.case_id, probe.clocks_why);
      }
      if (clocks_ok) ++r.clocks_right;
      // 4. The acknowledgement reached the reporter (log, Redis and the sink), or is visible
      // to ops as dead-lettered.
      const auto mail = mails_.find(c.case_id);
      const bool mailed = mail != mails_.end() && !mail->second.keys.empty();
      // A citizen reads the reference, never the case id.
      if (mail != mails_.end() && !mail->second.showing_the_id.empty()) {
        ++r.violations;
        fail("letters-show-no-id", c.case_id,
             absl::StrCat(mail->second.showing_the_id.size(),
                          " letter(s) to the reporter show the case id"));
      }
      if (f.ack_keys.size() > 1) {
        ++r.violations;
        fail("acknowledged-once", c.case_id, absl::StrCat(f.ack_keys.size(), " keys"));
      }
      if (!f.ack_keys.empty() && mailed) {
        if (!probe.deliveries)
          probe.deliveries = Deliveries(c.case_id, "delivered", &probe.deliveries_why);
        if (probe.deliveries) {
          ++r.acks_delivered;
        } else {
          fail("acknowledgement-in-redis", c.case_id, probe.deliveries_why);
        }
      } else if (f.ack_dead_lettered) {
        ++r.acks_dead_lettered;
        std::string why;
        if (!options_.allow_dead_letter) {
          fail("acknowledged", c.case_id, "dead-lettered");
        } else if (!f.ack_in_dlq) {
          fail("dead-lettered-visibly", c.case_id, "no record on the dead-letter topic");
        } else if (!Deliveries(c.case_id, "dead_lettered", &why)) {
          fail("dead-lettered-visibly", c.case_id, why);
        } else {
          ++r.acks_delivered;
        }
      } else {
        fail("acknowledged", c.case_id,
             absl::StrCat(f.ack_keys.empty() ? "no NotificationDelivered" : "delivered",
                          mailed ? ", mail in the sink" : ", no mail in the sink"));
      }
      if (f.first_dispatch_ms && f.ack_delivered_ms) {
        const double lag =
            static_cast<double>(std::max(f.first_dispatch_ms, f.ack_delivered_ms) - c.ok_ms) /
            1000.0;
        if (lag > slowest_lag) {
          slowest_lag = lag;
          slowest = absl::StrCat(
              c.case_id, ": dispatched after ", (f.first_dispatch_ms - c.ok_ms) / 1000.0,
              " s, acknowledged after ", (f.ack_delivered_ms - c.ok_ms) / 1000.0, " s");
        }
        lags.push_back(lag);
      }
    }
    if (options_.duplicate_radius_m > 0) CheckDuplicates(facts, r, fail);
    if (!lags.empty()) {
      std::sort(lags.begin(), lags.end());
      r.lag_p50_s = lags[lags.size() / 2];
      r.lag_max_s = lags.back();
      r.lag_max_case = slowest;
    }
    for (const auto& [rule, n] : failure_counts_) {
      if (n > 5) r.failures.push_back(absl::StrCat(rule, ": ", n - 5, " more"));
    }
    const int64_t n = r.acknowledged;
    r.passed = r.violations == 0 && r.found == n && r.dispatched_once == n && r.clocks_right == n &&
               r.acks_delivered == n && r.duplicate_letters == r.linked && error.empty();
    return r;
  }

  // The duplicate checks of a --nearby load (VerifyOptions::duplicate_radius_m).
  template <typename Fail>
  void CheckDuplicates(const std::map<std::string, CaseFacts>& facts, VerifyResult& r,
                       const Fail& fail) {
    const double radius = options_.duplicate_radius_m;
    auto facts_of = [&](const std::string& case_id) -> const CaseFacts* {
      auto it = facts.find(case_id);
      return it == facts.end() ? nullptr : &it->second;
    };
    std::map<std::string, std::vector<const LedgerCase*>> routed_reports;  // by category
    for (const LedgerCase& c : ledger_) {
      const CaseFacts* f = facts_of(c.case_id);
      if (f == nullptr) continue;
      if (c.has_point && c.kind == "REPORT" && !f->routed.empty())
        routed_reports[c.category].push_back(&c);
      if (f->link_ids.empty()) continue;
      ++r.linked;
      bool right = true;
      auto violation = [&](const std::string& rule, const std::string& why) {
        ++r.violations;
        right = false;
        fail(rule, c.case_id, why);
      };
      if (f->link_ids.size() > 1)
        violation("linked-once", absl::StrCat(f->link_ids.size(), " CaseLinked ids"));
      if (c.kind != "REPORT" || !c.has_point)
        violation("linked-reports-only", absl::StrCat("a ", c.kind, " linked"));
      const auto master = ledger_index_.find(f->link_master);
      if (master == ledger_index_.end()) {
        violation("linked-to-a-nearby-case",
                  absl::StrCat("master ", f->link_master, " is not a case of the load"));
        continue;
      }
      const LedgerCase& m = ledger_[master->second];
      const double d = Metres(c.latitude, c.longitude, m.latitude, m.longitude);
      if (m.category != c.category || !m.has_point || d > radius + 1) {
        violation("linked-to-a-nearby-case",
                  absl::StrCat("master ", m.case_id, " (", m.category, ") is ",
                               absl::StrFormat("%.1f", d), " m away"));
      }
      if (f->link_reference != m.reference) {
        violation("link-names-the-reference",
                  absl::StrCat("names '", f->link_reference, "', the master's is ", m.reference));
      }
      // Following the links from here never comes back here.
      std::string at = f->link_master;
      for (size_t hops = 0; !at.empty() && hops <= ledger_.size(); ++hops) {
        if (at == c.case_id) {
          violation("links-acyclic", absl::StrCat("a cycle of ", hops + 1, " links"));
          break;
        }
        const CaseFacts* next = facts_of(at);
        at = next == nullptr ? "" : next->link_master;
      }
      // The letter: once, in the sink, with the master's reference and not its id.
      if (f->duplicate_keys.size() > 1) {
        violation("duplicate-letter-once", absl::StrCat(f->duplicate_keys.size(), " keys"));
      }
      if (f->duplicate_keys.empty()) {
        fail("duplicate-letter", c.case_id, "no NotificationDelivered of the duplicate letter");
        continue;
      }
      const auto mail = mails_.find(c.case_id);
      const auto text = mail == mails_.end() ? std::map<std::string, std::string>::const_iterator()
                                             : mail->second.text.find(*f->duplicate_keys.begin());
      if (mail == mails_.end() || text == mail->second.text.end()) {
        fail("duplicate-letter", c.case_id, "delivered, no mail in the sink");
        continue;
      }
      if (absl::StrContains(text->second, m.case_id)) {
        violation("letters-show-no-id", absl::StrCat("the duplicate letter shows ", m.case_id));
      }
      if (!absl::StrContains(text->second, m.reference)) {
        violation("duplicate-letter-names-the-master",
                  absl::StrCat("the duplicate letter does not name ", m.reference));
      }
      if (right) ++r.duplicate_letters;
    }
    // Of two routed reports of a category within the radius, one at least is linked.
    for (const auto& [category, reports] : routed_reports) {
      for (size_t i = 0; i < reports.size(); ++i) {
        if (!facts_of(reports[i]->case_id)->link_ids.empty()) continue;
        for (size_t j = i + 1; j < reports.size(); ++j) {
          if (!facts_of(reports[j]->case_id)->link_ids.empty()) continue;
          const double d = Metres(reports[i]->latitude, reports[i]->longitude, reports[j]->latitude,
                                  reports[j]->longitude);
          if (d >= radius - 1) continue;
          ++r.violations;
          fail("nearby-reports-linked", reports[i]->case_id,
               absl::StrCat("neither it nor ", reports[j]->case_id, ", ",
                            absl::StrFormat("%.1f", d), " m away, is linked"));
        }
      }
    }
  }

  // The case-event dead letters (meldpunt.case-events.dlq.v1) in the scenario's scope, counted
  // by service and reason and held to what the scenario expects (VerifyOptions).
  template <typename Fail>
  void CheckDeadLetters(const std::vector<RawRecord>& records,
                        const std::set<std::pair<int32_t, int64_t>>& undecodable, VerifyResult& r,
                        const Fail& fail) {
    // By dead_letter_id: a record set aside twice (a rebalance in between) is one dead letter.
    std::map<std::string, events::v1::DeadLetter> letters;
    for (const auto& rec : records) {
      events::v1::DeadLetterRecord record;
      if (record.ParseFromString(rec.value) && record.has_dead_letter())
        letters.try_emplace(record.dead_letter().dead_letter_id(), record.dead_letter());
    }
    const std::set<std::string> expected_services(options_.undecodable_services.begin(),
                                                  options_.undecodable_services.end());
    std::map<std::string, std::set<std::string>> injected_by;  // case -> dead letter ids
    std::set<std::tuple<std::string, int32_t, int64_t>> undecodable_by;
    for (const auto& [id, d] : letters) {
      const int64_t at_ms = absl::ToUnixMillis(events::GetTime(d.at()));
      const bool ledger = !d.case_id().empty() && ledger_index_.count(d.case_id()) > 0;
      const bool injected = !d.case_id().empty() && injected_.count(d.case_id()) > 0;
      // Another scenario's: its own injected cases, or set aside before this one started.
      if (!ledger && !injected &&
          (other_injected_.count(d.case_id()) > 0 || at_ms < options_.since_ms)) {
        continue;
      }
      ++r.dead_letters[absl::StrCat(d.service(), "/", d.reason())];
      const int64_t written_ms = absl::ToUnixMillis(events::GetTime(d.record_timestamp()));
      if (written_ms > 0) {
        r.dead_letter_after_max_s =
            std::max(r.dead_letter_after_max_s, static_cast<double>(at_ms - written_ms) / 1000.0);
      }
      const std::string what = absl::StrCat(
          d.service(), " set aside ", d.event_type().empty() ? "a record" : d.event_type(), " at ",
          d.source_partition(), "/", d.source_offset(), " (", d.reason(), ": ", d.error(), ")");
      if (injected && d.service() == "notification" && d.reason() == events::kCannotBeRetried) {
        injected_by[d.case_id()].insert(id);
        continue;
      }
      if (!ledger && !injected && d.reason() == events::kCannotBeDecoded &&
          expected_services.count(d.service()) &&
          undecodable.count({d.source_partition(), d.source_offset()})) {
        undecodable_by.insert({d.service(), d.source_partition(), d.source_offset()});
        continue;
      }
      ++r.unexpected_dead_letters;
      ++r.violations;
      fail(ledger     ? "ledger-case-dead-lettered"
           : injected ? "injected-dead-lettered-by-notification-only"
                      : "unexpected-dead-letter",
           d.case_id().empty() ? id : d.case_id(), what);
    }
    // Every injected case is dead-lettered by notification (the verifier waits for it).
    r.injected = static_cast<int64_t>(injected_.size());
    for (const std::string& case_id : injected_) {
      if (injected_by.count(case_id)) {
        ++r.injected_dead_lettered;
      } else {
        ++r.violations;
        fail("injected-dead-lettered", case_id, "no dead letter of notification for this case");
      }
    }
    // Every undecodable record is set aside by every service that consumes the case log.
    r.undecodable_dead_lettered = static_cast<int64_t>(undecodable_by.size());
    for (const auto& [partition, offset] : undecodable) {
      for (const std::string& service : expected_services) {
        if (undecodable_by.count({service, partition, offset})) continue;
        ++r.violations;
        fail("undecodable-dead-lettered", absl::StrCat(partition, "/", offset),
             absl::StrCat("no dead letter of ", service, " (", events::kCannotBeDecoded, ")"));
      }
    }
  }

  bool GetCase(const std::string& case_id, std::string* why) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    intake::v1::GetCaseRequest request;
    request.set_case_id(case_id);
    intake::v1::GetCaseResponse response;
    const grpc::Status status = intake_->GetCase(&context, request, &response);
    if (!status.ok()) *why = absl::StrCat("GetCase: ", status.error_message());
    return status.ok();
  }

  bool Clocks(const std::string& case_id, const std::map<std::string, int>& newest,
              std::string* why) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    deadline::v1::GetCaseClocksRequest request;
    request.set_case_id(case_id);
    deadline::v1::GetCaseClocksResponse response;
    const grpc::Status status = deadline_->GetCaseClocks(&context, request, &response);
    if (!status.ok()) {
      *why = absl::StrCat("GetCaseClocks: ", status.error_message());
      return false;
    }
    for (const auto& [name, generation] : newest) {
      bool held = false;
      for (const auto& clock : response.clocks())
        held = held || (clock.name() == name && clock.generation() == generation);
      if (!held) {
        *why = absl::StrCat("GetCaseClocks has no ", name, " generation ", generation);
        return false;
      }
    }
    return true;
  }

  // Whether ListDeliveries (the ops view in Redis) shows the acknowledgement with `status`.
  bool Deliveries(const std::string& case_id, const std::string& status, std::string* why) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    notification::v1::ListDeliveriesRequest request;
    request.set_case_id(case_id);
    notification::v1::ListDeliveriesResponse response;
    const grpc::Status rpc = notification_->ListDeliveries(&context, request, &response);
    if (!rpc.ok()) {
      *why = absl::StrCat("ListDeliveries: ", rpc.error_message());
      return false;
    }
    for (const auto& d : response.deliveries()) {
      if (d.template_name() == "acknowledgement" && d.recipient() == "reporter" &&
          d.status() == status)
        return true;
    }
    *why = absl::StrCat("ListDeliveries shows no acknowledgement ", status);
    return false;
  }

  // The SMTP sink's files: per message a JSON with the envelope and the raw message (.eml).
  void ReadMails() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(options_.smtp_dir, ec)) {
      const std::string path = entry.path().string();
      if (!absl::EndsWith(path, ".json") || mail_files_.count(path)) continue;
      std::ifstream in(path);
      std::stringstream buffer;
      buffer << in.rdbuf();
      auto j = nlohmann::json::parse(buffer.str(), nullptr, false);
      if (j.is_discarded()) continue;  // never half written (the sink renames), but be safe
      // "eml" names the raw message beside it, which is there before its .json.
      std::ifstream raw(std::filesystem::path(options_.smtp_dir) / j.value("eml", std::string()));
      std::stringstream message;
      message << raw.rdbuf();
      if (message.str().empty()) continue;
      mail_files_.insert(path);
      const std::string whole = message.str();
      const std::string eml = "\r\n" + whole.substr(0, whole.find("\r\n\r\n"));
      const std::string case_id = Header(eml, "X-Meldpunt-Case");
      const auto it = ledger_index_.find(case_id);
      if (it == ledger_index_.end()) continue;
      bool to_reporter = false;
      for (const auto& to : j.value("rcpt_tos", std::vector<std::string>{}))
        to_reporter = to_reporter || to == ledger_[it->second].email;
      if (!to_reporter) continue;
      MailFacts& m = mails_[case_id];
      const std::string key = Header(eml, "X-Meldpunt-Idempotency-Key");
      m.keys.insert(key);
      ++m.raw;
      // The plain text part (the first, base64 in lines: SmtpMailer::Compose).
      const std::string part = "Content-Transfer-Encoding: base64\r\n\r\n";
      const size_t from = whole.find(part);
      if (from != std::string::npos) {
        const size_t begin = from + part.size();
        const size_t end = whole.find("\r\n--", begin);
        std::string encoded = whole.substr(begin, end == std::string::npos ? end : end - begin);
        encoded.erase(std::remove_if(encoded.begin(), encoded.end(),
                                     [](char ch) { return ch == '\r' || ch == '\n'; }),
                      encoded.end());
        std::string text;
        if (absl::Base64Unescape(encoded, &text)) {
          if (absl::StrContains(text, case_id)) m.showing_the_id.insert(key);
          m.text[key] = std::move(text);
        }
      }
    }
  }

  const VerifyOptions& options_;
  std::vector<LedgerCase> ledger_;
  std::set<std::string> injected_, other_injected_;
  std::map<std::string, size_t> ledger_index_;
  std::map<std::string, Probe> probes_;
  std::map<std::string, MailFacts> mails_;
  std::set<std::string> mail_files_;
  std::map<std::string, int> failure_counts_;
  std::unique_ptr<intake::v1::Intake::Stub> intake_;
  std::unique_ptr<deadline::v1::DeadlineWatch::Stub> deadline_;
  std::unique_ptr<notification::v1::Notifications::Stub> notification_;
};

}  // namespace

nlohmann::json VerifyResult::ToJson() const {
  return {{"acknowledged", acknowledged},
          {"found", found},
          {"dispatched_once", dispatched_once},
          {"clocks_right", clocks_right},
          {"acks_delivered", acks_delivered},
          {"acks_dead_lettered", acks_dead_lettered},
          {"repeats_absorbed", repeats_absorbed},
          {"violations", violations},
          {"undecodable_records", undecodable_records},
          {"dead_letters", dead_letters},
          {"unexpected_dead_letters", unexpected_dead_letters},
          {"injected", injected},
          {"injected_dead_lettered", injected_dead_lettered},
          {"undecodable_dead_lettered", undecodable_dead_lettered},
          {"linked", linked},
          {"duplicate_letters", duplicate_letters},
          {"dead_letter_after_max_s", dead_letter_after_max_s},
          {"lag_p50_s", lag_p50_s},
          {"lag_max_s", lag_max_s},
          {"lag_max_case", lag_max_case},
          {"settled_after_s", settled_after_s},
          {"passed", passed},
          {"failures", failures}};
}

VerifyResult Verify(const VerifyOptions& options) { return Verifier(options).Run(); }

}  // namespace meldpunt::chaos
