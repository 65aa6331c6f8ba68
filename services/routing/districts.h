// Districts of the municipality: postcode lists and GeoJSON polygons (GEOS prepared geometries,
// so point-in-polygon stays fast with many districts).
//
//   ASSIGN_OR_RETURN(auto d, District::Create("centrum", {"9000"}, geojson_text));
//   bool inside = d->Contains(51.05, 3.72);
//
// Thread-safe: GEOS calls go through one context guarded by a mutex.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/status/statusor.h"

namespace meldpunt::routing {

class District {
 public:
  // `geojson` may be empty (postcodes only); otherwise a Polygon or MultiPolygon in WGS84
  // (longitude, latitude).
  static absl::StatusOr<std::unique_ptr<District>> Create(std::string id,
                                                          std::set<std::string> postcodes,
                                                          const std::string& geojson);
  ~District();
  District(const District&) = delete;
  District& operator=(const District&) = delete;

  const std::string& id() const { return id_; }
  bool HasPostcode(const std::string& postcode) const { return postcodes_.count(postcode) > 0; }
  bool HasPolygon() const { return prepared_ != nullptr; }
  bool Contains(double latitude, double longitude) const;

 private:
  District() = default;
  std::string id_;
  std::set<std::string> postcodes_;
  void* context_ = nullptr;         // GEOSContextHandle_t
  void* geometry_ = nullptr;        // GEOSGeometry*
  const void* prepared_ = nullptr;  // const GEOSPreparedGeometry*
  mutable std::mutex mu_;
};

}  // namespace meldpunt::routing
