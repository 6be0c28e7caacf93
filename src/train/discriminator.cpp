#include "train/discriminator.h"

#include "io/shape_string.h"
#include "nn/weights.h"

#include <tokenflow/error.h>

#include <algorithm>

namespace tokenflow::train {

namespace {

torch::nn::Conv2d conv(int in, int out, int stride, bool bias) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, /*kernel_size=*/4).stride(stride).padding(1).bias(bias));
}

torch::nn::LeakyReLU leaky_relu() { return torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.2)); }

// The official _init_weights, after every layer has drawn its PyTorch default (which conv biases keep).
void init_official(torch::nn::Sequential& layers) {
  torch::NoGradGuard no_grad;
  for (auto& layer : layers->children()) {
    if (auto* conv = layer->as<torch::nn::Conv2d>()) {
      torch::nn::init::normal_(conv->weight, 0.0, 0.02);
    } else if (auto* norm = layer->as<torch::nn::BatchNorm2d>()) {
      torch::nn::init::normal_(norm->weight, 1.0, 0.02);
      torch::nn::init::zeros_(norm->bias);
    }
  }
}

}  // namespace

PatchDiscriminator::PatchDiscriminator(int input_channels, int channels, int layers) {
  main = register_module("main", torch::nn::Sequential());
  main->push_back(conv(input_channels, channels, /*stride=*/2, /*bias=*/true));
  main->push_back(leaky_relu());
  // Convs followed by BatchNorm have no bias; the width doubles per layer up to 8 x channels.
  int multiple = 1;
  for (int n = 1; n < layers; ++n) {
    const int previous = multiple;
    multiple = std::min(1 << n, 8);
    main->push_back(conv(channels * previous, channels * multiple, /*stride=*/2, /*bias=*/false));
    main->push_back(torch::nn::BatchNorm2d(channels * multiple));
    main->push_back(leaky_relu());
  }
  const int previous = multiple;
  multiple = std::min(1 << layers, 8);
  main->push_back(conv(channels * previous, channels * multiple, /*stride=*/1, /*bias=*/false));
  main->push_back(torch::nn::BatchNorm2d(channels * multiple));
  main->push_back(leaky_relu());
  main->push_back(conv(channels * multiple, 1, /*stride=*/1, /*bias=*/true));
  init_official(main);
}

torch::Tensor PatchDiscriminator::forward(const torch::Tensor& images) { return main->forward(images); }

std::shared_ptr<PatchDiscriminator> load_discriminator(const io::StateDict& state, const std::string& source) {
  // Sizes from the tensors: the first conv gives input_nc and ndf; there are n_layers + 2 convs.
  const auto first = state.tensors.find("main.0.weight");
  if (first == state.tensors.end()) throw Error(source + ": missing tensor main.0.weight");
  if (first->second.dim() != 4) {
    throw Error(source + ": tensor main.0.weight has shape " + io::shape_string(first->second.sizes()) +
                " where a 4-d conv weight was expected");
  }
  int convs = 0;
  for (const auto& [name, tensor] : state.tensors) {
    if (name.rfind("main.", 0) == 0 && name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0 &&
        tensor.dim() == 4) {
      ++convs;
    }
  }
  if (convs < 3) throw Error(source + ": a PatchGAN discriminator needs at least 3 convs under main.*, found " +
                             std::to_string(convs));
  auto discriminator = std::make_shared<PatchDiscriminator>(static_cast<int>(first->second.size(1)),
                                                            static_cast<int>(first->second.size(0)), convs - 2);
  nn::load_weights(*discriminator, state, source);
  return discriminator;
}

}  // namespace tokenflow::train
