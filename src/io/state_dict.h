#pragma once
// A checkpoint's tensors by name, in the order the file lists them.
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

namespace tokenflow::io {

struct StateDict {
  std::vector<std::string> names;             // file order
  std::map<std::string, torch::Tensor> tensors;
  // safetensors __metadata__; for a .pt, the attention heads a tokenflow training checkpoint records
  // (io::load_state_dict), else empty.
  std::map<std::string, std::string> metadata;

  bool contains(const std::string& name) const { return tensors.count(name) != 0; }
  void insert(const std::string& name, torch::Tensor tensor);
};

}  // namespace tokenflow::io
