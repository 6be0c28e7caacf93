#include "nn/weights.h"

#include <tokenflow/error.h>

#include "io/shape_string.h"

#include <ATen/CPUGeneratorImpl.h>

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

TensorTable::TensorTable(const io::StateDict& state, std::string source, torch::TensorOptions options, std::string prefix)
    : state_(&state), source_(std::move(source)), options_(options), prefix_(std::move(prefix)), taken_(std::make_shared<int64_t>(0)) {}

TensorTable TensorTable::random(std::string source, torch::TensorOptions options, uint64_t seed, double std) {
  static const io::StateDict kNone;
  TensorTable table(kNone, std::move(source), options);
  table.state_ = nullptr;
  table.generator_ = std::make_shared<torch::Generator>(at::detail::createCPUGenerator(seed));
  table.std_ = std;
  return table;
}

const torch::Tensor& TensorTable::find(const std::string& name) const {
  const auto found = state_->tensors.find(prefix_ + name);
  if (found == state_->tensors.end()) throw Error(source_ + ": missing tensor " + prefix_ + name);
  return found->second;
}

torch::Tensor TensorTable::take_rows(const std::string& name, int64_t columns) const {
  if (state_ == nullptr) throw Error(source_ + ": a random table cannot choose the rows of " + prefix_ + name);
  const auto& stored = find(name);
  const auto rows = stored.dim() == 2 && stored.size(0) > 0 ? stored.size(0) : 1;
  return take(name, {rows, columns});
}

torch::Tensor TensorTable::take(const std::string& name, torch::IntArrayRef shape) const {
  if (state_ == nullptr) {
    auto drawn = torch::randn(shape, *generator_, torch::kFloat32).mul_(std_);
    if (shape.size() == 1) drawn.add_(1.0);
    *taken_ += drawn.numel();
    return drawn.to(options_);
  }
  const torch::Tensor& stored = find(name);
  if (stored.sizes() != shape) {
    throw Error(source_ + ": tensor " + prefix_ + name + " has shape " + io::shape_string(stored.sizes()) + " where " +
                io::shape_string(shape) + " was expected");
  }
  if (!stored.is_floating_point()) throw Error(source_ + ": tensor " + prefix_ + name + " is not floating-point");
  *taken_ += stored.numel();
  return stored.to(options_);
}

TensorTable TensorTable::under(const std::string& prefix) const {
  TensorTable table = *this;
  table.prefix_ = prefix_ + prefix;
  return table;
}

bool TensorTable::contains(const std::string& name) const { return state_ == nullptr || state_->contains(prefix_ + name); }

bool stored_in_half(const io::StateDict& state, const std::string& name) {
  const auto found = state.tensors.find(name);
  return found != state.tensors.end() &&
         (found->second.scalar_type() == torch::kBFloat16 || found->second.scalar_type() == torch::kFloat16);
}

}  // namespace tokenflow::nn
