// The submissions with coordinates that a batch has decided but not yet saved: their records are
// in flight, and the route store's duplicate index (RouteStore::Near) will hold them once their
// batch saves its states. The duplicate search of a later submission asks both, so a case does
// not miss a nearby one that another lane (or an earlier record of its own batch) is still
// routing, and no submission waits for its own acknowledgement before the next one is searched.
//
//   InFlightSubmissions in_flight;
//   uint64_t ticket = in_flight.Add({case_id, category, lat, lon, submitted_at});
//   ... in_flight.Near(category, lat, lon, 50) ...   // nearest first
//   in_flight.Remove({ticket});                     // once saved, or handled again
//
// Thread-safe. Distances are great-circle metres on the sphere Redis's GEO commands use, so a
// case in flight and the same case in the index are the same distance away (within the index's
// 52-bit cell, under a metre).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace meldpunt::routing {

// Great-circle distance in metres (haversine on Redis's earth radius, 6372797.560856 m).
double GreatCircleMetres(double lat1, double lon1, double lat2, double lon2);

class InFlightSubmissions {
 public:
  struct Submission {
    std::string case_id;
    std::string category;
    double latitude = 0;
    double longitude = 0;
    absl::Time submitted_at;
    std::vector<std::string> duplicate_chain;  // RouteState.duplicate_chain, if linked
    std::string reference;
  };
  struct Found {
    std::string case_id;
    double distance_m = 0;
    absl::Time submitted_at;
    std::vector<std::string> duplicate_chain;
    std::string reference;
  };

  // Adds `s`; the ticket removes it.
  uint64_t Add(Submission s);
  void Remove(const std::vector<uint64_t>& tickets);
  // The submissions of `category` within `radius_m` of the point, nearest first.
  std::vector<Found> Near(const std::string& category, double latitude, double longitude,
                          double radius_m) const;
  size_t size() const;

 private:
  struct Entry {
    uint64_t ticket;
    Submission submission;
  };
  mutable absl::Mutex mu_;
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);  // a batch's worth per lane: a short list
};

}  // namespace meldpunt::routing
