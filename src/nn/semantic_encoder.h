#pragma once
// The semantic encoder: a ViT initialised from a text-aligned teacher. Two layouts exist in the
// official checkpoints, OpenAI CLIP and Hugging Face SigLIP; both give patch features B x N x width.
#include <torch/torch.h>

namespace tokenflow::nn {

struct SemanticEncoder : torch::nn::Module {
  // images: B x 3 x H x W in [-1, 1], as the tokenizer receives them.
  virtual torch::Tensor forward(const torch::Tensor& images) = 0;
};

}  // namespace tokenflow::nn
