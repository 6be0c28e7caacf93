#include "text/qwen2_pre_tokenizer.h"

#include <tokenflow/error.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>
#include <new>
#include <string>

namespace tokenflow::text {

const char* const kQwen2PreTokenizerPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace {

// The same pattern for PCRE2. Python's `regex` (and Oniguruma, which `tokenizers` uses) read \s as the
// Unicode White_Space property; PCRE2's \s under UCP adds U+180E MONGOLIAN VOWEL SEPARATOR, which
// stopped being white space in Unicode 6.3, so the property is named instead.
const char* const kPcre2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\p{White_Space}\p{L}\p{N}]+[\r\n]*)"
    R"(|\p{White_Space}*[\r\n]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+)";

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  return pcre2_get_error_message(code, buffer, sizeof(buffer)) < 0 ? "error " + std::to_string(code)
                                                                   : reinterpret_cast<const char*>(buffer);
}

// Compiled once; PCRE2 allows one compiled pattern to be matched from many threads.
const pcre2_code* compiled_pattern() {
  static const pcre2_code* const code = [] {
    int error = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* compiled = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kPcre2Pattern), PCRE2_ZERO_TERMINATED,
                                         PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
    if (!compiled) throw Error("Qwen2 pre-tokenizer regex: " + pcre2_message(error) + " at " + std::to_string(offset));
    return compiled;
  }();
  return code;
}

}  // namespace

std::vector<std::string_view> qwen2_pre_tokens(std::string_view text) {
  const pcre2_code* code = compiled_pattern();
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match(
      pcre2_match_data_create_from_pattern(code, nullptr), &pcre2_match_data_free);
  if (!match) throw std::bad_alloc();
  std::vector<std::string_view> pieces;
  // PCRE2 validates the UTF-8 from the start offset to the end on every call: once is enough.
  uint32_t options = 0;
  for (size_t at = 0; at < text.size();) {
    const int found = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), at, options, match.get(), nullptr);
    if (found == PCRE2_ERROR_NOMATCH) break;
    if (found < 0) throw Error("Qwen2 pre-tokenizer: " + pcre2_message(found));
    const PCRE2_SIZE* span = pcre2_get_ovector_pointer(match.get());
    pieces.push_back(text.substr(span[0], span[1] - span[0]));
    at = span[1];  // every alternative takes at least one character
    options = PCRE2_NO_UTF_CHECK;
  }
  return pieces;
}

}  // namespace tokenflow::text
