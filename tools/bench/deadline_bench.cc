// Deadline-watch's timer figures against a real redis-server and Kafka broker (started by
// `tools/dev bench deadline`; redis-benchmark on the same Redis build is `tools/dev bench
// baselines`):
//   1. Redis memory per pending timer and per clock record, with 1,000,000 timers pending;
//   2. firing lateness p50 / p99 / max at 2,000 timers due per second, on top of those;
//   3. how long 100,000 timers due at the same instant take to drain;
//   4. rebuild: the timers of ~1,000,000 (complaints under the shipped policies) rebuilt from the
//      log by the service's own rebuild (TimerRebuild: the clear, then the log in runs through
//      BufferedTimerStore, one lane per partition), against the raw rate of reading that log.
// Firing goes through the service's own path (DeadlineLogic, the Lua claim, FireDue appending
// to the case log with acks=all, then completion), one thread over every partition like a single
// replica, polling every 100 ms as the shipped configuration does.
//
//   deadline_bench --redis 127.0.0.1:6390 --kafka 127.0.0.1:9093 [--pending 1000000]
//       [--rate 2000] [--seconds 20] [--burst 100000] [--rebuild-cases 90909]
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "libs/calendar/calendar.h"
#include "libs/clock/clock.h"
#include "libs/config/service_config.h"
#include "libs/events/codec.h"
#include "libs/events/event_log.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/kafka/admin.h"
#include "libs/kafka/producer.h"
#include "libs/redis/redis.h"
#include "libs/service/consumer_slot.h"
#include "libs/service/rebuild_guard.h"
#include "libs/service/replay.h"
#include "services/deadline_watch/deadline_logic.h"
#include "services/deadline_watch/firer.h"
#include "services/deadline_watch/timer_rebuild.h"
#include "services/deadline_watch/timer_store.h"
#include "yaml-cpp/yaml.h"

