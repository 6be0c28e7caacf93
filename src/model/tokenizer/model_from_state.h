#pragma once
// A Model from tensors already in memory, for a checkpoint that holds a tokenizer among other weights
// (the LLaVA model's vision tower). Model::load is this over a file.
#include <tokenflow/tokenizer.h>

#include "io/state_dict.h"

namespace tokenflow::model {

class ModelFromState {
 public:
  // state: the tokenizer's tensors under their TokenFlow names; `source` names them in errors. Throws
  // tokenflow::Error as Model::load does.
  static Model build(const io::StateDict& state, const std::string& source, const LoadOptions& options);
};

}  // namespace tokenflow::model
