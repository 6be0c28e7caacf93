#include "model/teacher/teacher.h"

#include <tokenflow/error.h>

#include "io/checkpoint.h"
#include "nn/clip_vision.h"
#include "nn/siglip_vision.h"
#include "nn/weights.h"

namespace tokenflow::model {

namespace {

int64_t dim(const io::StateDict& state, const std::string& name, int64_t axis, const std::string& source) {
  auto found = state.tensors.find(name);
  if (found == state.tensors.end()) throw Error(source + ": missing tensor " + name);
  return found->second.size(axis);
}

int count_layers(const io::StateDict& state, const std::string& prefix, const std::string& suffix) {
  int count = 0;
  while (state.contains(prefix + std::to_string(count) + suffix)) ++count;
  return count;
}

int checked_heads(int heads, int width, const std::string& source) {
  if (heads <= 0 || width % heads != 0) {
    throw Error(source + ": " + std::to_string(heads) + " attention heads do not divide the teacher width " +
                std::to_string(width));
  }
  return heads;
}

std::shared_ptr<Teacher> make_clip_teacher(const io::StateDict& state, const std::string& source, int heads) {
  const std::string p = "visual.";
  const int width = static_cast<int>(dim(state, p + "conv1.weight", 0, source));
  const int patch = static_cast<int>(dim(state, p + "conv1.weight", -1, source));
  const int positions = static_cast<int>(dim(state, p + "positional_embedding", 0, source));
  const int layers = count_layers(state, p + "transformer.resblocks.", ".attn.in_proj_weight");
  const int output = static_cast<int>(dim(state, p + "proj", 1, source));
  // OpenAI's CLIP builds its vision tower with width / 64 heads.
  const int h = checked_heads(heads ? heads : std::max(1, width / 64), width, source);
  auto teacher = std::make_shared<Teacher>();
  auto tower = std::make_shared<nn::ClipVision>(width, layers, h, patch, positions);
  teacher->projection = tower->register_parameter("proj", torch::zeros({width, output}));
  teacher->tower = teacher->register_module("visual", tower);
  teacher->scaling = nn::ScalingLayer::clip();
  teacher->feature_width = output;
  return teacher;
}

std::shared_ptr<Teacher> make_siglip_teacher(const io::StateDict& state, const std::string& source, int heads) {
  const std::string p = "vision_model.";
  const std::string patch_name = p + "embeddings.patch_embedding.weight";
  const int width = static_cast<int>(dim(state, patch_name, 0, source));
  const int patch = static_cast<int>(dim(state, patch_name, -1, source));
  const int positions = static_cast<int>(dim(state, p + "embeddings.position_embedding.weight", 0, source));
  const int mlp = static_cast<int>(dim(state, p + "encoder.layers.0.mlp.fc1.weight", 0, source));
  const int layers = count_layers(state, p + "encoder.layers.", ".layer_norm1.weight");
  const int h = checked_heads(heads ? heads : width == 1152 ? 16 : std::max(1, width / 64), width, source);
  auto teacher = std::make_shared<Teacher>();
  teacher->tower = teacher->register_module(
      "tower", std::make_shared<nn::SiglipVision>(width, layers, h, mlp, patch, positions,
                                                  state.contains(p + "head.probe")));
  teacher->scaling = std::make_shared<nn::ScalingLayer>();
  teacher->feature_width = width;
  return teacher;
}

}  // namespace

torch::Tensor Teacher::targets(const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  auto features = tower->forward(scaling->forward(images));
  return projection.defined() ? torch::matmul(features, projection) : features;
}

std::shared_ptr<Teacher> make_teacher(const io::StateDict& state, const std::string& source, int heads) {
  if (state.contains("visual.conv1.weight")) return make_clip_teacher(state, source, heads);
  if (state.contains("vision_model.embeddings.patch_embedding.weight")) return make_siglip_teacher(state, source, heads);
  throw Error(source + ": not a CLIP (visual.*) or SigLIP (vision_model.*) teacher");
}

std::shared_ptr<Teacher> load_teacher(const std::string& path, int heads) {
  return load_teacher(io::load_state_dict(path), path, heads);
}

std::shared_ptr<Teacher> load_teacher(const io::StateDict& state, const std::string& path, int heads) {
  auto teacher = make_teacher(state, path, heads);
  // The CLIP tower is registered as `visual`; SigLIP's module tree already starts at `vision_model`.
  if (teacher->projection.defined()) {
    nn::load_weights(*teacher, state, path);
  } else {
    nn::load_weights(*teacher->tower, state, path);
  }
  for (auto& parameter : teacher->parameters()) parameter.requires_grad_(false);
  teacher->eval();
  return teacher;
}

}  // namespace tokenflow::model
