#pragma once
// A torch.save (or torch.jit.save) zip archive opened for reading: `<name>/data.pkl` (the pickled
// object, read without executing anything) and `<name>/data/<key>` (the raw bytes of each storage),
// whose tensors are read on request. LibTorch's reader finds the records.
#include "io/state_dict.h"
#include "io/torch_pickle.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

#include <memory>
#include <string>

namespace tokenflow::io {

class TorchArchive {
 public:
  // Throws tokenflow::Error("<path>: <problem>") for a missing, truncated or foreign file.
  explicit TorchArchive(const std::string& path);

  const pickle::Value& root() const { return pickle_.root(); }

  // The tensors of `tree`, read from their storages: of a dict, with nested dicts flattened into
  // dotted names; of a TorchScript module object, its tensor attributes and its submodules' named as
  // torch.jit.load(path).state_dict() names them. (A scripted module's tensor attributes that are
  // neither parameters nor buffers, which state_dict() leaves out, are included: only the code in
  // the archive tells them apart.) Only string keys count.
  StateDict read_tensors(const pickle::Value& tree);
  // One tensor, as a contiguous copy.
  torch::Tensor read_tensor(const pickle::TensorRef& ref);

 private:
  std::tuple<at::DataPtr, size_t> record(const std::string& name);
  void check_byte_order();
  torch::Tensor materialize(const pickle::TensorRef& ref, const void* data, size_t size) const;

  std::string path_;
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader_;
  pickle::Unpickled pickle_;
};

// A training checkpoint's `steps` (tokenflow's and the official vq_train.py's). Throws
// tokenflow::Error("<path>: ...") when the archive's root is not a dict with an int `steps`.
int64_t checkpoint_steps(const TorchArchive& archive, const std::string& path);

}  // namespace tokenflow::io