namespace meldpunt::deadline {
namespace {

constexpr int kPartitions = 6;

struct Args {
  std::string redis = "127.0.0.1:6379";
  std::string kafka = "127.0.0.1:9092";
  std::string policies = "deploy/config/deadline_watch.yaml";
  int64_t pending = 1'000'000;
  int64_t rate = 2000;
  int64_t seconds = 20;
  int64_t burst = 100'000;
  // Complaints on the log of the rebuild: 90,909 held 999,999 timers under the shipped policies
  // when a clock kept a timer for each warning, breach and escalation step (it keeps one now).
  int64_t rebuild_cases = 90'909;
};

void Die(const absl::Status& status, const char* what) {
  if (status.ok()) return;
  std::fprintf(stderr, "deadline_bench: %s: %s\n", what, status.ToString().c_str());
  std::exit(1);
}

int64_t UsedMemory(redis::Client& redis) {
  auto reply = redis.Command({"MEMORY", "STATS"});
  Die(reply.status(), "MEMORY STATS");
  for (size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
    if (reply->elements[i].str == "total.allocated") return reply->elements[i + 1].integer;
  }
  return 0;
}

std::string Ms(double seconds) { return absl::StrCat(std::lround(seconds * 1000.0), " ms"); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

// One breach timer and its clock record per case, due at `due[i]`: the shape the service keeps
// for a running clock, written in bulk.
void Load(RedisTimerStore& store, const std::string& prefix, const std::vector<absl::Time>& due) {
  constexpr size_t kBatch = 2000;
  for (size_t begin = 0; begin < due.size(); begin += kBatch) {
    std::map<int32_t, std::vector<Timer>> timers;
    std::vector<v1::Clock> clocks;
    for (size_t i = begin; i < std::min(due.size(), begin + kBatch); ++i) {
      v1::Clock clock;
      clock.set_case_id(events::CaseIdFor("bench", absl::StrCat(prefix, i)));
      clock.set_name("answer");
      clock.set_generation(1);
      clock.set_status(v1::RUNNING);
      clock.set_policy("answer");
      clock.set_term("45d");
      clock.set_kind("COMPLAINT");
      clock.set_department("public-works");
      events::SetTime(clock.mutable_started_at(), due[i] - absl::Hours(24 * 45));
      events::SetTime(clock.mutable_due_at(), due[i]);
      Timer t{clock.case_id(),           "answer", 1, "breach", 1000, absl::ToUnixMillis(due[i]),
              absl::ToUnixMillis(due[i])};
      timers[static_cast<int32_t>(i % kPartitions)].push_back(t);
      clocks.push_back(std::move(clock));
    }
    for (auto& [p, list] : timers) Die(store.Schedule(p, list), "ZADD");
    Die(store.PutClocks(clocks), "clocks");
  }
}

std::vector<ClockPolicy> BreachOnly() {
  auto policies = ParsePolicies(YAML::Load("[{name: answer, kinds: [COMPLAINT], duration: 45d}]"));
  Die(policies.status(), "policies");
  return *policies;
}

// Fires every partition every 100 ms until `expected` events were appended or `limit` passed;
// returns the lateness of each (append acknowledged - due).
std::vector<double> FireUntil(DeadlineLogic& logic, kafka::Producer& producer, int64_t expected,
                              absl::Time limit) {
  std::vector<double> lateness;
  lateness.reserve(expected);
  while (static_cast<int64_t>(lateness.size()) < expected && absl::Now() < limit) {
    const absl::Time pass = absl::Now();
    for (int32_t p = 0; p < kPartitions; ++p) {
      auto fired = FireDue(logic, producer, p, FireOptions{.claim_limit = 500},
                           [&](const Firing& f, absl::Time appended) {
                             lateness.push_back(absl::ToDoubleSeconds(
                                 appended - absl::FromUnixMillis(f.timer.fire_ms)));
                           });
      Die(fired.status(), "firing");
    }
    const absl::Duration left = absl::Milliseconds(100) - (absl::Now() - pass);
    if (left > absl::ZeroDuration()) absl::SleepFor(left);
  }
  return lateness;
}

int Run(const Args& args) {
  auto redis = redis::Client::Create({.address = args.redis,
                                      .command_timeout = absl::Seconds(60),
                                      .scripts = {RedisTimerStore::ClaimScript()},
                                      .pool_size = kPartitions});
  Die(redis.status(), "redis");
  Die(kafka::EnsureTopics(args.kafka, {{events::kCaseEventsTopic, kPartitions, 1}},
                          absl::Seconds(60)),
      "topics");
  auto producer = kafka::Producer::Create({.brokers = args.kafka, .client_id = "deadline-bench"});
  Die(producer.status(), "producer");
  RedisTimerStore store(**redis);
  auto calendar = calendar::BusinessCalendar::Create({});
  Die(calendar.status(), "calendar");
  clock::SystemClock clock;
  DeadlineLogic logic(store, clock, *calendar, BreachOnly(), {.lease = absl::Seconds(30)});
  Die((*redis)->Command({"FLUSHALL"}).status(), "FLUSHALL");

  // 1. Memory per pending timer (with its clock record: the service keeps one per clock).
  const int64_t before = UsedMemory(**redis);
  {
    std::vector<absl::Time> due;
    const absl::Time far = absl::Now() + absl::Hours(24 * 400);
    for (int64_t i = 0; i < args.pending; ++i) due.push_back(far + absl::Seconds(i % 3'000'000));
    const absl::Time t0 = absl::Now();
    Load(store, "pending-", due);
    std::printf("loaded %lld pending timers with their clocks in %s\n",
                static_cast<long long>(args.pending),
                Ms(absl::ToDoubleSeconds(absl::Now() - t0)).c_str());
  }
  const int64_t after = UsedMemory(**redis);
  // The timer alone: the sorted-set entries of one partition's share.
  int64_t timer_bytes = 0;
  {
    auto usage =
        (*redis)->Command({"MEMORY", "USAGE", RedisTimerStore::TimersKey(0), "SAMPLES", "0"});
    auto card = (*redis)->Command({"ZCARD", RedisTimerStore::TimersKey(0)});
    if (usage.ok() && card.ok() && card->integer > 0) timer_bytes = usage->integer / card->integer;
  }
  std::printf(
      "| Redis memory, %lld pending timers with their clock records | %.0f bytes per "
      "timer + clock (%.0f MiB in all); the timer's sorted-set entry alone: %lld bytes |\n",
      static_cast<long long>(args.pending),
      static_cast<double>(after - before) / static_cast<double>(args.pending),
      static_cast<double>(after - before) / (1024.0 * 1024.0), static_cast<long long>(timer_bytes));

  std::fflush(stdout);
  // The producer warmed up first (metadata, producer id), as a running service's is.
  {
    std::vector<events::Envelope> warm;
    for (int i = 0; i < 60; ++i) {
      events::Envelope e = events::NewEnvelope(events::CaseIdFor("bench", absl::StrCat("warm", i)),
                                               "bench", absl::Now());
      e.mutable_case_withdrawn()->set_reason("warm-up");
      events::Finish(e, events::RandomId("warm"));
      warm.push_back(std::move(e));
    }
    Die(AppendAll(**producer, warm, absl::Seconds(30)), "warm-up");
  }

  // 2. Lateness at `rate` due per second for `seconds`, with the pending ones still there.
  {
    const int64_t n = args.rate * args.seconds;
    const absl::Time first = absl::Now() + absl::Seconds(5) + absl::Milliseconds(n / 20);
    std::vector<absl::Time> due;
    for (int64_t i = 0; i < n; ++i) due.push_back(first + absl::Seconds(1) * i / args.rate);
    Load(store, "steady-", due);
    if (absl::Now() > first) std::fprintf(stderr, "deadline_bench: loading overran the start\n");
    absl::SleepFor(first - absl::Now());
    std::vector<double> lateness = FireUntil(logic, **producer, n, due.back() + absl::Minutes(2));
    std::printf(
        "| Firing lateness at %lld due per second for %llds (%lld timers, %lld more "
        "pending) | p50 %s, p99 %s, max %s (%zu fired) |\n",
        static_cast<long long>(args.rate), static_cast<long long>(args.seconds),
        static_cast<long long>(n), static_cast<long long>(args.pending),
        Ms(Percentile(lateness, 0.5)).c_str(), Ms(Percentile(lateness, 0.99)).c_str(),
        Ms(Percentile(lateness, 1.0)).c_str(), lateness.size());
  }

  // 3. A burst: `burst` timers due at the same instant.
  {
    const absl::Time at = absl::Now() + absl::Seconds(3) + absl::Milliseconds(args.burst / 20);
    std::vector<absl::Time> due(static_cast<size_t>(args.burst), at);
    Load(store, "burst-", due);
    absl::SleepFor(at - absl::Now());
    std::vector<double> lateness = FireUntil(logic, **producer, args.burst, at + absl::Minutes(5));
    std::printf(
        "| %lld timers due at the same instant | drained %s after the instant (%zu "
        "fired; the median one %s) |\n",
        static_cast<long long>(args.burst), Ms(Percentile(lateness, 1.0)).c_str(), lateness.size(),
        Ms(Percentile(lateness, 0.5)).c_str());
  }

  // 4. Rebuild: complaints on the log under the shipped policies, then timers cleared and rebuilt.
  {
    YAML::Node config = YAML::LoadFile(args.policies);
    auto policies = ParsePolicies(config["deadline"]["clocks"]);
    Die(policies.status(), "shipped policies");
    DeadlineLogic shipped(store, clock, *calendar, *policies);
    // Timers per complaint under these policies.
    Die((*redis)->Command({"FLUSHALL"}).status(), "FLUSHALL");
    events::Envelope sample =
        events::NewEnvelope(events::CaseIdFor("bench", "sample"), "bench", absl::Now());
    sample.mutable_case_submitted()->mutable_draft()->set_kind(types::v1::COMPLAINT);
    events::Finish(sample, "sample");
    Die(shipped.OnEvent(sample, 0).status(), "sample");
    auto per_case = (*redis)->Command({"ZCARD", RedisTimerStore::TimersKey(0)});
    Die(per_case.status(), "ZCARD");
    const int64_t timers_per_case = std::max<int64_t>(1, per_case->integer);
    const int64_t cases = args.rebuild_cases;
    const absl::Time t0 = absl::Now();
    std::atomic<int64_t> failed{0};
    for (int64_t i = 0; i < cases; ++i) {
      events::Envelope e = events::NewEnvelope(
          events::CaseIdFor("bench", absl::StrCat("rebuild-", i)), "intake", absl::Now());
      auto* draft = e.mutable_case_submitted()->mutable_draft();
      draft->set_kind(types::v1::COMPLAINT);
      draft->set_category("staff-conduct");
      draft->set_description("A complaint written by the deadline benchmark.");
      events::Finish(e, events::DeterministicId("bench", {e.case_id()}));
      while (true) {
        absl::Status queued = (*producer)->SendAsync(events::ToRecord(events::kCaseEventsTopic, e),
                                                     [&failed](absl::StatusOr<kafka::Delivered> d) {
                                                       if (!d.ok()) ++failed;
                                                     });
        if (queued.ok()) break;
        absl::SleepFor(absl::Milliseconds(5));  // queue full: let it drain
      }
    }
    Die((*producer)->Flush(absl::Minutes(2)), "flush");
    std::printf("wrote %lld complaints to the log in %s (%lld failed)\n",
                static_cast<long long>(cases), Ms(absl::ToDoubleSeconds(absl::Now() - t0)).c_str(),
                static_cast<long long>(failed.load()));
    config::ServiceConfig service;
    service.kafka_brokers = args.kafka;
    service.case_events_partitions = kPartitions;
    // The raw rate: reading and decoding the same log with nothing done per record.
    absl::Time r0 = absl::Now();
    auto raw = service::ReplayCaseLog(
        service, "deadline-bench-raw", absl::Minutes(30),
        [](const events::Envelope&, const kafka::Record&) { return absl::OkStatus(); });
    Die(raw.status(), "raw read");
    const double raw_seconds = absl::ToDoubleSeconds(absl::Now() - r0);
    // The service's rebuild as RebuildTimers runs it (its clear included), with no live consumer
    // to stop and start.
    struct NoLiveConsumer final : service::LiveConsumer {
      absl::Status Start() override { return absl::OkStatus(); }
      void Stop() override {}
    } no_consumer;
    service::RebuildGuard guard(absl::Minutes(30));
    TimerRebuild rebuild(guard, store, store, shipped, no_consumer,
                         [&service](const events::BatchHandler& handle,
                                    const std::function<absl::Status()>& reached) {
                           return service::ReplayCaseLog(service, "deadline-bench-rebuild",
                                                         absl::Minutes(30), handle, kPartitions,
                                                         reached);
                         });
    absl::Time b0 = absl::Now();
    auto rebuilt = rebuild.Rebuild();
    Die(rebuilt.status(), "rebuild");
    const double rebuild_seconds = absl::ToDoubleSeconds(absl::Now() - b0);
    int64_t timers = 0;
    for (int32_t p = 0; p < kPartitions; ++p) {
      auto card = (*redis)->Command({"ZCARD", RedisTimerStore::TimersKey(p)});
      if (card.ok()) timers += card->integer;
    }
    std::printf(
        "| Rebuild from the log: %lld events (%lld complaints, %lld timers each) | %lld "
        "timers in %.1f s = %.0f events/s; the raw read of the same log: %.1f s = %.0f "
        "events/s |\n",
        static_cast<long long>(*rebuilt), static_cast<long long>(cases),
        static_cast<long long>(timers_per_case), static_cast<long long>(timers), rebuild_seconds,
        static_cast<double>(*rebuilt) / rebuild_seconds, raw_seconds,
        static_cast<double>(*raw) / raw_seconds);
  }
  return 0;
}

}  // namespace
}  // namespace meldpunt::deadline

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // figures appear as they are measured
  meldpunt::deadline::Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    auto number = [&](int64_t* out) {
      if (!absl::SimpleAtoi(value, out) || *out < 1) {
        std::fprintf(stderr, "deadline_bench: %s: a positive number\n", flag.c_str());
        std::exit(2);
      }
    };
    if (flag == "--redis")
      args.redis = value;
    else if (flag == "--kafka")
      args.kafka = value;
    else if (flag == "--policies")
      args.policies = value;
    else if (flag == "--pending")
      number(&args.pending);
    else if (flag == "--rate")
      number(&args.rate);
    else if (flag == "--seconds")
      number(&args.seconds);
    else if (flag == "--burst")
      number(&args.burst);
    else if (flag == "--rebuild-cases")
      number(&args.rebuild_cases);
    else {
      std::fprintf(stderr, "deadline_bench: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  return meldpunt::deadline::Run(args);
}
