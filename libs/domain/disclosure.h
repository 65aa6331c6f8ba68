// What a department may learn of a case: the one confidentiality rule, used by the intake (which
// answers departments' reads and casework) and by routing (which writes the dispatch feeds).
//
//   if (domain::ForDepartment(c.draft()) == domain::Disclosure::kNothing) ... refuse ...
//   const bool reporter = domain::ReporterVisible(draft, dept.may_see_reporter);
//
// A confidential case (any kind: a complaint about staff, a report a citizen asked to keep
// confidential) is for the Meldpunt team only: it is routed to the team's confidential queue, its
// dispatch message carries no content, and no department reads it or works on it. The reporter's
// identity is never on a dispatch feed: a department whose policy allows it reads it through
// GetCase, which audits the read and shows nothing once the data is erased.
#pragma once

#include "meldpunt/types/v1/case.pb.h"

namespace meldpunt::domain {

enum class Disclosure {
  kNothing,  // confidential: the Meldpunt team only
  kContent,  // kind, category, description, location, attachments; never the reporter itself
};

inline bool IsConfidential(const types::v1::CaseDraft& draft) { return draft.confidential(); }

inline Disclosure ForDepartment(const types::v1::CaseDraft& draft) {
  return IsConfidential(draft) ? Disclosure::kNothing : Disclosure::kContent;
}

// Whether a department whose policy says `department_may_see_reporter` may read who reported.
inline bool ReporterVisible(const types::v1::CaseDraft& draft, bool department_may_see_reporter) {
  return department_may_see_reporter && !IsConfidential(draft) && !draft.reporter().anonymous();
}

}  // namespace meldpunt::domain
