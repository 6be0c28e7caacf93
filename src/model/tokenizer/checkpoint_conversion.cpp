// `tokenflow convert` as a library call (include/tokenflow/checkpoint.h): a checkpoint's weights
// written as .safetensors, cast as asked.
#include <tokenflow/checkpoint.h>
#include <tokenflow/files.h>

#include "io/checkpoint.h"
#include "io/torch_archive.h"

#include <algorithm>
#include <optional>

namespace tokenflow {

namespace {

const std::map<std::string, torch::ScalarType> kStoredDtypes = {
    {"fp32", torch::kFloat32}, {"bf16", torch::kBFloat16}, {"fp16", torch::kFloat16}};

// Float tensors that hold codebook indices rather than weights: the training's usage window (float32
// in the official code too) would lose every index above 256 in bfloat16, above 2048 in float16.
const std::vector<std::string> kIndexTensors = {"quantize.codebook_used"};

// Casts the weights; integer and bool tensors and kIndexTensors keep their stored type.
void cast_floating_tensors(io::StateDict& state, torch::ScalarType dtype, const std::string& path) {
  for (auto& [name, tensor] : state.tensors) {
    const bool holds_indices = std::find(kIndexTensors.begin(), kIndexTensors.end(), name) != kIndexTensors.end();
    if (!tensor.is_floating_point() || holds_indices) continue;
    torch::Tensor cast = tensor.to(dtype);
    // float16 tops out at 65504; a weight beyond it would silently become infinite.
    if (!torch::equal(torch::isfinite(cast), torch::isfinite(tensor)))
      throw Error(path + ": tensor " + name + " has values beyond the range of " + c10::toString(dtype) +
                  " (bf16 keeps float32's range)");
    tensor = std::move(cast);
  }
}

// A `tokenflow train` checkpoint records its step count under `steps`; other checkpoints have none.
std::optional<int64_t> training_steps(const std::string& path) {
  if (!io::is_torch_archive(path)) return std::nullopt;
  const io::TorchArchive archive(path);
  if (archive.root().get("steps") == nullptr) return std::nullopt;
  return io::checkpoint_steps(archive, path);
}

}  // namespace

void convert_checkpoint(const std::string& input, const std::string& output, const ConvertOptions& options) {
  io::require_extension(output, {".safetensors"}, "the output");
  if (!options.weights.empty() && options.weights != "model" && options.weights != "ema")
    throw Error("unknown weights '" + options.weights + "' (model or ema)");
  if (!options.dtype.empty() && kStoredDtypes.count(options.dtype) == 0)
    throw Error("unknown dtype '" + options.dtype + "' (fp32, bf16 or fp16)");
  auto state = options.weights.empty() ? io::load_state_dict(input) : io::load_state_dict(input, options.weights);
  if (!options.dtype.empty()) cast_floating_tensors(state, kStoredDtypes.at(options.dtype), input);
  // A safetensors input keeps its metadata; the step count and the options' entries add to it.
  if (const auto steps = training_steps(input)) state.metadata["steps"] = std::to_string(*steps);
  for (const auto& [key, value] : options.metadata) state.metadata[key] = value;
  io::save_safetensors(output, state);
}

}  // namespace tokenflow
