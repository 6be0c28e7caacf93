#include "model/understanding/image_prompt.h"

#include "model/understanding/conversation.h"
#include "model/understanding/llava_qwen_model.h"

namespace tokenflow::understanding {

std::vector<int64_t> image_prompt_ids(const text::ByteLevelBpe& tokenizer, const std::string& prompt) {
  std::vector<int64_t> ids;
  const std::string placeholder = kImagePlaceholder;
  size_t start = 0;
  while (true) {
    const auto found = prompt.find(placeholder, start);
    const auto chunk = tokenizer.encode(prompt.substr(start, found == std::string::npos ? std::string::npos : found - start));
    ids.insert(ids.end(), chunk.begin(), chunk.end());
    if (found == std::string::npos) return ids;
    ids.push_back(kImageToken);
    start = found + placeholder.size();
  }
}

}  // namespace tokenflow::understanding
