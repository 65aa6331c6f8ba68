#include "tools/chaos/load.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "nlohmann/json.hpp"

namespace meldpunt::chaos {
namespace {

namespace t = ::meldpunt::types::v1;

constexpr const char* kCategories[] = {"street-lighting", "roads", "noise",   "waste-collection",
                                       "illegal-dumping", "parks", "parking", "service-quality"};

bool Retryable(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::CANCELLED:
      return true;
    default:
      return false;
  }
}

intake::v1::SubmitCaseRequest Request(const std::string& key, int64_t n, bool nearby) {
  intake::v1::SubmitCaseRequest r;
  r.set_submitting_system("chaos-load");
  r.set_request_key(key);
  auto* d = r.mutable_draft();
  // Reports and complaints: both get the acknowledgement, a dispatch and two clocks.
  const bool complaint = n % 4 == 3;
  d->set_kind(complaint ? t::COMPLAINT : t::REPORT);
  d->set_channel(t::WEB);
  d->set_category(complaint ? "service-quality" : kCategories[n % 7]);
  d->set_description(absl::StrCat("Chaos case ", n, ": the street light in front of number ",
                                  n % 200 + 1, " has been out for a week"));
  // A postcode, and coordinates only in a --nearby load: the others leave duplicate linking out.
  d->mutable_location()->set_postcode("9000");
  if (nearby) {
    const Point p = NearbyPoint(n);
    d->mutable_location()->set_has_coordinates(true);
    d->mutable_location()->set_latitude(p.latitude);
    d->mutable_location()->set_longitude(p.longitude);
  }
  d->mutable_reporter()->set_name("Chaos Tester");
  d->mutable_reporter()->set_email(absl::StrCat("chaos+", key, "@example.org"));
  d->mutable_reporter()->set_language(t::NL);
  return r;
}

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

}  // namespace

Point NearbyPoint(int64_t n) {
  const int64_t block = n / 56, k = n % 56;
  const int64_t spot = (k / 7) % 2;
  // A spread of the points around their spot that depends on n alone (Knuth's multiplicative
  // hash): within 0.0001 degrees of latitude (11.1 m) and 0.00016 of longitude (11.2 m here).
  const uint32_t h = static_cast<uint32_t>(n) * 2654435761u;
  const double jy = static_cast<double>(h >> 16) / 65535.0 * 2 - 1;
  const double jx = static_cast<double>(h & 0xffff) / 65535.0 * 2 - 1;
  return {51.0 + static_cast<double>(block / 20) * 0.01 + static_cast<double>(spot) * 0.0011 +
              jy * 0.0001,
          3.65 + static_cast<double>(block % 20) * 0.015 + jx * 0.00016};
}

