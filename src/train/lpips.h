#pragma once
// The perceptual loss of the official training code (tokenizer/lpips.py: richzhang's LPIPS on a
// torchvision VGG16 trunk). Parameter names follow the official LPIPS state dict; every parameter
// is frozen, the inputs keep their gradient (the generator learns through this loss).
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace tokenflow::train {

struct Lpips : torch::nn::Module {
  // Starts in eval mode, as the official `LPIPS().eval()`.
  Lpips();
  // input, target: B x 3 x H x W in [-1, 1]. Returns the distance per image, B x 1 x 1 x 1.
  torch::Tensor forward(const torch::Tensor& input, const torch::Tensor& target);

  torch::Tensor shift, scale;                          // scaling_layer.shift, .scale (fixed constants)
  std::vector<std::vector<torch::nn::Conv2d>> slices;  // net.slice1..5, convs named by their vgg16 index
  std::vector<torch::nn::Conv2d> lins;                 // lin0..lin4 .model.1

 private:
  // relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 of the scaled images.
  std::vector<torch::Tensor> features(const torch::Tensor& images);
};

// Reads the weights from one or more files (.pt or .safetensors), merged: either the official LPIPS
// state dict (`net.sliceK.N.*`, `lin*.model.1.weight`, optional `scaling_layer.*`), or torchvision's
// VGG16 (`features.N.*`; `classifier.*` is ignored) together with the LPIPS linear heads (vgg.pth).
// Throws tokenflow::Error naming the files for a missing tensor, a wrong shape, a tensor in two files
// or scaling constants other than the official ones.
std::shared_ptr<Lpips> load_lpips(const std::vector<std::string>& paths);

}  // namespace tokenflow::train
