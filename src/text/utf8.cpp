#include "text/utf8.h"

#include <tokenflow/error.h>

#include <utf8proc.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

namespace tokenflow::text {

namespace {

const std::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD

bool is_continuation(uint8_t byte) { return (byte & 0xc0) == 0x80; }

}  // namespace

size_t append_utf8_replacing_invalid(std::string_view bytes, bool complete, std::string& out) {
  size_t at = 0;
  while (at < bytes.size()) {
    const auto lead = static_cast<uint8_t>(bytes[at]);
    if (lead < 0x80) {
      out += static_cast<char>(lead);
      ++at;
      continue;
    }
    // Unicode's table of well-formed sequences (Table 3-7): the length a lead byte announces and the
    // range of the byte after it, which excludes overlong forms, surrogates and code points past
    // U+10FFFF; later bytes are 80..BF.
    size_t length = 0;
    uint8_t low = 0x80, high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead == 0xe0) low = 0xa0;
      if (lead == 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead == 0xf0) low = 0x90;
      if (lead == 0xf4) high = 0x8f;
    } else {
      out += kReplacement;
      ++at;
      continue;
    }
    size_t fitting = 1;
    while (fitting < length && at + fitting < bytes.size()) {
      const auto next = static_cast<uint8_t>(bytes[at + fitting]);
      if (next < (fitting == 1 ? low : 0x80) || next > (fitting == 1 ? high : 0xbf)) break;
      ++fitting;
    }
    if (fitting == length) {
      out.append(bytes.substr(at, length));
    } else if (!complete && at + fitting == bytes.size()) {
      break;
    } else {
      out += kReplacement;
    }
    at += fitting;
  }
  return at;
}

std::string replace_invalid_utf8(std::string_view bytes) {
  std::string valid;
  valid.reserve(bytes.size());
  append_utf8_replacing_invalid(bytes, /*complete=*/true, valid);
  return valid;
}

char32_t next_code_point(std::string_view text, size_t& at) {
  const auto lead = static_cast<uint8_t>(text[at++]);
  if (lead < 0x80) return lead;
  const size_t length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
  char32_t code = lead & (0x7f >> length);
  for (size_t i = 1; i < length && at < text.size(); ++i) code = (code << 6) | (static_cast<uint8_t>(text[at++]) & 0x3f);
  return code;
}

bool is_python_space(char32_t code) {
  return (code >= 0x09 && code <= 0x0d) || (code >= 0x1c && code <= 0x20) || code == 0x85 || code == 0xa0 ||
         code == 0x1680 || (code >= 0x2000 && code <= 0x200a) || code == 0x2028 || code == 0x2029 || code == 0x202f ||
         code == 0x205f || code == 0x3000;
}

std::string_view strip_left(std::string_view text) {
  size_t at = 0;
  while (at < text.size()) {
    size_t next = at;
    if (!is_python_space(next_code_point(text, next))) break;
    at = next;
  }
  return text.substr(at);
}

std::string_view strip_right(std::string_view text) {
  size_t end = text.size();
  while (end > 0) {
    size_t begin = end - 1;
    while (begin > 0 && is_continuation(static_cast<uint8_t>(text[begin]))) --begin;
    size_t at = begin;
    if (!is_python_space(next_code_point(text, at))) break;
    end = begin;
  }
  return text.substr(0, end);
}

std::string nfc(const std::string& text) {
  // ASCII is its own normal form, and most prompts are ASCII.
  if (std::all_of(text.begin(), text.end(), [](char c) { return static_cast<uint8_t>(c) < 0x80; })) return text;
  utf8proc_uint8_t* composed = nullptr;
  const auto length = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                   static_cast<utf8proc_ssize_t>(text.size()), &composed,
                                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (length < 0) throw Error(std::string("NFC normalisation: ") + utf8proc_errmsg(length));
  std::string result(reinterpret_cast<const char*>(composed), static_cast<size_t>(length));
  std::free(composed);
  return result;
}

}  // namespace tokenflow::text
