#pragma once
// UTF-8 text as the Hugging Face tokenizers see it: bytes that are not UTF-8 replaced the way Python's
// bytes.decode('utf-8', errors='replace') replaces them, Python's white space, and NFC (libutf8proc).
#include <cstddef>
#include <string>
#include <string_view>

namespace tokenflow::text {

// Appends `bytes` to `out` as valid UTF-8: each maximal subpart of an ill-formed sequence (Unicode's
// recommended practice, which Python follows) becomes one U+FFFD. With `complete` false the bytes may
// continue later, so a trailing sequence that is still a valid beginning is held back. Returns how
// many bytes it used: all of them unless some were held back.
size_t append_utf8_replacing_invalid(std::string_view bytes, bool complete, std::string& out);

// `bytes` as valid UTF-8, ill-formed sequences replaced by U+FFFD.
std::string replace_invalid_utf8(std::string_view bytes);

// The code point at `at` in valid UTF-8, moving `at` past it.
char32_t next_code_point(std::string_view text, size_t& at);

// Python's str.isspace(): the Unicode White_Space characters and U+001C..U+001F.
bool is_python_space(char32_t code);

// str.lstrip() / str.rstrip() without arguments, on valid UTF-8.
std::string_view strip_left(std::string_view text);
std::string_view strip_right(std::string_view text);

// Unicode normalisation form C of valid UTF-8.
std::string nfc(const std::string& text);

}  // namespace tokenflow::text
