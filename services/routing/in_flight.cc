#include "services/routing/in_flight.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace meldpunt::routing {

double GreatCircleMetres(double lat1, double lon1, double lat2, double lon2) {
  constexpr double kRadians = M_PI / 180;
  constexpr double kEarthMetres = 6372797.560856;  // Redis's (geohash_helper.c)
  const double dlat = (lat2 - lat1) * kRadians;
  const double dlon = (lon2 - lon1) * kRadians;
  const double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(lat1 * kRadians) * std::cos(lat2 * kRadians) * std::sin(dlon / 2) *
                       std::sin(dlon / 2);
  return 2 * kEarthMetres * std::asin(std::sqrt(a));
}

uint64_t InFlightSubmissions::Add(Submission s) {
  absl::MutexLock lock(&mu_);
  const uint64_t ticket = next_++;
  entries_.push_back({ticket, std::move(s)});
  return ticket;
}

void InFlightSubmissions::Remove(const std::vector<uint64_t>& tickets) {
  if (tickets.empty()) return;
  absl::MutexLock lock(&mu_);
  std::erase_if(entries_, [&](const Entry& e) {
    return std::find(tickets.begin(), tickets.end(), e.ticket) != tickets.end();
  });
}

std::vector<InFlightSubmissions::Found> InFlightSubmissions::Near(const std::string& category,
                                                                  double latitude, double longitude,
                                                                  double radius_m) const {
  std::vector<Found> out;
  {
    absl::MutexLock lock(&mu_);
    for (const Entry& e : entries_) {
      const Submission& s = e.submission;
      if (s.category != category) continue;
      const double d = GreatCircleMetres(latitude, longitude, s.latitude, s.longitude);
      if (d <= radius_m)
        out.push_back({s.case_id, d, s.submitted_at, s.duplicate_chain, s.reference});
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Found& a, const Found& b) { return a.distance_m < b.distance_m; });
  return out;
}

size_t InFlightSubmissions::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace meldpunt::routing
