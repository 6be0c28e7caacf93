#pragma once
// Hugging Face SigLIP vision model (`encoder_vqkd.vision_model.*` of the SigLIP TokenFlow
// checkpoints). TokenFlow uses the hidden state after the second-to-last layer, so the last layer,
// post_layernorm and the pooling head are held (they are part of the checkpoint) but not run.
// Its input is the image after the official ScalingLayerForSigLip (see nn/scaling_layer.h).
#include "nn/semantic_encoder.h"

#include <memory>
#include <vector>

namespace tokenflow::nn {

struct SiglipLayer : torch::nn::Module {
  SiglipLayer(int width, int mlp_width, int heads);
  torch::Tensor forward(const torch::Tensor& x);

  int heads;
  torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};

// The multihead-attention pooling head (`head.*`); TokenFlow never runs it.
struct SiglipPoolingHead : torch::nn::Module {
  SiglipPoolingHead(int width, int mlp_width);
};

struct SiglipVision : SemanticEncoder {
  SiglipVision(int width, int layers, int heads, int mlp_width, int patch, int positions, bool has_head);
  torch::Tensor forward(const torch::Tensor& images) override;

  torch::nn::Conv2d patch_embedding{nullptr};
  torch::nn::Embedding position_embedding{nullptr};
  std::vector<std::shared_ptr<SiglipLayer>> layers;
  torch::nn::LayerNorm post_layernorm{nullptr};
};

}  // namespace tokenflow::nn
