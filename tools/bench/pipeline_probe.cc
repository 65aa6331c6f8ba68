// Reads the whole case log and every dispatch feed (read-committed) and reports, for the cases a
// benchmark run submitted (by submitting system), how far each got through the pipeline and how
// long each stage took after the submission:
//
//   pipeline_probe --brokers B --system bench-pipeline-1
//
// Stages: routed (CaseRouted), dispatched (the record on meldpunt.dispatch.<dept>.v1), clock set
// (the first ClocksStarted or ClockStarted), acknowledged (NotificationDelivered of the reporter's
// acknowledgement). Times: each record's Kafka timestamp (set by the producer when the service
// appended it; milliseconds) minus the CaseSubmitted record's. Prints one JSON object.
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "libs/events/codec.h"
#include "meldpunt/events/v1/dispatch.pb.h"
#include "nlohmann/json.hpp"

namespace {

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "pipeline_probe: %s\n", why.c_str());
  std::exit(1);
}

struct CaseTimes {
  absl::Time submitted = absl::InfinitePast();
  absl::Time routed = absl::InfinitePast();
  absl::Time dispatched = absl::InfinitePast();
  absl::Time clock_set = absl::InfinitePast();
  absl::Time acknowledged = absl::InfinitePast();
};

bool Set(absl::Time t) { return t != absl::InfinitePast(); }

