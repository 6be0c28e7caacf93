#include "model/tokenizer/vision_tower_file.h"

#include <tokenflow/error.h>

#include <filesystem>

namespace tokenflow::model {

std::string vision_tower_file(const std::string& folder, const std::string& mm_vision_tower) {
  const auto name = std::filesystem::path(mm_vision_tower).filename().string();
  if (name.empty() || name == "." || name == "..") {
    throw Error(folder + "/config.json: mm_vision_tower names no tokenizer checkpoint (give one with --tokenizer)");
  }
  const auto path = (std::filesystem::path(folder) / name).string();
  if (!std::filesystem::is_regular_file(path)) {
    throw Error(path + ": no such tokenizer checkpoint (config.json's mm_vision_tower; give one with --tokenizer)");
  }
  return path;
}

}  // namespace tokenflow::model
