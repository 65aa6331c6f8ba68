// A seeded year of synthetic cases (2025) written to the real case log, folded by a real intake,
// reported by its Reporting service, and checked three ways: against the figures worked out from
// the plan that generated the year, against a recount from the raw log, and the annual report as
// CSV and as HTML, which headless Chromium renders to a screenshot that must show its charts.
// Then handcrafted cases of 2023-2024 through the same path: periods, months and the 45 days count
// from receipt, an open clock past its due time counts as late in the share, the exports speak the
// requested language, and an unknown language is refused naming the field.
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "libs/calendar/calendar.h"
#include "libs/events/codec.h"
#include "libs/events/event_log.h"
#include "libs/events/ids.h"
#include "libs/events/topics.h"
#include "libs/kafka/consumer.h"
#include "libs/kafka/producer.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "services/intake/app.h"
#include "services/intake/test_config.h"
#include "tests/testing/process.h"
#include "tests/testing/stack.h"

namespace meldpunt::intake {
namespace {

namespace t = ::meldpunt::types::v1;
namespace ev = ::meldpunt::events::v1;

constexpr int kCases = 300;
constexpr int kYear = 2025;

// What happened to one case: the plan's decisions, or what a recount finds in the log.
struct Facts {
  t::CaseKind kind = t::CASE_KIND_UNSPECIFIED;
  std::string category, district, system;
  t::Channel channel = t::CHANNEL_UNSPECIFIED;
  absl::Time submitted;
  std::optional<absl::Time> answered, closed;
  bool open = true;
  int bounces = 0, hops = 0, reopens = 0;
  bool duplicate = false;
  std::map<std::string, bool> clocks;  // clock -> stopped within term (the last stop)
  int admissibility = 0;               // 0 pending, 1 admissible, 2 inadmissible
  std::string ground, outcome, norm;
  bool operator==(const Facts&) const = default;
};

const absl::TimeZone& Brussels() { return calendar::BrusselsTimeZone(); }

// Writes a year of cases and remembers what it decided.
class Year {
 public:
  explicit Year(uint32_t seed) : random_(seed) {}

  void Generate() {
    const absl::Time start = Brussels().At(absl::CivilSecond(kYear, 1, 1, 0, 0, 0)).pre;
    const absl::Time end = Brussels().At(absl::CivilSecond(kYear + 1, 1, 1, 0, 0, 0)).pre;
    const int64_t span = absl::ToInt64Seconds(end - start);
    for (int i = 0; i < kCases; ++i) {
      const std::string id = events::CaseIdFor("report-seed", absl::StrCat(seed_tag_, i));
      ids_.push_back(id);
      Case(id, start + absl::Seconds(Uniform(0, span - 1)));
    }
  }

  const std::vector<ev::Envelope>& events() const { return events_; }
  const std::map<std::string, Facts>& facts() const { return facts_; }
  const std::vector<std::string>& ids() const { return ids_; }