nlohmann::json Stage(const std::vector<double>& ms_in, int64_t total) {
  std::vector<double> ms = ms_in;
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) {
    return ms.empty() ? 0.0 : ms[std::min(ms.size() - 1, static_cast<size_t>(ms.size() * p / 100))];
  };
  return {{"count", static_cast<int64_t>(ms.size())},
          {"missing", total - static_cast<int64_t>(ms.size())},
          {"p50_ms", pct(50)},
          {"p99_ms", pct(99)},
          {"max_ms", ms.empty() ? 0.0 : ms.back()}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string brokers, system;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--brokers")
      brokers = argv[i + 1];
    else if (flag == "--system")
      system = argv[i + 1];
    else
      Die("unknown flag " + flag);
  }
  if (brokers.empty() || system.empty()) Die("usage: pipeline_probe --brokers B --system S");

  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  for (const auto& [k, v] :
       std::map<std::string, std::string>{{"bootstrap.servers", brokers},
                                          {"group.id", "meldpunt-bench-probe"},
                                          {"enable.auto.commit", "false"},
                                          {"isolation.level", "read_committed"},
                                          {"enable.partition.eof", "true"}}) {
    if (conf->set(k, v, error) != RdKafka::Conf::CONF_OK) Die(error);
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer) Die(error);
  RdKafka::Metadata* raw = nullptr;
  if (consumer->metadata(true, nullptr, &raw, 10000) != RdKafka::ERR_NO_ERROR || !raw)
    Die("no metadata");
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  std::vector<RdKafka::TopicPartition*> assignment;
  for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
    const std::string& name = t->topic();
    const bool wanted = name == "meldpunt.case-events.v1" ||
                        (name.rfind("meldpunt.dispatch.", 0) == 0 && name.size() > 3 &&
                         name.compare(name.size() - 3, 3, ".v1") == 0);
    if (!wanted) continue;
    for (const RdKafka::PartitionMetadata* p : *t->partitions()) {
      assignment.push_back(
          RdKafka::TopicPartition::create(name, p->id(), RdKafka::Topic::OFFSET_BEGINNING));
    }
  }
  const size_t partitions = assignment.size();
  if (partitions == 0) Die("no case or dispatch topics");
  consumer->assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);

  std::map<std::string, CaseTimes> cases;
  std::map<std::string, absl::Time> dispatch_seen;  // case id -> first dispatch record
  std::map<std::string, CaseTimes> others;          // events of cases not (yet) known as ours
  size_t at_end = 0;
  int64_t records = 0;
  int64_t submitted_bytes = 0;
  int64_t submitted_records = 0;
  while (at_end < partitions) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(1000));
    if (m->err() == RdKafka::ERR__PARTITION_EOF) {
      ++at_end;
      continue;
    }
    if (m->err() == RdKafka::ERR__TIMED_OUT) continue;
    if (m->err() != RdKafka::ERR_NO_ERROR) Die(m->errstr());
    ++records;
    const std::string value(static_cast<const char*>(m->payload()), m->len());
    if (m->topic_name() != "meldpunt.case-events.v1") {
      meldpunt::events::v1::DispatchMessage dispatch;
      if (!dispatch.ParseFromString(value)) continue;
      const absl::Time at = absl::FromUnixMillis(m->timestamp().timestamp);
      auto [it, fresh] = dispatch_seen.emplace(dispatch.case_id(), at);
      if (!fresh) it->second = std::min(it->second, at);
      continue;
    }
    absl::StatusOr<meldpunt::events::Envelope> e = meldpunt::events::Decode(value);
    if (!e.ok()) continue;
    // When the event was appended (the producer's timestamp): a clock event's occurred_at is
    // the instant its clock started from, not when deadline-watch got to it.
    const absl::Time at = absl::FromUnixMillis(m->timestamp().timestamp);
    CaseTimes& c = others[e->case_id()];
    auto first = [&](absl::Time& slot) {
      if (!Set(slot) || at < slot) slot = at;
    };
    switch (e->payload_case()) {
      case meldpunt::events::Envelope::kCaseSubmitted:
        if (e->case_submitted().submitting_system() == system) {
          first(c.submitted);
          submitted_bytes += static_cast<int64_t>(value.size());
          ++submitted_records;
        }
        break;
      case meldpunt::events::Envelope::kCaseRouted:
        first(c.routed);
        break;
      case meldpunt::events::Envelope::kClockStarted:
      case meldpunt::events::Envelope::kClocksStarted:
        first(c.clock_set);
        break;
      case meldpunt::events::Envelope::kNotificationDelivered:
        if (e->notification_delivered().template_name() == "acknowledgement" &&
            e->notification_delivered().recipient() == "reporter") {
          first(c.acknowledged);
        }
        break;
      default:
        break;
    }
  }
  consumer->close();

  std::vector<double> routed, dispatched, clock_set, acknowledged, complete;
  absl::Time first_submit = absl::InfiniteFuture(), last_submit = absl::InfinitePast();
  absl::Time last_done = absl::InfinitePast();
  int64_t total = 0;
  for (auto& [case_id, c] : others) {
    if (!Set(c.submitted)) continue;
    ++total;
    if (auto d = dispatch_seen.find(case_id); d != dispatch_seen.end()) c.dispatched = d->second;
    first_submit = std::min(first_submit, c.submitted);
    last_submit = std::max(last_submit, c.submitted);
    auto after = [&](absl::Time t, std::vector<double>& into) {
      if (Set(t)) into.push_back(absl::ToDoubleMilliseconds(t - c.submitted));
    };
    after(c.routed, routed);
    after(c.dispatched, dispatched);
    after(c.clock_set, clock_set);
    after(c.acknowledged, acknowledged);
    if (Set(c.routed) && Set(c.dispatched) && Set(c.clock_set) && Set(c.acknowledged)) {
      const absl::Time done = std::max({c.routed, c.dispatched, c.clock_set, c.acknowledged});
      complete.push_back(absl::ToDoubleMilliseconds(done - c.submitted));
      last_done = std::max(last_done, done);
    }
  }
  nlohmann::json out = {
      {"system", system},
      {"records_read", records},
      {"submitted", total},
      {"submitted_record_bytes", submitted_records ? submitted_bytes / submitted_records : 0},
      {"routed", Stage(routed, total)},
      {"dispatched", Stage(dispatched, total)},
      {"clock_set", Stage(clock_set, total)},
      {"acknowledged", Stage(acknowledged, total)},
      {"complete", Stage(complete, total)}};
  if (total > 0) {
    const double submit_s = absl::ToDoubleSeconds(last_submit - first_submit);
    out["submit_seconds"] = submit_s;
    out["submit_per_second"] = submit_s > 0 ? total / submit_s : 0.0;
    if (static_cast<int64_t>(complete.size()) == total) {
      const double all_s = absl::ToDoubleSeconds(last_done - first_submit);
      out["pipeline_seconds"] = all_s;
      out["pipeline_per_second"] = all_s > 0 ? total / all_s : 0.0;
      out["drained_after_last_submit_ms"] = absl::ToDoubleMilliseconds(last_done - last_submit);
    }
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
