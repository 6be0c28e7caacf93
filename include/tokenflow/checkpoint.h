#pragma once
// Checkpoints as data: what a model is (info), and writing a checkpoint's weights as .safetensors
// (convert), as `tokenflow info` and `tokenflow convert` do.
#include <tokenflow/tokenizer.h>

#include <map>
#include <string>
#include <vector>

namespace tokenflow {

// A model's configuration and provenance as a JSON document (pretty-printed, with a final newline):
// {"model": path, "teacher", "image_size", "scales", ..., "metadata": {...}}.
std::string model_info_json(const std::string& path, const Model& model);
// The same as aligned "key: value" lines, for people.
std::string model_info_text(const std::string& path, const Model& model);

struct ConvertOptions {
  std::string weights;  // "model" or "ema"; empty: what Model::load takes (ema, else model, else state_dict)
  std::string dtype;    // "fp32", "bf16" or "fp16" for floating tensors; empty: as stored
  // Added to the file's __metadata__ after the input's own and the training step count ("steps", from
  // a `tokenflow train` checkpoint); later entries win.
  std::map<std::string, std::string> metadata;
};

// Writes the state dict of the checkpoint `input` (.pt, a training checkpoint too, or .safetensors)
// to `output` (.safetensors, through a temporary file). Tensors that hold codebook indices rather
// than weights keep their type; a cast that would overflow (fp16) throws tokenflow::Error.
void convert_checkpoint(const std::string& input, const std::string& output, const ConvertOptions& options = {});

}  // namespace tokenflow