 private:
  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(random_);
  }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(random_) < p; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(Uniform(0, static_cast<int64_t>(v.size()) - 1))];
  }

  ev::Envelope& Emit(const std::string& id, absl::Time at) {
    ev::Envelope e = events::NewEnvelope(id, "report-seed", at);
    e.mutable_actor()->set_id("system:report-seed");
    events_.push_back(e);
    return events_.back();
  }
  void Finish(ev::Envelope& e) {
    events::Finish(e, events::DeterministicId("seed", {e.case_id(), absl::StrCat(seq_++)}));
  }

  void Route(const std::string& id, Facts& f, absl::Time at, const std::string& department) {
    ev::Envelope& e = Emit(id, at);
    e.mutable_case_routed()->set_department(department);
    e.mutable_case_routed()->set_hop(f.hops + 1);
    Finish(e);
    ++f.hops;
  }
  void Answer(const std::string& id, Facts& f, absl::Time at, int term_days) {
    ev::Envelope& e = Emit(id, at);
    e.mutable_case_answered()->set_answer("Done.");
    if (f.kind == t::COMPLAINT) {
      const std::vector<ev::ComplaintOutcome> outcomes = {ev::FOUNDED, ev::PARTLY_FOUNDED,
                                                          ev::UNFOUNDED};
      const ev::ComplaintOutcome outcome = Pick(outcomes);
      e.mutable_case_answered()->set_outcome(outcome);
      f.outcome = ev::ComplaintOutcome_Name(outcome);
      const std::vector<std::string> norms = {"correcte bejegening", "redelijke termijn",
                                              "actieve dienstverlening", ""};
      f.norm = Pick(norms);
      e.mutable_case_answered()->set_ombudsnorm(f.norm);
    }
    Finish(e);
    f.answered = at;
    f.open = false;
    ev::Envelope& stop = Emit(id, at);
    stop.mutable_clock_stopped()->set_clock("answer");
    const bool within = at - f.submitted <= absl::Hours(24 * term_days);
    stop.mutable_clock_stopped()->set_within_term(within);
    Finish(stop);
    f.clocks["answer"] = within;
  }
  void Close(const std::string& id, Facts& f, absl::Time at) {
    ev::Envelope& e = Emit(id, at);
    e.mutable_case_closed()->set_reason("done");
    Finish(e);
    f.closed = at;
    f.open = false;
  }

  void Case(const std::string& id, absl::Time at) {
    Facts f;
    const double k = std::uniform_real_distribution<double>(0, 1)(random_);
    f.kind = k < 0.55   ? t::REPORT
             : k < 0.8  ? t::COMPLAINT
             : k < 0.9  ? t::QUESTION
             : k < 0.95 ? t::SUGGESTION
                        : t::COMPLIMENT;
    f.category = f.kind == t::REPORT
                     ? Pick(std::vector<std::string>{"potholes", "litter", "street-lighting"})
                 : f.kind == t::COMPLAINT
                     ? Pick(std::vector<std::string>{"staff-conduct", "waiting-time"})
                     : "general";
    f.channel =
        Pick(std::vector<t::Channel>{t::WEB, t::PHONE, t::EMAIL, t::COUNTER, t::LETTER, t::APP});
    f.district = Pick(std::vector<std::string>{"centrum", "noord", "zuid", ""});
    f.system = Pick(std::vector<std::string>{"web-form", "crm", "app"});
    f.submitted = at;
    ev::Envelope& s = Emit(id, at);
    auto* submitted = s.mutable_case_submitted();
    submitted->set_submitting_system(f.system);
    submitted->set_request_key(id);
    submitted->set_reference(events::ReferenceFor(id, kYear, 8));
    auto* d = submitted->mutable_draft();
    d->set_kind(f.kind);
    d->set_channel(f.channel);
    d->set_category(f.category);
    d->set_description("A seeded case of the reporting test");
    d->mutable_location()->set_district(f.district);
    d->mutable_reporter()->set_anonymous(true);
    Finish(s);
    ev::Envelope& clock = Emit(id, at);
    clock.mutable_clock_started()->set_clock("answer");
    Finish(clock);
    // Whole seconds, as a Timestamp in the log keeps them.
    const auto day = [&](double days) { return at + absl::Seconds(std::llround(days * 86400)); };

    if (f.kind == t::COMPLAINT) {
      if (Chance(0.15)) return Keep(id, f);  // admissibility still pending
      ev::Envelope& a = Emit(id, day(2));
      const bool admissible = Chance(0.75);
      a.mutable_admissibility_decided()->set_admissible(admissible);
      if (!admissible) {
        const auto ground = static_cast<ev::InadmissibilityGround>(Uniform(1, 6));
        a.mutable_admissibility_decided()->set_ground(ground);
        f.ground = ev::InadmissibilityGround_Name(ground);
        f.admissibility = 2;
        f.open = false;
        Finish(a);
        if (Chance(0.6)) Close(id, f, day(3));
        return Keep(id, f);
      }
      f.admissibility = 1;
      Finish(a);
      Route(id, f, day(2.5), "complaints-office");
      if (Chance(0.85)) {
        Answer(id, f, day(static_cast<double>(Uniform(5, 70)) + 0.3), 45);
        if (Chance(0.7)) Close(id, f, day(75));
      }
      return Keep(id, f);
    }
    const std::string first = f.kind == t::REPORT ? "public-works" : "info-desk";
    if (f.kind == t::REPORT && Chance(0.03)) {
      ev::Envelope& w = Emit(id, day(0.5));
      w.mutable_case_withdrawn()->set_reason("solved");
      Finish(w);
      f.open = false;
      return Keep(id, f);
    }
    Route(id, f, day(0.1), first);
    if (f.kind == t::REPORT && Chance(0.15)) {
      ev::Envelope& b = Emit(id, day(0.5));
      b.mutable_case_bounced()->set_department(first);
      b.mutable_case_bounced()->set_reason("not ours");
      Finish(b);
      ++f.bounces;
      Route(id, f, day(0.6), "green-spaces");
    }
    if (f.kind == t::REPORT && Chance(0.05) && ids_.size() > 1) {
      ev::Envelope& l = Emit(id, day(0.7));
      l.mutable_case_linked()->set_master_case_id(ids_[ids_.size() - 2]);
      Finish(l);
      f.duplicate = true;
    }
    if (Chance(0.8)) {
      ev::Envelope& acc = Emit(id, day(1));
      acc.mutable_case_accepted()->set_department(first);
      Finish(acc);
    }
    if (!Chance(0.8)) return Keep(id, f);
    const int term = f.kind == t::REPORT ? 10 : 20;
    Answer(id, f, day(static_cast<double>(Uniform(1, 30)) + 0.25), term);
    if (Chance(0.1)) {
      ev::Envelope& r = Emit(id, day(35));
      r.mutable_case_reopened()->set_reason("not satisfied");
      Finish(r);
      ++f.reopens;
      f.open = true;
      f.closed.reset();
      if (Chance(0.7)) Answer(id, f, day(40), term);
    }
    if (!f.open && Chance(0.8)) Close(id, f, day(45));
    return Keep(id, f);
  }

  void Keep(const std::string& id, const Facts& f) { facts_[id] = f; }

  std::mt19937_64 random_;
  std::string seed_tag_ = testing::UniqueName("y");
  int64_t seq_ = 0;
  std::vector<ev::Envelope> events_;
  std::map<std::string, Facts> facts_;
  std::vector<std::string> ids_;
};