LoadSummary RunLoad(const LoadOptions& options) {
  LoadSummary summary;
  std::ofstream ledger(options.ledger, std::ios::app);
  std::mutex ledger_mu;
  auto channel = grpc::CreateChannel(options.intake, grpc::InsecureChannelCredentials());
  auto stub = intake::v1::Intake::NewStub(channel);

  const absl::Time start = absl::Now();
  const absl::Time stop_issuing = start + options.duration;
  // A submission that keeps failing is retried with its key until this; then it is given up
  // (and counted), never silently dropped from the figures.
  const absl::Time give_up = stop_issuing + options.retry_for;
  const int64_t total =
      static_cast<int64_t>(absl::ToDoubleSeconds(options.duration) * options.rate);
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> ok{0}, created{0}, repeated{0}, rejected{0}, gave_up{0}, retries{0},
      ryw_misses{0};
  std::mutex errors_mu;
  std::map<std::string, int64_t> errors;

  auto worker = [&] {
    while (true) {
      const int64_t n = next.fetch_add(1);
      if (n >= total) return;
      // Paced: case n is due at start + n / rate.
      const absl::Time due = start + absl::Seconds(static_cast<double>(n) / options.rate);
      if (absl::Now() < due) absl::SleepFor(due - absl::Now());
      const std::string key = absl::StrCat(options.key_prefix, "-", n);
      const auto request = Request(key, n, options.nearby);
      const int64_t first_ms = NowMs();
      int attempts = 0;
      absl::Duration backoff = absl::Milliseconds(200);
      while (true) {
        ++attempts;
        grpc::ClientContext context;
        context.set_deadline(absl::ToChronoTime(absl::Now() + options.call_timeout));
        intake::v1::SubmitCaseResponse response;
        const grpc::Status status = stub->SubmitCase(&context, request, &response);
        if (status.ok()) {
          ok.fetch_add(1);
          (response.created() ? created : repeated).fetch_add(1);
          // Read-your-writes: the submitter sees its case at once.
          bool seen = false;
          std::string ryw_error;
          // While the intake is down (killed, restarting) there is no answer to miss: keep asking
          // for up to 30 s; an answer without the case (NOT_FOUND) is a miss at once.
          for (int i = 0; i < 120 && !seen; ++i) {
            grpc::ClientContext get_context;
            get_context.set_deadline(absl::ToChronoTime(absl::Now() + options.call_timeout));
            // Wait for the channel to reconnect rather than fail fast during its backoff.
            get_context.set_wait_for_ready(true);
            intake::v1::GetCaseRequest get;
            get.set_case_id(response.case_id());
            intake::v1::GetCaseResponse got;
            const grpc::Status get_status = stub->GetCase(&get_context, get, &got);
            if (get_status.ok()) {
              seen = true;
            } else if (get_status.error_code() == grpc::StatusCode::NOT_FOUND) {
              ryw_error = "NOT_FOUND";
              break;  // the projection answered without the case: a real miss
            } else {
              ryw_error = get_status.error_message();
              absl::SleepFor(absl::Milliseconds(250));  // intake unreachable: not a miss yet
            }
          }
          if (!seen) ryw_misses.fetch_add(1);
          nlohmann::json line = {{"key", key},
                                 {"case_id", response.case_id()},
                                 {"reference", response.reference()},
                                 {"kind", t::CaseKind_Name(request.draft().kind())},
                                 {"email", request.draft().reporter().email()},
                                 {"first_ms", first_ms},
                                 {"ok_ms", NowMs()},
                                 {"attempts", attempts},
                                 {"created", response.created()},
                                 {"read_your_write", seen}};
          if (!seen) line["read_your_write_error"] = ryw_error;
          if (options.nearby) {
            const auto& where = request.draft().location();
            line["category"] = request.draft().category();
            line["latitude"] = where.latitude();
            line["longitude"] = where.longitude();
          }
          std::lock_guard<std::mutex> lock(ledger_mu);
          ledger << line.dump() << "\n";
          ledger.flush();
          break;
        }
        {
          std::lock_guard<std::mutex> lock(errors_mu);
          ++errors[absl::StrCat(status.error_code())];
        }
        if (!Retryable(status.error_code())) {
          rejected.fetch_add(1);
          std::fprintf(stderr, "chaos load: %s refused: code %d %s\n", key.c_str(),
                       static_cast<int>(status.error_code()), status.error_message().c_str());
          break;
        }
        if (absl::Now() >= give_up) {
          gave_up.fetch_add(1);
          break;
        }
        retries.fetch_add(1);
        absl::SleepFor(backoff);
        backoff = std::min(backoff * 2, absl::Seconds(2));
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < options.workers; ++i) threads.emplace_back(worker);
  for (auto& th : threads) th.join();

  summary.attempted = std::min<int64_t>(next.load(), total);
  summary.ok = ok;
  summary.created = created;
  summary.repeated = repeated;
  summary.rejected = rejected;
  summary.gave_up = gave_up;
  summary.retries = retries;
  summary.read_your_write_misses = ryw_misses;
  summary.errors = errors;
  summary.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return summary;
}

}  // namespace meldpunt::chaos
