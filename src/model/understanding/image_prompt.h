#pragma once
// mm_utils.tokenizer_image_token: a prompt's ids with the image marker where "<image>" stood.
#include "text/byte_level_bpe.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tokenflow::understanding {

// Each chunk between image placeholders tokenised on its own (Qwen2 adds no BOS), the chunks joined
// by kImageToken.
std::vector<int64_t> image_prompt_ids(const text::ByteLevelBpe& tokenizer, const std::string& prompt);

}  // namespace tokenflow::understanding
