#pragma once
// The TokenFlow tokenizer checkpoint a LLaVA model folder's config.json names in mm_vision_tower.
#include <string>

namespace tokenflow::model {

// mm_vision_tower names the checkpoint as the training machine saw it; only its file name is looked
// for, inside the folder, so that a config never points the loader elsewhere. Throws tokenflow::Error
// when it names no file or the folder lacks it.
std::string vision_tower_file(const std::string& folder, const std::string& mm_vision_tower);

}  // namespace tokenflow::model
