#include "io/state_dict.h"

namespace tokenflow::io {

void StateDict::insert(const std::string& name, torch::Tensor tensor) {
  if (!contains(name)) names.push_back(name);
  tensors[name] = std::move(tensor);
}

}  // namespace tokenflow::io
