#pragma once
// The official PatchGAN discriminator (tokenizer/discriminator_patchgan.py, NLayerDiscriminator
// without ActNorm). Layers are `main.N` as nn.Sequential numbers them; BatchNorm keeps its running
// statistics and num_batches_tracked as buffers, so train and eval mode behave as in PyTorch.
#include "io/state_dict.h"

#include <torch/torch.h>

#include <memory>
#include <string>

namespace tokenflow::train {

struct PatchDiscriminator : torch::nn::Module {
  // The official defaults: input_nc 3, ndf 64, n_layers 3. Initialised as the official code does.
  explicit PatchDiscriminator(int input_channels = 3, int channels = 64, int layers = 3);
  // images: B x input_channels x H x W. Returns one logit per patch, B x 1 x h x w.
  torch::Tensor forward(const torch::Tensor& images);

  torch::nn::Sequential main{nullptr};
};

// A discriminator sized from `state` (main.N.* as the official module saves it) and loaded from it.
// Throws tokenflow::Error naming `source` for a missing tensor or a wrong shape.
std::shared_ptr<PatchDiscriminator> load_discriminator(const io::StateDict& state, const std::string& source);

}  // namespace tokenflow::train