// A recount from the raw log: each event's effect on the facts, written here again.
std::map<std::string, Facts> Recount(const std::vector<ev::Envelope>& log) {
  std::map<std::string, Facts> facts;
  for (const ev::Envelope& e : log) {
    Facts& f = facts[e.case_id()];
    const absl::Time at = events::GetTime(e.occurred_at());
    if (e.has_case_submitted()) {
      const auto& d = e.case_submitted().draft();
      f.kind = d.kind();
      f.category = d.category();
      f.channel = d.channel();
      f.district = d.location().district();
      f.system = e.case_submitted().submitting_system();
      f.submitted = at;
    } else if (e.has_case_routed()) {
      ++f.hops;
    } else if (e.has_case_bounced()) {
      ++f.bounces;
    } else if (e.has_case_linked()) {
      f.duplicate = true;
    } else if (e.has_admissibility_decided()) {
      f.admissibility = e.admissibility_decided().admissible() ? 1 : 2;
      if (!e.admissibility_decided().admissible()) {
        f.ground = ev::InadmissibilityGround_Name(e.admissibility_decided().ground());
        f.open = false;
      }
    } else if (e.has_case_answered()) {
      f.answered = at;
      f.open = false;
      if (e.case_answered().outcome() != ev::COMPLAINT_OUTCOME_UNSPECIFIED)
        f.outcome = ev::ComplaintOutcome_Name(e.case_answered().outcome());
      f.norm = e.case_answered().ombudsnorm();
    } else if (e.has_case_closed()) {
      f.closed = at;
      f.open = false;
    } else if (e.has_case_reopened()) {
      ++f.reopens;
      f.open = true;
      f.closed.reset();
    } else if (e.has_case_withdrawn()) {
      f.open = false;
    } else if (e.has_clock_stopped()) {
      f.clocks[e.clock_stopped().clock()] = e.clock_stopped().within_term();
    }
  }
  return facts;
}

// The figures of a month, worked out from facts.
struct Month {
  int64_t received = 0, closed = 0, open = 0, bounces = 0, reroutes = 0, reopened = 0, answered = 0,
          duplicates = 0, stopped = 0, within = 0;
  std::vector<double> handling;
};

double Days(absl::Duration d) { return absl::ToDoubleHours(d) / 24; }

std::map<std::string, Month> Months(const std::map<std::string, Facts>& facts) {
  std::map<std::string, Month> months;
  for (const auto& [id, f] : facts) {
    const absl::CivilMonth month = absl::ToCivilMonth(f.submitted, Brussels());
    Month& m = months[absl::StrFormat("%04d-%02d", month.year(), month.month())];
    ++m.received;
    (f.open ? m.open : m.closed)++;
    m.bounces += f.bounces;
    m.reroutes += std::max(0, f.hops - 1);
    if (f.reopens > 0) ++m.reopened;
    if (f.answered) ++m.answered;
    if (f.duplicate) ++m.duplicates;
    if (f.answered) {
      m.handling.push_back(Days(*f.answered - f.submitted));
    } else if (f.closed) {
      m.handling.push_back(Days(*f.closed - f.submitted));
    }
    for (const auto& [clock, within] : f.clocks) {
      ++m.stopped;
      if (within) ++m.within;
    }
  }
  return months;
}

double NearestRank(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::max<size_t>(rank, 1) - 1];
}

// A PNG's pixels as RGB (8-bit RGB or RGBA, not interlaced: what Chromium writes).
bool DecodePng(const std::string& png, int* width, int* height, std::vector<uint8_t>* rgb) {
  if (png.size() < 33 || png.compare(1, 3, "PNG") != 0) return false;
  size_t at = 8;
  std::string idat;
  int channels = 0;
  while (at + 8 <= png.size()) {
    const uint32_t len = (uint8_t(png[at]) << 24) | (uint8_t(png[at + 1]) << 16) |
                         (uint8_t(png[at + 2]) << 8) | uint8_t(png[at + 3]);
    const std::string type = png.substr(at + 4, 4);
    const std::string data = png.substr(at + 8, len);
    if (type == "IHDR") {
      *width = (uint8_t(data[0]) << 24) | (uint8_t(data[1]) << 16) | (uint8_t(data[2]) << 8) |
               uint8_t(data[3]);
      *height = (uint8_t(data[4]) << 24) | (uint8_t(data[5]) << 16) | (uint8_t(data[6]) << 8) |
                uint8_t(data[7]);
      if (data[8] != 8 || data[12] != 0) return false;
      channels = data[9] == 6 ? 4 : data[9] == 2 ? 3 : 0;
      if (channels == 0) return false;
    } else if (type == "IDAT") {
      idat += data;
    }
    at += 12 + len;
  }
  const size_t stride = static_cast<size_t>(*width) * channels;
  std::vector<uint8_t> raw((stride + 1) * static_cast<size_t>(*height));
  uLongf size = raw.size();
  if (uncompress(raw.data(), &size, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) !=
      Z_OK)
    return false;
  std::vector<uint8_t> img(stride * static_cast<size_t>(*height));
  for (int y = 0; y < *height; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* in = &raw[y * (stride + 1) + 1];
    uint8_t* out = &img[y * stride];
    const uint8_t* up = y > 0 ? &img[(y - 1) * stride] : nullptr;
    for (size_t x = 0; x < stride; ++x) {
      const int a = x >= static_cast<size_t>(channels) ? out[x - channels] : 0;
      const int b = up ? up[x] : 0;
      const int c = up && x >= static_cast<size_t>(channels) ? up[x - channels] : 0;
      int v = in[x];
      if (filter == 1) v += a;
      if (filter == 2) v += b;
      if (filter == 3) v += (a + b) / 2;
      if (filter == 4) {
        const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
        v += (pa <= pb && pa <= pc) ? a : pb <= pc ? b : c;
      }
      out[x] = static_cast<uint8_t>(v);
    }
  }
  rgb->clear();
  for (size_t i = 0; i < img.size(); i += channels)
    rgb->insert(rgb->end(), {img[i], img[i + 1], img[i + 2]});
  return true;
}

class ReportingIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    // A stack of its own: the seeded year must not reach the shared stack's services.
    auto stack = testing::LoadStack("reporting");
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *stack;
  }
  testing::Stack stack_;
};

TEST_F(ReportingIntegration, ASeededYearEqualsThePlanTheRecountAndRendersAsCharts) {
  Year year(20251231);
  year.Generate();
  IntakeConfig config = TestConfig(stack_, "intake-reporting-test");
  IntakeApp app(config);
  ASSERT_TRUE(app.Start().ok());
  // The intake made the case topic at its start; the year goes in while it folds.
  auto producer =
      kafka::Producer::Create({.brokers = stack_.kafka, .extra = stack_.kafka_properties});
  ASSERT_TRUE(producer.ok());
  for (const ev::Envelope& e : year.events()) {
    ASSERT_TRUE((*producer)
                    ->SendAsync(events::ToRecord(events::kCaseEventsTopic, e),
                                [](absl::StatusOr<kafka::Delivered> d) { EXPECT_TRUE(d.ok()); })
                    .ok());
  }
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(30)).ok());

  auto reporting = v1::Reporting::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", app.grpc_port()), grpc::InsecureChannelCredentials()));
  const auto deadline = [] {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    return c;
  };
  const absl::Time from = Brussels().At(absl::CivilSecond(kYear, 1, 1, 0, 0, 0)).pre;
  const absl::Time to = Brussels().At(absl::CivilSecond(kYear + 1, 1, 1, 0, 0, 0)).pre;
  v1::GetIndicatorsRequest request;
  events::SetTime(request.mutable_from(), from);
  events::SetTime(request.mutable_to(), to);
  request.set_group_by(v1::GROUP_MONTH);
  v1::GetIndicatorsResponse got;
  // Until the projection has folded every event of the year (the last one of each case).
  ASSERT_TRUE(testing::Eventually(
      [&] {
        if (!reporting->GetIndicators(deadline().get(), request, &got).ok()) return false;
        int64_t stopped = 0;
        for (const auto& s : got.total().within_term()) stopped += s.stopped();
        int64_t planned = 0;
        for (const auto& [id, f] : year.facts()) planned += static_cast<int64_t>(f.clocks.size());
        return got.total().received() == kCases && stopped == planned &&
               got.total().closed() ==
                   std::count_if(year.facts().begin(), year.facts().end(),
                                 [](const auto& kv) { return !kv.second.open; });
      },
      absl::Seconds(90)))
      << got.total().DebugString();

  // The raw log holds what the plan wrote: recounted independently, the facts are equal.
  auto consumer = kafka::Consumer::Create({.brokers = stack_.kafka,
                                           .group_id = testing::UniqueName("recount"),
                                           .topics = {events::kCaseEventsTopic},
                                           .extra = stack_.kafka_properties});
  ASSERT_TRUE(consumer.ok());
  const std::set<std::string> ids(year.ids().begin(), year.ids().end());
  std::vector<ev::Envelope> log;
  const absl::Time until = absl::Now() + absl::Seconds(60);
  while (absl::Now() < until && log.size() < year.events().size()) {
    auto record = (*consumer)->Poll(absl::Milliseconds(200));
    ASSERT_TRUE(record.ok());
    if (!record->has_value() || !ids.count((*record)->key)) continue;
    auto e = events::Decode((*record)->value);
    ASSERT_TRUE(e.ok());
    log.push_back(*e);
  }
  ASSERT_EQ(log.size(), year.events().size());
  const std::map<std::string, Facts> recounted = Recount(log);
  ASSERT_EQ(recounted.size(), year.facts().size());
  for (const auto& [id, planned] : year.facts()) {
    const Facts& found = recounted.at(id);
    EXPECT_TRUE(found == planned) << id << ": planned open " << planned.open << " answered "
                                  << planned.answered.has_value() << " closed "
                                  << planned.closed.has_value() << " hops " << planned.hops
                                  << " bounces " << planned.bounces << " reopens "
                                  << planned.reopens << " clocks " << planned.clocks.size()
                                  << " adm " << planned.admissibility << " dup "
                                  << planned.duplicate << "; recounted open " << found.open
                                  << " answered " << found.answered.has_value() << " closed "
                                  << found.closed.has_value() << " hops " << found.hops
                                  << " bounces " << found.bounces << " reopens " << found.reopens
                                  << " clocks " << found.clocks.size() << " adm "
                                  << found.admissibility << " dup " << found.duplicate;
  }

  // The service's figures, month by month, equal those worked out from the plan.
  const std::map<std::string, Month> expected = Months(year.facts());
  ASSERT_EQ(got.rows_size(), static_cast<int>(expected.size()));
  for (const v1::IndicatorRow& row : got.rows()) {
    SCOPED_TRACE(row.group());
    ASSERT_TRUE(expected.count(row.group()));
    const Month& m = expected.at(row.group());
    EXPECT_EQ(row.received(), m.received);
    EXPECT_EQ(row.closed(), m.closed);
    EXPECT_EQ(row.open(), m.open);
    EXPECT_EQ(row.bounces(), m.bounces);
    EXPECT_EQ(row.reroutes(), m.reroutes);
    EXPECT_EQ(row.reopened(), m.reopened);
    EXPECT_EQ(row.answered(), m.answered);
    EXPECT_EQ(row.duplicates(), m.duplicates);
    EXPECT_EQ(row.handled(), static_cast<int64_t>(m.handling.size()));
    EXPECT_NEAR(row.handling_days_p50(), NearestRank(m.handling, 0.5), 1e-9);
    EXPECT_NEAR(row.handling_days_p90(), NearestRank(m.handling, 0.9), 1e-9);
    int64_t stopped = 0, within = 0;
    for (const auto& s : row.within_term()) {
      stopped += s.stopped();
      within += s.within_term();
    }
    EXPECT_EQ(stopped, m.stopped);
    EXPECT_EQ(within, m.within);
  }

  // Every seeded case started the answer clock: each is in exactly one of the four categories.
  int64_t ran = 0;
  for (const auto& share : got.total().within_term()) {
    ran += share.within_term() + share.late() + share.open_overdue() + share.open_within_term();
  }
  EXPECT_EQ(ran, kCases);

  // Every open case of the year is more than 90 days old by now.
  EXPECT_EQ(got.total().backlog(3).cases(), got.total().open());

  // The complaints report of the year, against the plan.
  v1::GetComplaintsReportRequest complaints_request;
  complaints_request.set_year(kYear);
  v1::ComplaintsReport report;
  ASSERT_TRUE(reporting->GetComplaintsReport(deadline().get(), complaints_request, &report).ok());
  int64_t received = 0, admissible = 0, inadmissible = 0, pending = 0, answered = 0, within45 = 0,
          founded = 0, partly = 0, unfounded = 0;
  double handling = 0;
  std::map<std::string, int64_t> grounds, norms, channels, media;
  for (const auto& [id, f] : year.facts()) {
    if (f.kind != t::COMPLAINT) continue;
    ++received;
    (f.admissibility == 1 ? admissible : f.admissibility == 2 ? inadmissible : pending)++;
    if (f.admissibility == 2) ++grounds[f.ground];
    ++channels[t::Channel_Name(f.channel)];
    ++media[f.system];
    if (!f.answered) continue;
    ++answered;
    founded += f.outcome == "FOUNDED";
    partly += f.outcome == "PARTLY_FOUNDED";
    unfounded += f.outcome == "UNFOUNDED";
    if (!f.norm.empty()) ++norms[f.norm];
    // The end of the 45th calendar day after the day of receipt, Brussels time.
    const absl::CivilDay due = absl::ToCivilDay(f.submitted, Brussels()) + 46;
    if (*f.answered <= Brussels().At(absl::CivilSecond(due)).pre) ++within45;
    handling += Days(*f.answered - f.submitted);
  }
  EXPECT_GT(received, 40);
  EXPECT_EQ(report.received(), received);
  EXPECT_EQ(report.admissible(), admissible);
  EXPECT_EQ(report.inadmissible(), inadmissible);
  EXPECT_EQ(report.admissibility_pending(), pending);
  EXPECT_EQ(report.answered(), answered);
  EXPECT_EQ(report.answered_within_45_days(), within45);
  EXPECT_EQ(report.answered_later(), answered - within45);
  EXPECT_GT(within45, 0);
  EXPECT_GT(answered - within45, 0);
  EXPECT_EQ(report.founded(), founded);
  EXPECT_EQ(report.partly_founded(), partly);
  EXPECT_EQ(report.unfounded(), unfounded);
  EXPECT_NEAR(report.average_handling_days(), answered ? handling / answered : 0, 1e-9);
  const auto as_map = [](const auto& list) {
    std::map<std::string, int64_t> m;
    for (const auto& c : list)
      if (c.count() > 0) m[c.key()] = c.count();
    return m;
  };
  EXPECT_EQ(as_map(report.inadmissible_by_ground()), grounds);
  EXPECT_EQ(as_map(report.ombudsnormen()), norms);
  EXPECT_EQ(as_map(report.by_channel()), channels);
  EXPECT_EQ(as_map(report.by_medium()), media);

  // CSV: the total line says what GetIndicators said.
  v1::ExportReportRequest export_request;
  export_request.set_year(kYear);
  export_request.set_format(v1::CSV);
  v1::ExportReportResponse csv;
  ASSERT_TRUE(reporting->ExportReport(deadline().get(), export_request, &csv).ok());
  EXPECT_EQ(csv.content_type(), "text/csv; charset=utf-8");
  EXPECT_NE(csv.body().find(absl::StrCat("\r\ntotaal,", kCases, ",", got.total().closed(), ",",
                                         got.total().open(), ",")),
            std::string::npos)
      << csv.body().substr(0, 800);

  // HTML, rendered by headless Chromium: the screenshot shows the charts' colours.
  export_request.set_format(v1::HTML);
  v1::ExportReportResponse html;
  ASSERT_TRUE(reporting->ExportReport(deadline().get(), export_request, &html).ok());
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / testing::UniqueName("report");
  std::filesystem::create_directories(dir);
  const std::string page = (dir / html.filename()).string();
  std::ofstream(page, std::ios::binary) << html.body();
  const std::string shot = (dir / "report.png").string();
  const std::string command = absl::StrCat(
      "timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
      "--no-first-run --disable-background-networking --hide-scrollbars --user-data-dir=",
      (dir / "profile").string(), " --window-size=1100,2400 --screenshot=", shot, " file://", page,
      " > ", (dir / "chromium.log").string(), " 2>&1");
  ASSERT_EQ(std::system(command.c_str()), 0) << testing::ReadFile((dir / "chromium.log").string());
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  ASSERT_TRUE(DecodePng(testing::ReadFile(shot), &width, &height, &rgb)) << shot;
  EXPECT_EQ(width, 1100);
  EXPECT_EQ(height, 2400);
  const auto near = [&](size_t i, int r, int g, int b) {
    return std::abs(rgb[i] - r) < 12 && std::abs(rgb[i + 1] - g) < 12 &&
           std::abs(rgb[i + 2] - b) < 12;
  };
  int64_t blue = 0, green = 0, amber = 0, violet = 0, ink = 0;
  for (size_t i = 0; i + 2 < rgb.size(); i += 3) {
    blue += near(i, 0x1f, 0x6f, 0xeb);
    green += near(i, 0x2d, 0xa4, 0x4e);
    amber += near(i, 0xd2, 0x99, 0x22);
    violet += near(i, 0x82, 0x50, 0xdf);
    ink += rgb[i] < 80 && rgb[i + 1] < 80 && rgb[i + 2] < 80;
  }
  // Every chart drew its bars, and there is text.
  EXPECT_GT(blue, 2000) << shot;
  EXPECT_GT(green, 1000) << shot;
  EXPECT_GT(amber, 500) << shot;
  EXPECT_GT(violet, 500) << shot;
  EXPECT_GT(ink, 5000) << shot;
  std::printf(
      "report screenshot: %s (%dx%d; bar pixels blue %lld green %lld amber %lld violet "
      "%lld; text %lld)\n",
      shot.c_str(), width, height, static_cast<long long>(blue), static_cast<long long>(green),
      static_cast<long long>(amber), static_cast<long long>(violet), static_cast<long long>(ink));
  app.Stop();
}

