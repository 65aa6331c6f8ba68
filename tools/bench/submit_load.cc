// The pipeline benchmark's load generator: SubmitCase calls, each a new case, at a fixed rate or
// as fast as `--concurrency` calls in flight allow, from gRPC's C++ callback client. On the
// 2-core benchmark machine the load generator shares the cores with the stack it loads: ghz
// spends 0.35-0.45 ms of CPU a call there (its Go client and the call's JSON made into protobuf
// each time), a third of a core at 1,000 calls a second that the stack then does not get. This
// client parses the request once and gives each call a fresh request key.
//
//   submit_load --target HOST:PORT --request JSON [--seconds 10] [--rps 0] [--concurrency 50]
//               [--connections 4] [--geo] [--out FILE] [--trace FILE]
//
// --request is a SubmitCaseRequest in protobuf's JSON form (tools/bench/bench.py passes its
// DRAFT, the one its ghz calls send); its request_key is replaced, call by call, by
// "<submitting system>-<run>-<n>".
// --rps 0 is as fast as it goes. Calls are started for `--seconds`; the ones in flight then are
// waited for (they are cases on the log either way) and counted. --geo gives each report a point
// in a square of about 10 by 6 km, as tools/bench/bench.py's --geo does with ghz. The report
// (JSON, to --out or stdout): the calls started and their outcomes by status code, the seconds
// the calls were started over, OK calls a second over them, and the OK calls' latency
// percentiles in milliseconds. --trace writes each OK call's start (milliseconds after the first
// call) and latency (milliseconds), "start latency" a line, in the order they finished.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "google/protobuf/util/json_util.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace v1 = meldpunt::intake::v1;

struct Options {
  std::string target;
  std::string request;  // JSON
  double seconds = 10;
  double rps = 0;
  int concurrency = 50;
  int connections = 4;
  bool geo = false;
  std::string out;
  std::string trace;  // each OK call's start (ms after the first) and latency (ms), a line each
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "submit_load: %s\nusage: submit_load --target HOST:PORT --request JSON "
               "[--seconds 10] [--rps 0] [--concurrency 50] [--connections 4] [--geo] "
               "[--out FILE] [--trace FILE]\n",
               why);
  std::exit(2);
}

double Number(const char* flag, const char* text, double min) {
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(v >= min)) {
    char why[96];
    std::snprintf(why, sizeof why, "%s takes a number of at least %g", flag, min);
    Usage(why);
  }
  return v;
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--geo") {
      o.geo = true;
      continue;
    }
    if (i + 1 >= argc) Usage((flag + " needs a value").c_str());
    const char* value = argv[++i];
    if (flag == "--target") {
      o.target = value;
    } else if (flag == "--request") {
      o.request = value;
    } else if (flag == "--seconds") {
      o.seconds = Number("--seconds", value, 0.001);
    } else if (flag == "--rps") {
      o.rps = Number("--rps", value, 0);
    } else if (flag == "--concurrency") {
      o.concurrency = static_cast<int>(Number("--concurrency", value, 1));
    } else if (flag == "--connections") {
      o.connections = static_cast<int>(Number("--connections", value, 1));
    } else if (flag == "--out") {
      o.out = value;
    } else if (flag == "--trace") {
      o.trace = value;
    } else {
      Usage(("unknown flag " + flag).c_str());
    }
  }
  if (o.target.empty()) Usage("--target is required");
  if (o.request.empty()) Usage("--request is required");
  return o;
}

// The calls in flight, bounded by --concurrency, and what came back.
class Tally {
 public:
  explicit Tally(int limit) : limit_(limit) {}

  void Acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ < limit_; });
    ++in_flight_;
  }

  // A slot taken and not used.
  void Release() {
    std::lock_guard lock(mu_);
    --in_flight_;
    cv_.notify_all();
  }

  // A call started at `started` came back now with `code`.
  void Done(grpc::StatusCode code, Clock::time_point started) {
    const Clock::time_point now = Clock::now();
    std::lock_guard lock(mu_);
    ++codes_[code];
    if (code == grpc::StatusCode::OK) ok_.push_back({started, now - started});
    --in_flight_;
    cv_.notify_all();
  }

  void WaitAll() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ == 0; });
  }

  std::map<grpc::StatusCode, int64_t> codes() const { return codes_; }
  struct Ok {
    Clock::time_point started;
    Clock::duration latency;
  };
  // The OK calls, in the order they came back.
  std::vector<Ok> ok() const { return ok_; }

 private:
  const int limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
  std::map<grpc::StatusCode, int64_t> codes_;
  std::vector<Ok> ok_;
};

