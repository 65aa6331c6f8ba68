#include "libs/catalog/catalog.h"

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/catalog/slug.h"
#include "yaml-cpp/yaml.h"

namespace meldpunt::catalog {
namespace {

namespace t = ::meldpunt::types::v1;

// An error naming the source, the line and column of `node`, the field and the reason.
absl::Status At(const std::string& source, const YAML::Node& node, const std::string& path,
                const std::string& reason) {
  const YAML::Mark mark = node.Mark();
  if (mark.line >= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", mark.line + 1, ":", mark.column + 1, ": ", path, ": ", reason));
  }
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", path, ": ", reason));
}

absl::Status CheckKeys(const std::string& source, const YAML::Node& node, const std::string& path,
                       const std::set<std::string>& allowed) {
  if (!node.IsMap()) return At(source, node, path, "must be a mapping");
  for (const auto& item : node) {
    const std::string key = item.first.Scalar();
    if (!allowed.count(key)) {
      return At(
          source, item.first, path,
          absl::StrCat("unknown key '", key, "' (allowed: ", absl::StrJoin(allowed, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ReadTexts(const std::string& source, const YAML::Node& node, const std::string& path,
                       bool required, Texts& out) {
  if (!node) {
    return required ? absl::InvalidArgumentError(
                          absl::StrCat(source, ": ", path, ": required (nl, fr and en)"))
                    : absl::OkStatus();
  }
  if (absl::Status keys = CheckKeys(source, node, path, {"nl", "fr", "en"}); !keys.ok()) {
    return keys;
  }
  for (auto [key, field] : {std::pair{"nl", &out.nl}, {"fr", &out.fr}, {"en", &out.en}}) {
    const YAML::Node text = node[key];
    if (text && !text.IsScalar()) return At(source, text, path + "." + key, "must be text");
    if (text) *field = text.Scalar();
    if (field->size() > 500) return At(source, text, path + "." + key, "at most 500 characters");
    if (required && field->empty()) {
      return At(source, node, path + "." + key, "required: a label in each of nl, fr and en");
    }
  }
  return absl::OkStatus();
}

}  // namespace

const std::string& Texts::In(t::Language language) const {
  if (language == t::FR && !fr.empty()) return fr;
  if (language == t::EN && !en.empty()) return en;
  return nl;
}

absl::StatusOr<std::shared_ptr<const Catalog>> Catalog::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read the category catalogue"));
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
}

absl::StatusOr<std::shared_ptr<const Catalog>> Catalog::Parse(const std::string& yaml_text,
                                                              const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  }
  if (absl::Status keys = CheckKeys(source, root, "(top)", {"categories", "departments"});
      !keys.ok()) {
    return keys;
  }
  const YAML::Node list = root["categories"];
  if (!list || !list.IsSequence() || list.size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": categories: required, a list of at least one category"));
  }
  auto catalog = std::make_shared<Catalog>();
  std::map<std::string, std::string> codes;  // service code -> category
  std::vector<YAML::Node> nodes;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node node = list[i];
    const std::string path = absl::StrCat("categories[", i, "]");
    if (absl::Status keys = CheckKeys(source, node, path,
                                      {"id", "parent", "labels", "descriptions", "keywords",
                                       "group", "active", "service_code"});
        !keys.ok()) {
      return keys;
    }
    Category c;
    try {
      if (!node["id"] || !IsSlug(node["id"].Scalar())) {
        return At(source, node, path + ".id", kSlugRule);
      }
      c.id = node["id"].Scalar();
      if (catalog->index_.count(c.id)) {
        return At(source, node["id"], path + ".id", absl::StrCat("'", c.id, "' twice"));
      }
      if (node["parent"]) {
        c.parent = node["parent"].Scalar();
        if (!IsSlug(c.parent)) return At(source, node["parent"], path + ".parent", kSlugRule);
        if (c.parent == c.id) return At(source, node["parent"], path + ".parent", "its own id");
      }
      if (absl::Status s = ReadTexts(source, node["labels"], path + ".labels", true, c.labels);
          !s.ok()) {
        return s;
      }
      if (absl::Status s = ReadTexts(source, node["descriptions"], path + ".descriptions", false,
                                     c.descriptions);
          !s.ok()) {
        return s;
      }
      if (const YAML::Node keywords = node["keywords"]) {
        if (!keywords.IsSequence()) {
          return At(source, keywords, path + ".keywords", "must be a list of words");
        }
        for (const auto& k : keywords) {
          if (!k.IsScalar() || k.Scalar().empty() || k.Scalar().size() > 100) {
            return At(source, k, path + ".keywords", "a keyword is 1-100 characters");
          }
          c.keywords.push_back(k.Scalar());
        }
      }
      if (node["group"]) {
        c.group = node["group"].Scalar();
        if (!IsSlug(c.group)) return At(source, node["group"], path + ".group", kSlugRule);
      }
      if (node["active"]) {
        const std::string v = node["active"].Scalar();
        if (v != "true" && v != "false") {
          return At(source, node["active"], path + ".active", "true or false");
        }
        c.active = v == "true";
      }
      if (node["service_code"]) {
        c.service_code = node["service_code"].Scalar();
        const bool printable =
            !c.service_code.empty() && c.service_code.size() <= 64 &&
            c.service_code.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") ==
                std::string::npos;
        if (!printable) {
          return At(source, node["service_code"], path + ".service_code",
                    "1-64 characters of letters, digits, '-', '_' and '.'");
        }
        auto [it, fresh] = codes.emplace(c.service_code, c.id);
        if (!fresh) {
          return At(source, node["service_code"], path + ".service_code",
                    absl::StrCat("'", c.service_code, "' is also the code of '", it->second, "'"));
        }
      }
    } catch (const YAML::Exception& e) {
      return At(source, node, path, e.what());
    }
    catalog->index_[c.id] = catalog->categories_.size();
    catalog->categories_.push_back(std::move(c));
    nodes.push_back(node);
  }
  // Every parent exists, and following parents ends at the top.
  for (size_t i = 0; i < catalog->categories_.size(); ++i) {
    const Category& c = catalog->categories_[i];
    const std::string path = absl::StrCat("categories[", i, "].parent");
    if (!c.parent.empty() && !catalog->index_.count(c.parent)) {
      return At(source, nodes[i]["parent"], path,
                absl::StrCat("'", c.parent, "' is not a category of this file"));
    }
    std::set<std::string> seen = {c.id};
    for (const Category* up = catalog->Find(c.parent); up != nullptr;
         up = catalog->Find(up->parent)) {
      if (!seen.insert(up->id).second) {
        return At(source, nodes[i]["parent"], path,
                  absl::StrCat("the parents of '", c.id, "' go round in a circle"));
      }
    }
  }
  if (const YAML::Node departments = root["departments"]) {
    if (!departments.IsSequence()) {
      return At(source, departments, "departments", "must be a list of departments");
    }
    std::set<std::string> ids;
    for (size_t i = 0; i < departments.size(); ++i) {
      const YAML::Node node = departments[i];
      const std::string path = absl::StrCat("departments[", i, "]");
      if (absl::Status keys = CheckKeys(source, node, path, {"id", "labels"}); !keys.ok()) {
        return keys;
      }
      DepartmentNames d;
      try {
        if (!node["id"] || !IsSlug(node["id"].Scalar())) {
          return At(source, node, path + ".id", kSlugRule);
        }
        d.id = node["id"].Scalar();
        if (!ids.insert(d.id).second) {
          return At(source, node["id"], path + ".id", absl::StrCat("'", d.id, "' twice"));
        }
        if (absl::Status s = ReadTexts(source, node["labels"], path + ".labels", true, d.labels);
            !s.ok()) {
          return s;
        }
      } catch (const YAML::Exception& e) {
        return At(source, node, path, e.what());
      }
      catalog->departments_.push_back(std::move(d));
    }
  }
  return std::shared_ptr<const Catalog>(std::move(catalog));
}

std::string Catalog::DepartmentLabel(const std::string& id, t::Language language) const {
  for (const DepartmentNames& d : departments_) {
    if (d.id == id) return d.labels.In(language);
  }
  return id;
}

const Category* Catalog::Find(const std::string& id) const {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : &categories_[it->second];
}

std::vector<std::string> Catalog::Ancestors(const std::string& id) const {
  std::vector<std::string> out;
  for (const Category* c = Find(id); c != nullptr; c = Find(c->parent)) out.push_back(c->id);
  return out;
}

bool Catalog::IsWithin(const std::string& id, const std::string& ancestor) const {
  for (const Category* c = Find(id); c != nullptr; c = Find(c->parent)) {
    if (c->id == ancestor) return true;
  }
  return false;
}

std::string Catalog::Label(const std::string& id, t::Language language) const {
  const Category* c = Find(id);
  return c == nullptr ? id : c->labels.In(language);
}

}  // namespace meldpunt::catalog
