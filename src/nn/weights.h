#pragma once
// Moving tensors between a StateDict (names as in the official PyTorch code) and a module tree
// whose parameter names mirror them.
#include "io/state_dict.h"

#include <torch/torch.h>

#include <memory>
#include <string>

namespace tokenflow::nn {

// Copies every parameter and buffer of `module` from `state` (converted to float32). Names in
// `state` are `prefix` + the module's own names. Tensors in `state` that the module does not have
// are ignored. Throws tokenflow::Error naming `source` for a missing tensor or a shape mismatch.
void load_weights(torch::nn::Module& module, const io::StateDict& state, const std::string& source,
                  const std::string& prefix = "");

// The module's parameters and buffers as a StateDict, with `prefix` prepended to every name.
io::StateDict collect_weights(const torch::nn::Module& module, const std::string& prefix = "");

// Whether the checkpoint stores `name` in 16 bits (bfloat16 or float16): a model's Auto precision
// keeps such weights in bfloat16 rather than doubling them to float32.
bool stored_in_half(const io::StateDict& state, const std::string& name);

// Hands a module the tensors under its prefix, for modules built from a checkpoint's tensors rather
// than initialised and then overwritten: a large model then exists once, in the file's memory when
// the dtype already matches (no copy), else converted once.
class TensorTable {
 public:
  // options: the dtype and device the tensors are handed out in.
  TensorTable(const io::StateDict& state, std::string source, torch::TensorOptions options, std::string prefix = "");
  // A table that makes its tensors up, for benchmarks at sizes whose weights are not at hand: each
  // take() draws N(0, std) for a matrix and 1 + N(0, std) for a vector (norm weights and biases near
  // a trained model's scale), from one generator seeded with `seed`. It contains every name.
  static TensorTable random(std::string source, torch::TensorOptions options, uint64_t seed, double std = 0.02);

  // The tensor `prefix` + `name`, checked against `shape`, in the table's dtype and device. Throws
  // tokenflow::Error naming the source for a missing tensor or another shape.
  torch::Tensor take(const std::string& name, torch::IntArrayRef shape) const;
  // A 2-D tensor of `columns` columns whose row count the checkpoint decides (at least one).
  torch::Tensor take_rows(const std::string& name, int64_t columns) const;
  // The same table one level down: under("layers.0.") hands out "<prefix>layers.0.<name>".
  TensorTable under(const std::string& prefix) const;
  bool contains(const std::string& name) const;
  // The elements handed out so far by this table and the tables under() made from it: the parameter
  // count of what was built from it.
  int64_t taken_elements() const { return *taken_; }
  const torch::TensorOptions& options() const { return options_; }
  const std::string& source() const { return source_; }

 private:
  const torch::Tensor& find(const std::string& name) const;

  const io::StateDict* state_ = nullptr;  // null: random
  std::shared_ptr<torch::Generator> generator_;
  double std_ = 0;
  std::string source_;
  torch::TensorOptions options_;
  std::string prefix_;
  std::shared_ptr<int64_t> taken_;
};

}  // namespace tokenflow::nn