struct Call {
  grpc::ClientContext context;
  v1::SubmitCaseRequest request;
  v1::SubmitCaseResponse response;
  Clock::time_point started;
};

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "Canceled";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "InvalidArgument";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DeadlineExceeded";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "AlreadyExists";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PermissionDenied";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "ResourceExhausted";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FailedPrecondition";
    case grpc::StatusCode::UNAVAILABLE:
      return "Unavailable";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "Unauthenticated";
    case grpc::StatusCode::INTERNAL:
      return "Internal";
    default:
      return "Code" + std::to_string(static_cast<int>(code));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);

  std::vector<std::unique_ptr<v1::Intake::Stub>> stubs;
  for (int i = 0; i < o.connections; ++i) {
    grpc::ChannelArguments args;
    // A connection of its own for each channel (as ghz --connections), not one shared one.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    stubs.push_back(v1::Intake::NewStub(
        grpc::CreateCustomChannel(o.target, grpc::InsecureChannelCredentials(), args)));
  }

  std::random_device seed;
  std::mt19937_64 random(seed());
  char run[17];
  std::snprintf(run, sizeof run, "%016llx", static_cast<unsigned long long>(random()));
  std::uniform_int_distribution<int> fraction(10000, 99999);
  v1::SubmitCaseRequest base;
  if (auto parsed = google::protobuf::util::JsonStringToMessage(o.request, &base); !parsed.ok()) {
    Usage(("--request is not a SubmitCaseRequest: " + parsed.ToString()).c_str());
  }
  if (base.submitting_system().empty()) Usage("--request names no submittingSystem");

  Tally tally(o.concurrency);
  const Clock::time_point start = Clock::now();
  const Clock::time_point end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  int64_t started = 0;
  Clock::time_point last = start;
  for (;; ++started) {
    if (o.rps > 0) {
      const Clock::time_point due =
          start + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(static_cast<double>(started) / o.rps));
      if (due >= end) break;
      std::this_thread::sleep_until(due);
    }
    tally.Acquire();
    last = Clock::now();
    if (last >= end) {
      tally.Release();
      break;
    }
    auto* call = new Call;
    call->request = base;
    call->request.set_request_key(base.submitting_system() + "-" + run + "-" +
                                  std::to_string(started));
    if (o.geo) {
      auto* where = call->request.mutable_draft()->mutable_location();
      where->set_has_coordinates(true);
      where->set_latitude(51.0 + fraction(random) / 1e6);
      where->set_longitude(3.7 + fraction(random) / 1e6);
    }
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    call->started = last;
    stubs[started % stubs.size()]->async()->SubmitCase(
        &call->context, &call->request, &call->response, [call, &tally](grpc::Status status) {
          tally.Done(status.error_code(), call->started);
          delete call;
        });
  }
  const double seconds = std::chrono::duration<double>(last - start).count();
  tally.WaitAll();

  std::map<grpc::StatusCode, int64_t> codes = tally.codes();
  const std::vector<Tally::Ok> oks = tally.ok();
  if (!o.trace.empty()) {
    std::ofstream trace(o.trace);
    for (const Tally::Ok& call : oks) {
      trace << std::chrono::duration<double, std::milli>(call.started - start).count() << ' '
            << std::chrono::duration<double, std::milli>(call.latency).count() << '\n';
    }
  }
  std::vector<Clock::duration> latencies;
  latencies.reserve(oks.size());
  for (const Tally::Ok& call : oks) latencies.push_back(call.latency);
  std::sort(latencies.begin(), latencies.end());
  // In milliseconds; null without an OK call.
  auto percentile = [&](double p) -> std::string {
    if (latencies.empty()) return "null";
    const size_t i = std::min(latencies.size() - 1,
                              static_cast<size_t>(static_cast<double>(latencies.size()) * p / 100));
    char ms[32];
    std::snprintf(ms, sizeof ms, "%.3f",
                  std::chrono::duration<double, std::milli>(latencies[i]).count());
    return ms;
  };
  const int64_t ok = codes.count(grpc::StatusCode::OK) ? codes[grpc::StatusCode::OK] : 0;
  std::string report = "{\"started\": " + std::to_string(started) + ", \"codes\": {";
  bool first = true;
  for (const auto& [code, n] : codes) {
    if (n == 0) continue;
    report += std::string(first ? "" : ", ") + "\"" + CodeName(code) + "\": " + std::to_string(n);
    first = false;
  }
  char tail[256];
  std::snprintf(tail, sizeof tail,
                "}, \"ok\": %lld, \"seconds\": %.3f, \"ok_per_second\": %.1f, "
                "\"p50_ms\": %s, \"p99_ms\": %s, \"p999_ms\": %s}\n",
                static_cast<long long>(ok), seconds, seconds > 0 ? ok / seconds : 0.0,
                percentile(50).c_str(), percentile(99).c_str(), percentile(99.9).c_str());
  report += tail;
  if (o.out.empty()) {
    std::fputs(report.c_str(), stdout);
  } else {
    std::ofstream(o.out) << report;
  }
  return ok > 0 ? 0 : 1;
}
