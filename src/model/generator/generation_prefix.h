#pragma once
// The token ids a TokenFlow-t2i prompt becomes (crop_and_encode_text_and_img in
// t2i/llava_t2i/dataset/process.py, without an image): the text with BOS, cut to its first
// `max_text_tokens` ids or left-padded to them with the pad token, then the image marker "<img>"
// encoded as text. Image token j is then predicted at position size() - 1 + j.
#include "text/llama_tokenizer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tokenflow::generator {

constexpr int64_t kMaxTextTokens = 128;  // run_llava_samples.py's max_text_token_num
extern const char* const kImageMarker;   // "<img>"

std::vector<int64_t> generation_prefix(const text::LlamaTokenizer& tokenizer, const std::string& text,
                                       int64_t max_text_tokens = kMaxTextTokens);

}  // namespace tokenflow::generator
