// A small XML reader for AWS answers (EC2 query protocol, S3 and error documents). It builds a
// tree of elements with their text; attributes, comments, processing instructions and
// namespaces prefixes are dropped, entities and CDATA are decoded. It is not a validating
// parser and not meant for documents from untrusted parties beyond AWS-style answers; it is
// bounded (no entity expansion beyond the predefined and numeric ones, depth limit).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace bluegreen::aws {

struct XmlNode {
  std::string name;  // local name, without namespace prefix
  std::string text;  // the element's own character data, entities decoded
  std::vector<XmlNode> children;

  // The first child element called `child_name`, or nullptr.
  const XmlNode* child(std::string_view child_name) const;
  // The text of child `child_name`, or "" when there is none.
  std::string child_text(std::string_view child_name) const;
  // All children called `child_name`, in order.
  std::vector<const XmlNode*> children_named(std::string_view child_name) const;
  // The text of child `outer`'s child `inner` ("" when either is missing).
  std::string grandchild_text(std::string_view outer, std::string_view inner) const;
  // The first element called `element_name` anywhere below (depth-first), or nullptr.
  const XmlNode* find(std::string_view element_name) const;
};

// The items of a list element (`list` may be nullptr: none): EC2 names them "item", the query
// services "member".
std::vector<const XmlNode*> list_items(const XmlNode* list, std::string_view item_name);

// Parses a document and returns its root element. Errors: invalid_input saying where it broke.
Result<XmlNode> parse_xml(std::string_view document);

}  // namespace bluegreen::aws
