#include "nn/weights.h"

#include <tokenflow/error.h>

#include "io/shape_string.h"

namespace tokenflow::nn {

namespace {

void copy_tensor(torch::Tensor& target, const io::StateDict& state, const std::string& name,
                 const std::string& source) {
  auto found = state.tensors.find(name);
  if (found == state.tensors.end()) throw Error(source + ": missing tensor " + name);
  const torch::Tensor& stored = found->second;
  if (stored.sizes() != target.sizes()) {
    throw Error(source + ": tensor " + name + " has shape " + io::shape_string(stored.sizes()) + " where " +
                io::shape_string(target.sizes()) + " was expected");
  }
  torch::NoGradGuard no_grad;
  target.copy_(stored.to(target.dtype()));
}

}  // namespace

void load_weights(torch::nn::Module& module, const io::StateDict& state, const std::string& source,
                  const std::string& prefix) {
  for (auto& item : module.named_parameters(/*recurse=*/true)) {
    copy_tensor(item.value(), state, prefix + item.key(), source);
  }
  for (auto& item : module.named_buffers(/*recurse=*/true)) {
    copy_tensor(item.value(), state, prefix + item.key(), source);
  }
}

io::StateDict collect_weights(const torch::nn::Module& module, const std::string& prefix) {
  io::StateDict state;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    state.insert(prefix + item.key(), item.value().detach());
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    state.insert(prefix + item.key(), item.value().detach());
  }
  return state;
}

}  // namespace tokenflow::nn
