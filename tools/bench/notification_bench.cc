// Notification's delivery figures against a real redis-server, Kafka broker and the local webhook
// sink (all started by `tools/dev bench notification`):
//   0. raw baseline: the same number of POSTs of the same payload straight to the sink with
//      WebhookSender::Send from as many threads as there are workers (no outbox, no Redis, no
//      templates, no Kafka): the sink's own ceiling;
//   1. max rate: N CaseSubmitted + CaseRouted pairs through NotificationLogic::Handle as fast as
//      one thread can (the consumer), while a dispatcher + worker pool shaped like app.cc's sends
//      the dispatch letters as webhooks: deliveries per second and event-to-delivery latency;
//   2. fixed rate: the same at about half the measured max rate for ~10 s: latency.
// Everything goes through the service's own path: RedisDeliveryStore (the Lua lease claim), the
// shipped templates, WebhookSender (signing, address checks, one connection per request) and,
// with --kafka, NotificationDelivered appended to the case log with acks=all.
//
//   notification_bench --redis 127.0.0.1:6390 --webhook http://127.0.0.1:8025
//       [--kafka 127.0.0.1:9093] [--templates services/notification/templates]
//       [--messages 5000] [--workers 8] [--rate N] [--seconds 10] [--departments 8]
//       [--poll-ms 50]
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "libs/clock/clock.h"
#include "libs/events/codec.h"
#include "libs/events/event_log.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/kafka/admin.h"
#include "libs/kafka/producer.h"
#include "libs/observability/log.h"
#include "libs/redis/lease_queue.h"
#include "libs/redis/redis.h"
#include "services/notification/delivery_store.h"
#include "services/notification/mailer.h"
#include "services/notification/notification_logic.h"
#include "services/notification/rules.h"
#include "services/notification/senders.h"
#include "services/notification/templates.h"
#include "services/notification/webhook.h"
#include "yaml-cpp/yaml.h"

