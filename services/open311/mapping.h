// Between Open311 GeoReport v2 and Meldpunt's cases: the catalogue as services, a POSTed form as
// a SubmitCase, a case as a service request. Pure functions: no I/O, no clock.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "libs/catalog/catalog.h"
#include "meldpunt/intake/v1/intake.pb.h"
#include "meldpunt/types/v1/case.pb.h"
#include "services/open311/wire.h"

namespace meldpunt::open311 {

namespace t = ::meldpunt::types::v1;

// The language of the texts: `locale` ("nl", "fr", "en", "fr-BE", ...) when given, otherwise the
// first of Accept-Language that is one of ours, otherwise Dutch. INVALID_ARGUMENT for a locale
// that is none of ours.
absl::StatusOr<t::Language> LanguageOf(const std::string& locale,
                                       const std::string& accept_language);

// The active category with this public service code, or null.
const catalog::Category* CategoryOfCode(const catalog::Catalog& catalog, const std::string& code);

// GET services: every active category with a service code.
Json ServiceList(const catalog::Catalog& catalog, t::Language language);
// GET services/{code}: the attributes a POST may carry (the same for every service); nullopt
// for an unknown code.
std::optional<Json> ServiceDefinition(const catalog::Catalog& catalog, const std::string& code,
                                      t::Language language);

// The idempotency key of a POST that sent none: "o311-" and 40 hex digits of the SHA-256 over
// the submitting system and every parameter but api_key, sorted. The same form from the same
// system is the same case.
std::string DerivedRequestKey(const std::string& system, const Params& form);

// POST requests: the form as a SubmitCase of `system` with `request_key`. INVALID_ARGUMENT
// naming the Open311 parameter (service_code, lat, attribute[kind], ...).
absl::StatusOr<intake::v1::SubmitCaseRequest> ToSubmission(const Params& form,
                                                           const catalog::Catalog& catalog,
                                                           const std::string& system,
                                                           const std::string& request_key,
                                                           t::Language language);

// A media_url as an attachment: a link whose size is not known (0) and whose media type its
// name gives (.jpg, .png, ...; otherwise application/octet-stream).
t::Attachment MediaLink(const std::string& url);

// The intake's error message with the field named as Open311 names it ("draft.description: ..."
// -> "description: ...").
std::string Open311Message(const std::string& intake_message);

// "open" or "closed".
std::string StatusOf(t::CaseState state);
// CitySDK's detailed_status: RECEIVED, IN_PROCESS, PROCESSED, ARCHIVED or REJECTED.
std::string DetailedStatusOf(t::CaseState state);
// A sentence for the reporter on where the case stands.
std::string StatusNotes(t::CaseState state, t::Language language);

// The due time of the clock the reporter waits for: of the running clocks, the one due last;
// nullopt when none runs or that one stands still (its due time moves when it resumes).
std::optional<absl::Time> ExpectedTime(const t::Case& c);

// A case as an Open311 service request.
Json RequestOf(const t::Case& c, const catalog::Catalog& catalog, t::Language language);
// A case's last change as a FixMyStreet request_update.
Json UpdateOf(const t::Case& c, t::Language language);

}  // namespace meldpunt::open311
