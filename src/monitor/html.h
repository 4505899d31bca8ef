// Implements: the two text encodings a self-contained HTML page needs:
// escaping for element text and attributes, and base64 for inline images.
#pragma once
#include <string>
#include <string_view>

namespace c2am::monitor {

// &, <, >, " and ' as character references.
std::string html_escape(std::string_view text);
// RFC 4648 base64 with padding, no line breaks.
std::string base64(std::string_view bytes);

}  // namespace c2am::monitor
