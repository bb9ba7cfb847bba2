#include "infra/aws/xml.h"

#include <charconv>

namespace bluegreen::aws {

namespace {

constexpr int kMaxDepth = 64;

void append_utf8(std::string& out, unsigned code) {
  if (code < 0x80) {
    out.push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code >> 6)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else if (code < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
}

// Appends `raw` character data to `out`, decoding entity references.
void append_decoded(std::string& out, std::string_view raw) {
  while (!raw.empty()) {
    const auto amp = raw.find('&');
    out.append(raw.substr(0, amp));
    if (amp == std::string_view::npos) return;
    raw.remove_prefix(amp);
    const auto semicolon = raw.find(';');
    if (semicolon == std::string_view::npos || semicolon > 12) {
      out.push_back('&');
      raw.remove_prefix(1);
      continue;
    }
    const std::string_view entity = raw.substr(1, semicolon - 1);
    if (entity == "lt") {
      out.push_back('<');
    } else if (entity == "gt") {
      out.push_back('>');
    } else if (entity == "amp") {
      out.push_back('&');
    } else if (entity == "quot") {
      out.push_back('"');
    } else if (entity == "apos") {
      out.push_back('\'');
    } else if (entity.starts_with('#')) {
      unsigned code = 0;
      const bool hex = entity.size() > 1 && (entity[1] == 'x' || entity[1] == 'X');
      const std::string_view digits = entity.substr(hex ? 2 : 1);
      const auto [end, ec] =
          std::from_chars(digits.data(), digits.data() + digits.size(), code, hex ? 16 : 10);
      if (ec == std::errc{} && end == digits.data() + digits.size() && code <= 0x10FFFF) {
        append_utf8(out, code);
      } else {
        out.append(raw.substr(0, semicolon + 1));
      }
    } else {
      out.append(raw.substr(0, semicolon + 1));
    }
    raw.remove_prefix(semicolon + 1);
  }
}

std::string_view local_name(std::string_view name) {
  const auto colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<XmlNode> document() {
    skip_misc();
    if (at_ >= text_.size() || text_[at_] != '<') return error("no root element");
    auto root = element(0);
    if (!root) return root;
    skip_misc();
    if (at_ != text_.size()) return error("content after the root element");
    return root;
  }

 private:
  std::unexpected<Error> error(const std::string& what) const {
    return std::unexpected(Error{ErrorKind::invalid_input,
                                 "malformed XML at byte " + std::to_string(at_) + ": " + what});
  }

  bool skip_until(std::string_view terminator) {
    const auto end = text_.find(terminator, at_);
    if (end == std::string_view::npos) return false;
    at_ = end + terminator.size();
    return true;
  }

  void skip_space() {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r')) {
      ++at_;
    }
  }

  // Whitespace, comments, processing instructions and a DOCTYPE between elements.
  void skip_misc() {
    while (true) {
      skip_space();
      const std::string_view rest = text_.substr(at_);
      if (rest.starts_with("<?")) {
        if (!skip_until("?>")) at_ = text_.size();
      } else if (rest.starts_with("<!--")) {
        if (!skip_until("-->")) at_ = text_.size();
      } else if (rest.starts_with("<!DOCTYPE")) {
        if (!skip_until(">")) at_ = text_.size();
      } else {
        return;
      }
    }
  }

  Result<XmlNode> element(int depth) {
    if (depth > kMaxDepth) return error("elements nested too deeply");
    ++at_;  // '<'
    const auto name_end = text_.find_first_of(" \t\r\n/>", at_);
    if (name_end == std::string_view::npos || name_end == at_) return error("bad element name");
    XmlNode node;
    const std::string_view qualified = text_.substr(at_, name_end - at_);
    node.name = std::string(local_name(qualified));
    at_ = name_end;
    // Attributes are skipped, minding quoted values that may contain '>'.
    while (at_ < text_.size() && text_[at_] != '>' && text_[at_] != '/') {
      if (text_[at_] == '"' || text_[at_] == '\'') {
        const auto close = text_.find(text_[at_], at_ + 1);
        if (close == std::string_view::npos) return error("unterminated attribute value");
        at_ = close;
      }
      ++at_;
    }
    if (at_ >= text_.size()) return error("unterminated start tag <" + node.name + ">");
    if (text_[at_] == '/') {
      if (at_ + 1 >= text_.size() || text_[at_ + 1] != '>') return error("bad empty-element tag");
      at_ += 2;
      return node;
    }
    ++at_;  // '>'
    while (true) {
      const auto next = text_.find('<', at_);
      if (next == std::string_view::npos) return error("missing end tag </" + node.name + ">");
      append_decoded(node.text, text_.substr(at_, next - at_));
      at_ = next;
      const std::string_view rest = text_.substr(at_);
      if (rest.starts_with("</")) {
        const auto close = text_.find('>', at_);
        if (close == std::string_view::npos) return error("unterminated end tag");
        std::string_view end_name = text_.substr(at_ + 2, close - at_ - 2);
        while (!end_name.empty() && (end_name.back() == ' ' || end_name.back() == '\t' ||
                                     end_name.back() == '\n' || end_name.back() == '\r')) {
          end_name.remove_suffix(1);
        }
        if (end_name != qualified) {
          return error("end tag </" + std::string(end_name) + "> does not close <" +
                       std::string(qualified) + ">");
        }
        at_ = close + 1;
        return node;
      }
      if (rest.starts_with("<![CDATA[")) {
        const auto end = text_.find("]]>", at_ + 9);
        if (end == std::string_view::npos) return error("unterminated CDATA section");
        node.text.append(text_.substr(at_ + 9, end - at_ - 9));
        at_ = end + 3;
      } else if (rest.starts_with("<!--")) {
        if (!skip_until("-->")) return error("unterminated comment");
      } else if (rest.starts_with("<?")) {
        if (!skip_until("?>")) return error("unterminated processing instruction");
      } else {
        auto child = element(depth + 1);
        if (!child) return child;
        node.children.push_back(std::move(*child));
      }
    }
  }

  std::string_view text_;
  std::size_t at_ = 0;
};

}  // namespace

const XmlNode* XmlNode::child(std::string_view child_name) const {
  for (const auto& node : children) {
    if (node.name == child_name) return &node;
  }
  return nullptr;
}

std::string XmlNode::child_text(std::string_view child_name) const {
  const XmlNode* node = child(child_name);
  return node == nullptr ? std::string{} : node->text;
}

std::vector<const XmlNode*> XmlNode::children_named(std::string_view child_name) const {
  std::vector<const XmlNode*> found;
  for (const auto& node : children) {
    if (node.name == child_name) found.push_back(&node);
  }
  return found;
}

std::string XmlNode::grandchild_text(std::string_view outer, std::string_view inner) const {
  const XmlNode* middle = child(outer);
  return middle == nullptr ? std::string{} : middle->child_text(inner);
}

std::vector<const XmlNode*> list_items(const XmlNode* list, std::string_view item_name) {
  return list == nullptr ? std::vector<const XmlNode*>{} : list->children_named(item_name);
}

const XmlNode* XmlNode::find(std::string_view element_name) const {
  if (name == element_name) return this;
  for (const auto& node : children) {
    if (const XmlNode* found = node.find(element_name)) return found;
  }
  return nullptr;
}

Result<XmlNode> parse_xml(std::string_view document) {
  return Parser(document).document();
}

}  // namespace bluegreen::aws
