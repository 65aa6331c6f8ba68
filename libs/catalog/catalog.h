// The category catalogue: one file that every service reads (routing, deadline-watch,
// notification, the intake's reports and GetCategories, meldctl). Each category has an id (a
// slug), an optional parent, labels in Dutch, French and English, optional descriptions in the
// same languages, keywords, a group (for forms), an active flag and an optional public service
// code (Open311's service_code).
//
//   categories:
//     - id: roads
//       parent: public-space
//       labels: {nl: Wegen, fr: Routes, en: Roads}
//       descriptions: {nl: "Wegdek, voetpaden en fietspaden"}
//       keywords: [weg, straat, voetpad]
//       group: street
//       service_code: "020"
//
// An optional `departments` list gives the departments' names in the three languages, for
// what people read (reports):
//
//   departments:
//     - id: public-works
//       labels: {nl: Openbare werken, fr: Travaux publics, en: Public works}
//
//   ASSIGN_OR_RETURN(std::shared_ptr<const Catalog> catalog, Catalog::LoadFile(path));
//   catalog->IsWithin("potholes", "roads");           // true: potholes lies under roads
//   catalog->Label("potholes", types::v1::FR);        // "Nids-de-poule"
//
// Loading checks everything and names the file, line and field of the first problem: ids are
// slugs and unique, every parent exists, the tree has no cycle, the three labels are there, a
// service code is unique. Immutable once loaded; thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "meldpunt/types/v1/case.pb.h"

namespace meldpunt::catalog {

struct Texts {
  std::string nl, fr, en;
  // The text in `language` (Dutch for unspecified); an empty text falls back to Dutch.
  const std::string& In(types::v1::Language language) const;
};

struct Category {
  std::string id;
  std::string parent;  // "" at the top
  Texts labels;
  Texts descriptions;
  std::vector<std::string> keywords;
  std::string group;
  bool active = true;
  std::string service_code;
};

struct DepartmentNames {
  std::string id;
  Texts labels;
};

class Catalog {
 public:
  static absl::StatusOr<std::shared_ptr<const Catalog>> LoadFile(const std::string& path);
  // `source` names the text in errors (a file name).
  static absl::StatusOr<std::shared_ptr<const Catalog>> Parse(const std::string& yaml_text,
                                                              const std::string& source);

  // Null when the id is not in the catalogue.
  const Category* Find(const std::string& id) const;
  bool Contains(const std::string& id) const { return Find(id) != nullptr; }
  // `id` itself, then its parent, up to the top; empty for an unknown id.
  std::vector<std::string> Ancestors(const std::string& id) const;
  // Whether `id` is `ancestor` or lies under it.
  bool IsWithin(const std::string& id, const std::string& ancestor) const;
  // The label in `language`; the id itself for an unknown category (never empty).
  std::string Label(const std::string& id, types::v1::Language language) const;
  // Every category, in the order of the file.
  const std::vector<Category>& categories() const { return categories_; }
  // The department's name in `language`; the id itself for a department the file does not name.
  std::string DepartmentLabel(const std::string& id, types::v1::Language language) const;
  const std::vector<DepartmentNames>& departments() const { return departments_; }

 private:
  std::vector<Category> categories_;
  std::vector<DepartmentNames> departments_;
  std::map<std::string, size_t> index_;
};

}  // namespace meldpunt::catalog
