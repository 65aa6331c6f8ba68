#include "services/routing/districts.h"

#include <geos_c.h>

#include "absl/strings/str_cat.h"

namespace meldpunt::routing {
namespace {
GEOSContextHandle_t Ctx(void* p) { return static_cast<GEOSContextHandle_t>(p); }
}  // namespace

absl::StatusOr<std::unique_ptr<District>> District::Create(std::string id,
                                                           std::set<std::string> postcodes,
                                                           const std::string& geojson) {
  std::unique_ptr<District> d(new District());
  d->id_ = std::move(id);
  d->postcodes_ = std::move(postcodes);
  if (geojson.empty()) return d;
  GEOSContextHandle_t ctx = GEOS_init_r();
  d->context_ = ctx;
  GEOSGeoJSONReader* reader = GEOSGeoJSONReader_create_r(ctx);
  GEOSGeometry* geometry = GEOSGeoJSONReader_readGeometry_r(ctx, reader, geojson.c_str());
  GEOSGeoJSONReader_destroy_r(ctx, reader);
  if (geometry == nullptr) return absl::InvalidArgumentError("polygon: not valid GeoJSON geometry");
  d->geometry_ = geometry;
  const int type = GEOSGeomTypeId_r(ctx, geometry);
  if (type != GEOS_POLYGON && type != GEOS_MULTIPOLYGON) {
    return absl::InvalidArgumentError("polygon: must be a GeoJSON Polygon or MultiPolygon");
  }
  if (GEOSisValid_r(ctx, geometry) != 1) {
    return absl::InvalidArgumentError(
        "polygon: not a valid polygon (self-intersecting or unclosed ring?)");
  }
  d->prepared_ = GEOSPrepare_r(ctx, geometry);
  if (d->prepared_ == nullptr) return absl::InternalError("polygon: GEOS could not prepare it");
  return d;
}

District::~District() {
  if (context_ == nullptr) return;
  GEOSContextHandle_t ctx = Ctx(context_);
  if (prepared_)
    GEOSPreparedGeom_destroy_r(ctx, static_cast<const GEOSPreparedGeometry*>(prepared_));
  if (geometry_) GEOSGeom_destroy_r(ctx, static_cast<GEOSGeometry*>(geometry_));
  GEOS_finish_r(ctx);
}

bool District::Contains(double latitude, double longitude) const {
  if (prepared_ == nullptr) return false;
  std::lock_guard<std::mutex> lock(mu_);
  GEOSContextHandle_t ctx = Ctx(context_);
  GEOSGeometry* point = GEOSGeom_createPointFromXY_r(ctx, longitude, latitude);
  if (point == nullptr) return false;
  const char inside =
      GEOSPreparedIntersects_r(ctx, static_cast<const GEOSPreparedGeometry*>(prepared_), point);
  GEOSGeom_destroy_r(ctx, point);
  return inside == 1;
}

}  // namespace meldpunt::routing
