#include "model/generator/generation_prefix.h"

#include <tokenflow/error.h>

namespace tokenflow::generator {

const char* const kImageMarker = "<img>";

std::vector<int64_t> generation_prefix(const text::LlamaTokenizer& tokenizer, const std::string& text,
                                       int64_t max_text_tokens) {
  const auto bos = tokenizer.bos_id(), pad = tokenizer.pad_id();
  if (pad < 0) throw Error("the text tokenizer has no pad token, which TokenFlow-t2i prompts need");
  auto ids = tokenizer.encode(text);
  if (ids.empty() || ids.front() != bos) ids.insert(ids.begin(), bos);
  if (static_cast<int64_t>(ids.size()) > max_text_tokens) {
    ids.resize(static_cast<size_t>(max_text_tokens));
  } else {
    ids.insert(ids.begin(), static_cast<size_t>(max_text_tokens) - ids.size(), pad);
  }
  const auto marker = tokenizer.encode(kImageMarker, /*add_special_tokens=*/false);
  ids.insert(ids.end(), marker.begin(), marker.end());
  return ids;
}

}  // namespace tokenflow::generator