namespace meldpunt::notification {
namespace {

namespace t = ::meldpunt::types::v1;

constexpr int kPartitions = 6;
constexpr char kSecretEnv[] = "BENCH_WEBHOOK_SECRET";
constexpr char kSecret[] = "meldpunt-bench-webhook-secret";

struct Args {
  std::string redis = "127.0.0.1:6379";
  std::string webhook = "http://127.0.0.1:8025";
  std::string kafka;  // empty: appends only counted in memory
  std::string templates;
  int64_t messages = 5000;
  int64_t workers = 8;
  int64_t rate = 0;  // 0: half the measured max rate
  int64_t seconds = 10;
  int64_t departments = 8;
  int64_t poll_ms = 50;  // notification.poll_interval as shipped
};

void Die(const absl::Status& status, const char* what) {
  if (status.ok()) return;
  std::fprintf(stderr, "notification_bench: %s: %s\n", what, status.ToString().c_str());
  std::exit(1);
}

std::string Ms(double seconds) {
  if (seconds < 0.0095) return absl::StrCat(std::lround(seconds * 10000.0) / 10.0, " ms");
  return absl::StrCat(std::lround(seconds * 1000.0), " ms");
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

// The case log without Kafka: appends are counted, never written.
class CountingLog final : public events::EventLog {
 public:
  absl::StatusOr<events::Appended> Append(const events::Envelope&, absl::Time) override {
    ++appended_;
    return events::Appended{};
  }

 private:
  std::atomic<int64_t> appended_{0};
};

// No rule here sends e-mail.
class NoMailer final : public Mailer {
 public:
  absl::Status Send(const Email&) override {
    return absl::InvalidArgumentError("the benchmark sends no e-mail");
  }
};

// The service's senders (services/notification/senders.h) over every partition, with the figures
// of each attempt collected.
class Pool {
 public:
  Pool(NotificationLogic& logic, DeliveryStore& store, int workers, absl::Duration poll)
      : senders_(logic, store, {.workers = workers, .poll_interval = poll},
                 [this](const std::string&, const absl::StatusOr<AttemptOutcome>& outcome,
                        absl::Duration took) { Observe(outcome, took); }) {
    std::vector<int32_t> all;
    for (int32_t p = 0; p < kPartitions; ++p) all.push_back(p);
    senders_.Assign(all);
  }
  ~Pool() { Stop(); }

  void Start() { senders_.Start(); }
  void Stop() { senders_.Stop(); }

  void Reset() {
    absl::MutexLock lock(&mu_);
    latencies_.clear();
    attempt_seconds_.clear();
    outcomes_.clear();
    finished_ = 0;
  }

  // Waits until `n` messages were delivered or dead-lettered, or nothing happened for `stall`.
  // Returns the time the last of them finished.
  absl::Time WaitFor(int64_t n, absl::Duration stall) {
    int64_t seen = -1;
    absl::Time progress = absl::Now();
    while (true) {
      int64_t done = 0;
      int64_t attempts = 0;
      {
        absl::MutexLock lock(&mu_);
        done = finished_;
        for (const auto& [status, count] : outcomes_) attempts += count;
        if (done >= n) return last_;
      }
      if (attempts != seen) {
        seen = attempts;
        progress = absl::Now();
      } else if (absl::Now() - progress > stall) {
        absl::MutexLock lock(&mu_);
        std::fprintf(stderr, "notification_bench: stalled at %lld of %lld messages\n",
                     static_cast<long long>(done), static_cast<long long>(n));
        return last_;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  }

  std::vector<double> Latencies() {
    absl::MutexLock lock(&mu_);
    return latencies_;
  }

  // How long one worker spent in Attempt (send, Redis writes, the append), every outcome.
  std::vector<double> AttemptSeconds() {
    absl::MutexLock lock(&mu_);
    return attempt_seconds_;
  }

  // "" when every attempt delivered; else e.g. " (also: 3 deferred, 1 error)".
  std::string Others() {
    absl::MutexLock lock(&mu_);
    std::string out;
    for (const auto& [status, count] : outcomes_) {
      if (status == "delivered") continue;
      absl::StrAppend(&out, out.empty() ? "; also: " : ", ", count, " ", status);
    }
    return out;
  }

 private:
  void Observe(const absl::StatusOr<AttemptOutcome>& outcome, absl::Duration took) {
    const absl::Time now = absl::Now();
    absl::MutexLock lock(&mu_);
    attempt_seconds_.push_back(absl::ToDoubleSeconds(took));
    if (!outcome.ok()) {
      if (outcomes_["error"]++ == 0) {
        std::fprintf(stderr, "notification_bench: attempt: %s\n",
                     outcome.status().ToString().c_str());
      }
      return;
    }
    ++outcomes_[outcome->status];
    if (outcome->status == "delivered" || outcome->status == "dead_lettered") {
      ++finished_;
      last_ = now;
    }
    if (outcome->status == "delivered")
      latencies_.push_back(absl::ToDoubleSeconds(outcome->since_event));
  }

  absl::Mutex mu_;
  std::vector<double> latencies_ ABSL_GUARDED_BY(mu_);
  std::vector<double> attempt_seconds_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> outcomes_ ABSL_GUARDED_BY(mu_);
  int64_t finished_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  Senders senders_;  // last: its threads stop before the figures go
};

// One case: submitted, then routed to a bench department, both "now"; Handle queues one dispatch
// letter (a webhook to /bench/<department>).
class Cases {
 public:
  Cases(NotificationLogic& logic, int64_t departments)
      : logic_(logic), departments_(departments), tag_(events::RandomId("run")) {}

  void Submit(const std::string& label, int64_t i) {
    const std::string case_id = events::CaseIdFor("bench", absl::StrCat(tag_, "-", label, "-", i));
    const int32_t partition = static_cast<int32_t>(i % kPartitions);
    events::Envelope submitted = events::NewEnvelope(case_id, "intake", absl::Now());
    auto* s = submitted.mutable_case_submitted();
    s->set_submitting_system("bench");
    s->set_request_key(absl::StrCat(label, "-", i));
    auto* draft = s->mutable_draft();
    draft->set_kind(t::REPORT);
    draft->set_category("public-lighting");
    draft->set_description(
        "The street light in front of number 12 has been out for a week; the street is dark at "
        "night and people trip over the kerb. Written by the notification benchmark.");
    draft->mutable_location()->set_address("Kerkstraat 12, 9000 Gent");
    draft->set_priority(t::NORMAL);
    draft->mutable_reporter()->set_name("Bench Reporter");
    draft->mutable_reporter()->set_email("reporter@example.org");
    events::Finish(submitted, events::DeterministicId("submitted", {case_id}));
    Die(logic_.Handle(submitted, partition), "Handle(CaseSubmitted)");

    events::Envelope routed = events::NewEnvelope(case_id, "routing", absl::Now());
    routed.set_causation_id(submitted.event_id());
    auto* r = routed.mutable_case_routed();
    r->set_department(absl::StrCat("bench-", i % departments_));
    r->set_priority(t::HIGH);
    events::Finish(routed, events::DeterministicId("routed", {case_id}));
    Die(logic_.Handle(routed, partition), "Handle(CaseRouted)");
    last_case_ = case_id;
  }

  const std::string& last_case() const { return last_case_; }

 private:
  NotificationLogic& logic_;
  const int64_t departments_;
  const std::string tag_;
  std::string last_case_;
};

struct Raw {
  double per_second = 0;
  std::vector<double> latencies;
  int64_t failed = 0;
};

// `n` POSTs of `body` straight to the sink from `threads` threads.
Raw RawPosts(const WebhookSender& sender, const std::string& url, const std::string& body,
             int64_t n, int threads) {
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> failed{0};
  absl::Mutex mu;
  std::vector<double> latencies;
  const std::string tag = events::RandomId("raw");
  const absl::Time t0 = absl::Now();
  std::vector<std::thread> pool;
  for (int w = 0; w < threads; ++w) {
    pool.emplace_back([&] {
      std::vector<double> mine;
      for (int64_t i = next++; i < n; i = next++) {
        const absl::Time start = absl::Now();
        absl::Status sent = sender.Send({absl::StrCat(url, "/bench/raw"), kSecret},
                                        {absl::StrCat(tag, "-", i), body, absl::Now(), "MP-RAW"});
        if (!sent.ok()) {
          if (failed++ == 0)
            std::fprintf(stderr, "notification_bench: raw POST: %s\n", sent.ToString().c_str());
          continue;
        }
        mine.push_back(absl::ToDoubleSeconds(absl::Now() - start));
      }
      absl::MutexLock lock(&mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& th : pool) th.join();
  Raw raw;
  raw.per_second = static_cast<double>(latencies.size()) / absl::ToDoubleSeconds(absl::Now() - t0);
  raw.latencies = std::move(latencies);
  raw.failed = failed.load();
  return raw;
}

int Run(const Args& args) {
  log::Init("notification-bench", log::Level::kWarning);  // no info line per message
  const int workers = static_cast<int>(args.workers);
  auto redis = redis::Client::Create({.address = args.redis,
                                      .command_timeout = absl::Seconds(10),
                                      .scripts = {redis::LeaseClaimScript()},
                                      .pool_size = workers + 4});
  Die(redis.status(), "redis");
  Die((*redis)->Command({"FLUSHALL"}).status(), "FLUSHALL");
  RedisDeliveryStore store(**redis);

  std::unique_ptr<kafka::Producer> producer;
  std::unique_ptr<events::EventLog> case_log;
  std::unique_ptr<events::EventLog> dead_letters;
  if (!args.kafka.empty()) {
    Die(kafka::EnsureTopics(args.kafka,
                            {{events::kCaseEventsTopic, kPartitions, 1},
                             {events::kNotificationDeadLetterTopic, 1, 1}},
                            absl::Seconds(60)),
        "topics");
    auto created =
        kafka::Producer::Create({.brokers = args.kafka, .client_id = "notification-bench"});
    Die(created.status(), "producer");
    producer = std::move(*created);
    case_log = std::make_unique<events::KafkaEventLog>(*producer);
    dead_letters =
        std::make_unique<events::KafkaEventLog>(*producer, events::kNotificationDeadLetterTopic);
  } else {
    case_log = std::make_unique<CountingLog>();
    dead_letters = std::make_unique<CountingLog>();
  }

  std::string dir = args.templates;
  if (dir.empty()) {
    const char* source = std::getenv("MELDPUNT_SOURCE_DIR");
    dir = absl::StrCat(source ? source : ".", "/services/notification/templates");
  }
  auto templates = Templates::Load(dir);
  Die(templates.status(), "templates");
  Die(templates->Check({"dispatch"}), "templates");

  YAML::Node recipients;
  for (int64_t i = 0; i < args.departments; ++i) {
    YAML::Node r;
    r["webhook"] = absl::StrCat(args.webhook, "/bench/", i);
    r["secret_env"] = kSecretEnv;
    recipients[absl::StrCat("department:bench-", i)] = r;
  }
  auto rules = ParseRules(YAML::Load("[{on: CaseRouted, to: department, template: dispatch}]"),
                          recipients, [](const std::string& name) -> std::optional<std::string> {
                            if (name == kSecretEnv) return std::string(kSecret);
                            return std::nullopt;
                          });
  Die(rules.status(), "rules");

  auto sender = WebhookSender::Create({.allow_private = {"127.0.0.0/8"}});
  Die(sender.status(), "webhook sender");
  NoMailer mailer;
  clock::SystemClock clock;
  // Backoff and notification.retry_for as shipped (no bound on the attempts, as in the service).
  // Every department's webhook is on the one sink, so the per-host cap (2 as shipped) would
  // hold all workers to 2: it is set to the number of workers here.
  NotificationLogic logic(*templates, *rules, mailer,
                          [&sender](const WebhookTarget& target, const WebhookMessage& message) {
                            return sender->Send(target, message);
                          },
                          store, *case_log, *dead_letters, clock,
                          {.first_backoff = absl::Seconds(2),
                           .max_backoff = absl::Minutes(10),
                           .retry_for = absl::Hours(24),
                           .max_in_flight_per_host = workers});
  Cases cases(logic, args.departments);

  // Warm-up: one message through the whole path by hand (it also gives the payload's size, and
  // the producer its metadata and id, as a running service's has).
  std::string payload;
  {
    cases.Submit("warm", 0);
    auto jobs = store.Claim(0, absl::Now(), absl::Minutes(2), 10);
    Die(jobs.status(), "warm-up claim");
    if (jobs->size() != 1) Die(absl::InternalError("no message queued"), "warm-up");
    payload = (*jobs)[0].payload();
    auto outcome = logic.Attempt((*jobs)[0]);
    Die(outcome.status(), "warm-up attempt");
    if (outcome->status != "delivered")
      Die(absl::UnavailableError(outcome->status), "warm-up delivery to the sink");
  }
  const std::string setup = absl::StrCat(
      workers, " workers, poll ", args.poll_ms, " ms, max_in_flight_per_host ", workers, ", ",
      args.departments, " departments on one sink, ",
      args.kafka.empty() ? "case-log appends counted in memory (Kafka not part of this figure)"
                         : "NotificationDelivered appended to Kafka with acks=all");

  // 0. The sink's own ceiling.
  {
    Raw raw = RawPosts(*sender, args.webhook, payload, args.messages, workers);
    std::printf(
        "| Raw baseline: %lld POSTs of %zu bytes straight to the webhook sink, WebhookSender::Send "
        "from %d threads (no outbox, Redis, templates or Kafka) | %.0f requests/s; p50 %s, p99 "
        "%s%s |\n",
        static_cast<long long>(args.messages), payload.size(), workers, raw.per_second,
        Ms(Percentile(raw.latencies, 0.5)).c_str(), Ms(Percentile(raw.latencies, 0.99)).c_str(),
        raw.failed ? absl::StrCat("; ", raw.failed, " failed").c_str() : "");
  }

  Pool pool(logic, store, workers, absl::Milliseconds(args.poll_ms));
  pool.Start();

  // 1. Max rate.
  double max_rate = 0;
  {
    pool.Reset();
    const absl::Time t0 = absl::Now();
    for (int64_t i = 0; i < args.messages; ++i) cases.Submit("max", i);
    const double queue_seconds = absl::ToDoubleSeconds(absl::Now() - t0);
    const absl::Time last = pool.WaitFor(args.messages, absl::Seconds(30));
    const std::vector<double> latency = pool.Latencies();
    const std::vector<double> attempt = pool.AttemptSeconds();
    const double wall = absl::ToDoubleSeconds(last - t0);
    max_rate = static_cast<double>(latency.size()) / wall;
    std::printf(
        "| Max rate: %lld CaseSubmitted + CaseRouted pairs through Handle (one thread, all queued "
        "in %.1f s), each a dispatch webhook to the sink (%s) | %.0f deliveries/s (%zu in %.1f "
        "s); event to delivery p50 %s, p99 %s, max %s; one attempt (send, Redis, append) p50 %s, "
        "p99 %s%s |\n",
        static_cast<long long>(args.messages), queue_seconds, setup.c_str(), max_rate,
        latency.size(), wall, Ms(Percentile(latency, 0.5)).c_str(),
        Ms(Percentile(latency, 0.99)).c_str(), Ms(Percentile(latency, 1.0)).c_str(),
        Ms(Percentile(attempt, 0.5)).c_str(), Ms(Percentile(attempt, 0.99)).c_str(),
        pool.Others().c_str());
  }

  // 2. A fixed rate: about half the max.
  {
    const int64_t rate =
        args.rate > 0 ? args.rate : std::max<int64_t>(1, std::llround(max_rate / 2.0));
    const int64_t n = rate * args.seconds;
    pool.Reset();
    const absl::Time t0 = absl::Now() + absl::Milliseconds(100);
    absl::Duration behind = absl::ZeroDuration();
    for (int64_t i = 0; i < n; ++i) {
      const absl::Time at = t0 + absl::Seconds(1) * i / rate;
      const absl::Time now = absl::Now();
      if (at > now)
        absl::SleepFor(at - now);
      else
        behind = std::max(behind, now - at);
      cases.Submit("fixed", i);
    }
    const double submit_seconds = absl::ToDoubleSeconds(absl::Now() - t0);
    pool.WaitFor(n, absl::Seconds(30));
    const std::vector<double> latency = pool.Latencies();
    std::printf(
        "| Fixed rate: %lld pairs per second for %llds (%lld messages; %s) | event to delivery "
        "p50 %s, p99 %s, max %s (%zu delivered; submitted at %.0f/s, at most %s behind "
        "schedule%s) |\n",
        static_cast<long long>(rate), static_cast<long long>(args.seconds),
        static_cast<long long>(n), setup.c_str(), Ms(Percentile(latency, 0.5)).c_str(),
        Ms(Percentile(latency, 0.99)).c_str(), Ms(Percentile(latency, 1.0)).c_str(), latency.size(),
        static_cast<double>(n) / submit_seconds, Ms(absl::ToDoubleSeconds(behind)).c_str(),
        pool.Others().c_str());
  }
  pool.Stop();
  if (producer) Die(producer->Flush(absl::Seconds(30)), "flush");
  return 0;
}

}  // namespace
}  // namespace meldpunt::notification

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // figures appear as they are measured
  meldpunt::notification::Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    auto number = [&](int64_t* out) {
      if (!absl::SimpleAtoi(value, out) || *out < 1) {
        std::fprintf(stderr, "notification_bench: %s: a positive number\n", flag.c_str());
        std::exit(2);
      }
    };
    if (flag == "--redis")
      args.redis = value;
    else if (flag == "--webhook")
      args.webhook = value;
    else if (flag == "--kafka")
      args.kafka = value;
    else if (flag == "--templates")
      args.templates = value;
    else if (flag == "--messages")
      number(&args.messages);
    else if (flag == "--workers")
      number(&args.workers);
    else if (flag == "--rate")
      number(&args.rate);
    else if (flag == "--seconds")
      number(&args.seconds);
    else if (flag == "--departments")
      number(&args.departments);
    else if (flag == "--poll-ms")
      number(&args.poll_ms);
    else {
      std::fprintf(stderr, "notification_bench: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (argc % 2 == 0) {
    std::fprintf(stderr, "notification_bench: %s needs a value\n", argv[argc - 1]);
    return 2;
  }
  return meldpunt::notification::Run(args);
}