// Writes handcrafted cases to the log, one event at a time, each with a deterministic id.
class Writer {
 public:
  explicit Writer(const testing::Stack& stack)
      : producer_(
            kafka::Producer::Create({.brokers = stack.kafka, .extra = stack.kafka_properties})) {}
  bool ok() const { return producer_.ok(); }

  // A case received at `received` and registered (submitted) at `submitted`.
  std::string Submit(const std::string& name, t::CaseKind kind, const std::string& received,
                     const std::string& submitted) {
    const std::string id = events::CaseIdFor("report-receipt", absl::StrCat(tag_, name));
    ev::Envelope e = At(id, submitted);
    auto* s = e.mutable_case_submitted();
    s->set_submitting_system("crm");
    s->set_request_key(id);
    s->set_reference(events::ReferenceFor(id, 2024, 8));
    auto* d = s->mutable_draft();
    d->set_kind(kind);
    d->set_channel(t::LETTER);
    d->set_category(kind == t::COMPLAINT ? "waiting-time" : "potholes");
    d->set_description("A handcrafted case of the reporting test");
    d->mutable_reporter()->set_anonymous(kind != t::COMPLAINT);
    events::SetTime(d->mutable_received_at(), Utc(received));
    Send(e);
    return id;
  }
  void Started(const std::string& id, const std::string& at, const std::string& due) {
    ev::Envelope e = At(id, at);
    e.mutable_clock_started()->set_clock("answer");
    e.mutable_clock_started()->set_generation(1);
    events::SetTime(e.mutable_clock_started()->mutable_due_at(), Utc(due));
    Send(e);
  }
  void Stopped(const std::string& id, const std::string& at, bool within) {
    ev::Envelope e = At(id, at);
    e.mutable_clock_stopped()->set_clock("answer");
    e.mutable_clock_stopped()->set_generation(1);
    e.mutable_clock_stopped()->set_within_term(within);
    Send(e);
  }
  void Paused(const std::string& id, const std::string& at) {
    ev::Envelope e = At(id, at);
    e.mutable_clock_paused()->set_clock("answer");
    e.mutable_clock_paused()->set_generation(1);
    Send(e);
  }
  void Breached(const std::string& id, const std::string& at) {
    ev::Envelope e = At(id, at);
    e.mutable_deadline_breached()->set_clock("answer");
    e.mutable_deadline_breached()->set_generation(1);
    Send(e);
  }
  void Extended(const std::string& id, const std::string& at, const std::string& due) {
    ev::Envelope e = At(id, at);
    e.mutable_clock_extended()->set_clock("answer");
    e.mutable_clock_extended()->set_generation(1);
    events::SetTime(e.mutable_clock_extended()->mutable_due_at(), Utc(due));
    Send(e);
  }
  ev::Envelope At(const std::string& id, const std::string& at) {
    ev::Envelope e = events::NewEnvelope(id, "report-receipt", Utc(at));
    e.mutable_actor()->set_id("system:report-receipt");
    return e;
  }
  void Send(ev::Envelope& e) {
    events::Finish(e, events::DeterministicId("receipt", {e.case_id(), absl::StrCat(seq_++)}));
    ASSERT_TRUE((*producer_)
                    ->SendAsync(events::ToRecord(events::kCaseEventsTopic, e),
                                [](absl::StatusOr<kafka::Delivered> d) { EXPECT_TRUE(d.ok()); })
                    .ok());
  }
  bool Flush() { return (*producer_)->Flush(absl::Seconds(30)).ok(); }

