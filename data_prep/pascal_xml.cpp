// Implements: a small recursive-descent XML element parser, enough for
// PASCAL annotation files, and the <object> walk over its tree.
#include "data_prep/pascal_xml.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "util/error.h"
#include "util/fs.h"

namespace c2am::data_prep {
namespace {

struct Element {
  std::string tag;
  std::string text;  // concatenated character data directly inside, entities decoded
  int line = 0;
  std::vector<Element> children;

  const Element* child(const std::string& name) const {
    for (const Element& c : children)
      if (c.tag == name) return &c;
    return nullptr;
  }
};

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

class Parser {
 public:
  Parser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  Element document() {
    skip_misc();
    if (!at("<")) fail("expected the root element");
    Element root = element();
    skip_misc();
    if (pos_ < s_.size()) fail("text after the root element");
    return root;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(fmt::format("{}:{}: malformed XML: {}", path_, line_, what));
  }
  bool at(const char* lit) const { return s_.compare(pos_, std::char_traits<char>::length(lit), lit) == 0; }
  void advance(std::size_t n) {
    for (std::size_t i = 0; i < n && pos_ < s_.size(); ++i, ++pos_)
      if (s_[pos_] == '\n') ++line_;
  }
  // Skips past `end`, failing with `what` if it never comes.
  void skip_past(const char* end, const char* what) {
    const std::size_t e = s_.find(end, pos_);
    if (e == std::string::npos) fail(fmt::format("unterminated {}", what));
    advance(e + std::char_traits<char>::length(end) - pos_);
  }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) advance(1);
  }
  // Whitespace, <?...?>, <!--...-->, <!DOCTYPE ...>.
  void skip_misc() {
    for (;;) {
      skip_space();
      if (at("<?"))
        skip_past("?>", "processing instruction");
      else if (at("<!--"))
        skip_past("-->", "comment");
      else if (at("<!"))
        skip_past(">", "declaration");
      else
        return;
    }
  }
  std::string name() {
    const std::size_t b = pos_;
    while (pos_ < s_.size() && !std::isspace(static_cast<unsigned char>(s_[pos_])) && s_[pos_] != '>' &&
           s_[pos_] != '/')
      advance(1);
    if (pos_ == b) fail("expected a tag name");
    return s_.substr(b, pos_ - b);
  }
  void append_text(std::string& out, std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      if (s_[i] != '&') {
        out += s_[i];
        continue;
      }
      static const std::pair<const char*, char> kEntities[] = {
          {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
      bool known = false;
      for (const auto& [ent, ch] : kEntities) {
        if (s_.compare(i, std::char_traits<char>::length(ent), ent) == 0) {
          out += ch;
          i += std::char_traits<char>::length(ent) - 1;
          known = true;
          break;
        }
      }
      if (!known) out += '&';  // numeric or unknown entity: kept verbatim
    }
  }
  Element element() {
    Element el;
    el.line = line_;
    advance(1);  // '<'
    el.tag = name();
    // Attributes are skipped (quoted values may hold '>').
    for (;;) {
      if (pos_ >= s_.size()) fail(fmt::format("unterminated tag <{}>", el.tag));
      const char c = s_[pos_];
      if (c == '"' || c == '\'') {
        const std::size_t e = s_.find(c, pos_ + 1);
        if (e == std::string::npos) fail("unterminated attribute value");
        advance(e + 1 - pos_);
      } else if (at("/>")) {
        advance(2);
        return el;
      } else if (c == '>') {
        advance(1);
        break;
      } else {
        advance(1);
      }
    }
    for (;;) {
      if (pos_ >= s_.size()) fail(fmt::format("element <{}> (line {}) is not closed", el.tag, el.line));
      if (at("</")) {
        advance(2);
        const std::string end = name();
        if (end != el.tag) fail(fmt::format("</{}> closes <{}> (line {})", end, el.tag, el.line));
        skip_space();
        if (!at(">")) fail(fmt::format("expected '>' after </{}", end));
        advance(1);
        return el;
      }
      if (at("<!--")) {
        skip_past("-->", "comment");
      } else if (at("<![CDATA[")) {
        const std::size_t b = pos_ + 9, e = s_.find("]]>", b);
        if (e == std::string::npos) fail("unterminated CDATA section");
        el.text += s_.substr(b, e - b);
        advance(e + 3 - pos_);
      } else if (at("<?")) {
        skip_past("?>", "processing instruction");
      } else if (at("<")) {
        el.children.push_back(element());
      } else {
        const std::size_t b = pos_, e = std::min(s_.find('<', pos_), s_.size());
        append_text(el.text, b, e);
        advance(e - b);
      }
    }
  }

  const std::string& s_;
  const std::string& path_;
  std::size_t pos_ = 0;
  int line_ = 1;
};

float number(const Element& parent, const char* tag, const std::string& path) {
  const Element* e = parent.child(tag);
  if (e == nullptr) throw Error(fmt::format("{}:{}: <{}> has no <{}>", path, parent.line, parent.tag, tag));
  const std::string t = trim(e->text);
  char* end = nullptr;
  const float v = std::strtof(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size())
    throw Error(fmt::format("{}:{}: <{}> '{}' is not a number", path, e->line, tag, t));
  if (!std::isfinite(v)) throw Error(fmt::format("{}:{}: <{}> '{}' is not finite", path, e->line, tag, t));
  return v;
}

}  // namespace

std::vector<XmlObject> parse_pascal_objects(const std::string& text, const std::string& path) {
  const Element root = Parser(text, path).document();
  std::vector<XmlObject> objects;
  for (const Element& o : root.children) {
    if (o.tag != "object") continue;
    XmlObject x;
    x.line = o.line;
    const Element* name = o.child("name");
    if (name == nullptr || trim(name->text).empty())
      throw Error(fmt::format("{}:{}: <object> has no <name>", path, o.line));
    x.name = trim(name->text);
    const Element* b = o.child("bndbox");
    if (b == nullptr) throw Error(fmt::format("{}:{}: <object> has no <bndbox>", path, o.line));
    x.box = image::Box{number(*b, "xmin", path), number(*b, "ymin", path), number(*b, "xmax", path),
                      number(*b, "ymax", path)};
    if (x.box.x1 < x.box.x0 || x.box.y1 < x.box.y0)
      throw Error(fmt::format("{}:{}: box ({}, {}, {}, {}) has max < min", path, b->line, x.box.x0, x.box.y0,
                              x.box.x1, x.box.y1));
    objects.push_back(std::move(x));
  }
  return objects;
}

std::vector<XmlObject> read_pascal_objects(const std::string& path) {
  return parse_pascal_objects(util::read_file(path), path);
}

}  // namespace c2am::data_prep
