#pragma once
// Qwen2's pre-tokenizer: the regex that cuts text into the pieces byte-level BPE then encodes one by
// one (contractions, letters with at most one leading non-letter, single digits, punctuation runs,
// newlines, spaces), matched with PCRE2 as Python's `regex` module matches it in the slow
// Qwen2Tokenizer (re.findall).
#include <string_view>
#include <vector>

namespace tokenflow::text {

// The pattern as tokenizer.json and transformers write it.
extern const char* const kQwen2PreTokenizerPattern;

// The pieces of `text` (valid UTF-8), in order; they cover the whole text. Throws tokenflow::Error
// when PCRE2 gives up (its match limits).
std::vector<std::string_view> qwen2_pre_tokens(std::string_view text);

}  // namespace tokenflow::text