  static absl::Time Utc(const std::string& text) {
    absl::Time out;
    EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, text, &out, nullptr)) << text;
    return out;
  }

 private:
  absl::StatusOr<std::unique_ptr<kafka::Producer>> producer_;
  std::string tag_ = testing::UniqueName("r");
  int64_t seq_ = 0;
};

TEST_F(ReportingIntegration, PeriodsCountByReceiptAndAnOpenOverdueClockCountsAsLate) {
  IntakeConfig config = TestConfig(stack_, "intake-reporting-receipt");
  const char* source = std::getenv("MELDPUNT_SOURCE_DIR");
  config.catalog_file = std::string(source ? source : ".") + "/deploy/config/categories.yaml";
  IntakeApp app(config);
  ASSERT_TRUE(app.Start().ok());
  Writer w(stack_);
  ASSERT_TRUE(w.ok());
  // A letter of 30 December 2023, registered on 3 January 2024: a case of 2023.
  w.Submit("letter-2023", t::REPORT, "2023-12-30T10:00:00Z", "2024-01-03T09:00:00Z");
  // Open, due on 5 February 2024: long overdue.
  const std::string overdue =
      w.Submit("overdue", t::REPORT, "2024-01-05T09:00:00Z", "2024-01-05T09:00:00Z");
  w.Started(overdue, "2024-01-05T09:00:00Z", "2024-02-05T09:00:00Z");
  // A complaint received on 20 November, registered on 3 December, answered on 15 January: 56
  // days from receipt (late), 43 from registration.
  const std::string complaint =
      w.Submit("complaint", t::COMPLAINT, "2024-11-20T09:00:00Z", "2024-12-03T09:00:00Z");
  {
    ev::Envelope a = w.At(complaint, "2024-12-04T09:00:00Z");
    a.mutable_admissibility_decided()->set_admissible(true);
    w.Send(a);
    ev::Envelope r = w.At(complaint, "2024-12-04T10:00:00Z");
    r.mutable_case_routed()->set_department("complaints-office");
    r.mutable_case_routed()->set_hop(1);
    w.Send(r);
    ev::Envelope answered = w.At(complaint, "2025-01-15T09:00:00Z");
    answered.mutable_case_answered()->set_answer("Done.");
    answered.mutable_case_answered()->set_outcome(ev::FOUNDED);
    w.Send(answered);
  }
  // Stopped within the term, and late.
  const std::string within =
      w.Submit("within", t::REPORT, "2024-03-01T09:00:00Z", "2024-03-01T09:00:00Z");
  w.Started(within, "2024-03-01T09:00:00Z", "2024-03-11T09:00:00Z");
  w.Stopped(within, "2024-03-05T09:00:00Z", true);
  const std::string late =
      w.Submit("late", t::REPORT, "2024-07-01T09:00:00Z", "2024-07-01T09:00:00Z");
  w.Started(late, "2024-07-01T09:00:00Z", "2024-07-11T09:00:00Z");
  w.Stopped(late, "2024-07-20T09:00:00Z", false);
  // Open within its term, which the team extended.
  const std::string extended =
      w.Submit("extended", t::REPORT, "2024-06-01T09:00:00Z", "2024-06-01T09:00:00Z");
  w.Started(extended, "2024-06-01T09:00:00Z", "2099-01-01T00:00:00Z");
  w.Extended(extended, "2024-06-02T09:00:00Z", "2099-02-01T00:00:00Z");
  // Paused before its due time (waiting for the reporter): within the term. Paused after its
  // breach: overdue.
  const std::string paused =
      w.Submit("paused", t::REPORT, "2024-04-01T09:00:00Z", "2024-04-01T09:00:00Z");
  w.Started(paused, "2024-04-01T09:00:00Z", "2024-04-10T09:00:00Z");
  w.Paused(paused, "2024-04-05T09:00:00Z");
  const std::string breached =
      w.Submit("breached", t::REPORT, "2024-05-01T09:00:00Z", "2024-05-01T09:00:00Z");
  w.Started(breached, "2024-05-01T09:00:00Z", "2024-05-10T09:00:00Z");
  w.Breached(breached, "2024-05-10T09:00:00Z");
  w.Paused(breached, "2024-05-12T09:00:00Z");
  ASSERT_TRUE(w.Flush());

  auto reporting = v1::Reporting::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", app.grpc_port()), grpc::InsecureChannelCredentials()));
  const auto deadline = [] {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    return c;
  };
  const auto indicators = [&](int year, v1::GetIndicatorsResponse* out) {
    v1::GetIndicatorsRequest request;
    events::SetTime(request.mutable_from(),
                    Brussels().At(absl::CivilSecond(year, 1, 1, 0, 0, 0)).pre);
    events::SetTime(request.mutable_to(),
                    Brussels().At(absl::CivilSecond(year + 1, 1, 1, 0, 0, 0)).pre);
    request.set_group_by(v1::GROUP_MONTH);
    return reporting->GetIndicators(deadline().get(), request, out);
  };
  const auto answer = [](const v1::IndicatorRow& row) {
    for (const auto& s : row.within_term())
      if (s.clock() == "answer") return s;
    return v1::ClockShare();
  };
  // Until the projection holds every event written (the last of each case), the letter of 2023
  // included: the figures of 2024 do not wait for it.
  v1::GetIndicatorsResponse y2024;
  v1::GetIndicatorsResponse y2023;
  ASSERT_TRUE(testing::Eventually(
      [&] {
        if (!indicators(2024, &y2024).ok() || !indicators(2023, &y2023).ok()) return false;
        const v1::ClockShare s = answer(y2024.total());
        return y2024.total().received() == 7 && y2024.total().answered() == 1 && s.stopped() == 2 &&
               s.open_overdue() == 2 && s.open_within_term() == 2 && s.extended() == 1 &&
               y2023.total().received() >= 1;
      },
      absl::Seconds(90)))
      << y2024.total().DebugString() << y2023.total().DebugString();

  // By receipt: the letter of 2023 is not in 2024, though registered in it; the complaint is in
  // November, the month it came in, not December, when it was registered.
  std::map<std::string, int64_t> months;
  for (const auto& row : y2024.rows()) months[row.group()] = row.received();
  EXPECT_EQ(months, (std::map<std::string, int64_t>{{"2024-01", 1},
                                                    {"2024-03", 1},
                                                    {"2024-04", 1},
                                                    {"2024-05", 1},
                                                    {"2024-06", 1},
                                                    {"2024-07", 1},
                                                    {"2024-11", 1}}));
  EXPECT_EQ(y2023.total().received(), 1);
  ASSERT_EQ(y2023.rows_size(), 1);
  EXPECT_EQ(y2023.rows(0).group(), "2023-12");
  // Handling from receipt: 20 November to 15 January.
  EXPECT_DOUBLE_EQ(y2024.total().handling_days_p50(), 56);

  // The share: 1 within the term of 2 stopped and 2 open and overdue.
  const v1::ClockShare s = answer(y2024.total());
  EXPECT_EQ(s.within_term(), 1);
  EXPECT_EQ(s.late(), 1);
  EXPECT_EQ(s.open_overdue(), 2);
  EXPECT_EQ(s.open_within_term(), 2);
  EXPECT_DOUBLE_EQ(s.share(), 0.25);
  EXPECT_EQ(y2024.total().extensions(), 1);

  // The complaints report of 2024: answered late, counted from receipt.
  v1::GetComplaintsReportRequest complaints_request;
  complaints_request.set_year(2024);
  v1::ComplaintsReport report;
  ASSERT_TRUE(reporting->GetComplaintsReport(deadline().get(), complaints_request, &report).ok());
  EXPECT_EQ(report.received(), 1);
  EXPECT_EQ(report.answered(), 1);
  EXPECT_EQ(report.answered_within_45_days(), 0);
  EXPECT_EQ(report.answered_later(), 1);
  EXPECT_DOUBLE_EQ(report.average_handling_days(), 56);

  // The exports in the language asked for, the share as computed, the grounds in words.
  v1::ExportReportRequest export_request;
  export_request.set_year(2024);
  export_request.set_format(v1::HTML);
  export_request.set_language(t::EN);
  v1::ExportReportResponse html;
  ASSERT_TRUE(reporting->ExportReport(deadline().get(), export_request, &html).ok());
  EXPECT_NE(html.body().find("<html lang=\"en\">"), std::string::npos);
  EXPECT_NE(html.body().find("<td>answer</td><td>1</td><td>1</td><td>2</td><td>2</td><td>25%</td>"
                             "<td>1</td>"),
            std::string::npos)
      << html.body();
  EXPECT_NE(html.body().find("the facts date from more than a year before the complaint"),
            std::string::npos);
  export_request.set_format(v1::CSV);
  export_request.clear_language();  // Dutch
  v1::ExportReportResponse csv;
  ASSERT_TRUE(reporting->ExportReport(deadline().get(), export_request, &csv).ok());
  EXPECT_NE(csv.body().find("\r\ntotaal,7,"), std::string::npos) << csv.body();
  EXPECT_NE(csv.body().find(",1,1,2,2,0.25,1\r\n"), std::string::npos) << csv.body();

  // Grouped by category, the export names each by its label in the report's language; a category
  // the catalogue does not hold keeps its id.
  export_request.set_group_by(v1::GROUP_CATEGORY);
  export_request.set_format(v1::HTML);
  export_request.set_language(t::FR);
  v1::ExportReportResponse by_category;
  ASSERT_TRUE(reporting->ExportReport(deadline().get(), export_request, &by_category).ok());
  EXPECT_NE(by_category.body().find("Nids-de-poule"), std::string::npos) << by_category.body();
  EXPECT_EQ(by_category.body().find(">potholes<"), std::string::npos) << by_category.body();
  EXPECT_NE(by_category.body().find("waiting-time"), std::string::npos);
  // Grouped by department: the department's name from the catalogue, not its id.
  export_request.set_group_by(v1::GROUP_DEPARTMENT);
  v1::ExportReportResponse by_department;
  ASSERT_TRUE(reporting->ExportReport(deadline().get(), export_request, &by_department).ok());
  EXPECT_NE(by_department.body().find("Service des plaintes"), std::string::npos)
      << by_department.body();
  EXPECT_EQ(by_department.body().find(">complaints-office<"), std::string::npos)
      << by_department.body();

  // An unknown language: refused, naming the field.
  export_request.set_language(static_cast<t::Language>(9));
  grpc::Status refused = reporting->ExportReport(deadline().get(), export_request, &csv);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(refused.error_message().find("language"), std::string::npos) << refused.error_message();
  app.Stop();
}

}  // namespace
}  // namespace meldpunt::intake
