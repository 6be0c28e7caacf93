#include "train/lpips.h"

#include "io/checkpoint.h"
#include "io/shape_string.h"
#include "nn/weights.h"

#include <tokenflow/error.h>

namespace tokenflow::train {

namespace {

// torchvision's vgg16().features split as LPIPS splits it: the index of every 3x3 conv (each followed
// by a ReLU), per slice; a 2x2 max-pool opens every slice but the first.
const std::vector<std::vector<int>> kSliceConvs = {{0, 2}, {5, 7}, {10, 12, 14}, {17, 19, 21}, {24, 26, 28}};
const std::vector<int> kSliceChannels = {64, 128, 256, 512, 512};

// The official ScalingLayer's constants (fixed, not learned).
const std::vector<float> kShift = {-.030f, -.088f, -.188f};
const std::vector<float> kScale = {.458f, .448f, .450f};
// A file may store them rounded (the parity fixture keeps float16): closer than this counts as equal.
constexpr double kScalingTolerance = 1e-3;

torch::Tensor channel_vector(const std::vector<float>& values) {
  return torch::tensor(values).reshape({1, 3, 1, 1});
}

// normalize_tensor: unit length along the channels.
torch::Tensor normalize_channels(const torch::Tensor& x) {
  return x / (torch::sqrt(x.pow(2).sum(1, /*keepdim=*/true)) + 1e-10);
}

std::string joined(const std::vector<std::string>& paths) {
  std::string text;
  for (const auto& path : paths) text += (text.empty() ? "" : " + ") + path;
  return text;
}

io::StateDict merged_files(const std::vector<std::string>& paths) {
  io::StateDict merged;
  for (const auto& path : paths) {
    const auto state = io::load_state_dict(path);
    for (const auto& name : state.names) {
      if (merged.contains(name)) throw Error(path + ": tensor " + name + " is also in an earlier LPIPS file");
      merged.insert(name, state.tensors.at(name));
    }
  }
  return merged;
}

// Puts torchvision's `features.N.*` under the official `net.sliceK.N.*` names.
void name_trunk_as_official(io::StateDict& state, const std::string& source) {
  for (size_t slice = 0; slice < kSliceConvs.size(); ++slice) {
    for (int index : kSliceConvs[slice]) {
      for (const std::string field : {"weight", "bias"}) {
        const std::string official =
            "net.slice" + std::to_string(slice + 1) + "." + std::to_string(index) + "." + field;
        const std::string torchvision = "features." + std::to_string(index) + "." + field;
        if (state.contains(official)) continue;
        if (!state.contains(torchvision)) {
          throw Error(source + ": missing tensor " + official + " (torchvision: " + torchvision + ")");
        }
        state.insert(official, state.tensors.at(torchvision));
      }
    }
  }
}

// scaling_layer.* in a file must agree with the constants to float16 precision; the exact constants are
// used either way, as the official run computed with them (the fixture's float16 copy would move p_loss
// by 9e-6 relative).
void use_official_scaling(io::StateDict& state, const std::string& source) {
  const std::pair<std::string, torch::Tensor> constants[] = {{"scaling_layer.shift", channel_vector(kShift)},
                                                             {"scaling_layer.scale", channel_vector(kScale)}};
  for (const auto& [name, value] : constants) {
    if (state.contains(name)) {
      const auto& stored = state.tensors.at(name);
      if (stored.sizes() != value.sizes()) {
        throw Error(source + ": tensor " + name + " has shape " + io::shape_string(stored.sizes()) + " where " +
                    io::shape_string(value.sizes()) + " was expected");
      }
      if ((stored.to(torch::kDouble) - value.to(torch::kDouble)).abs().max().item<double>() > kScalingTolerance) {
        throw Error(source + ": tensor " + name + " differs from the official LPIPS constants");
      }
    }
    state.insert(name, value);
  }
}

}  // namespace

Lpips::Lpips() {
  auto scaling = register_module("scaling_layer", std::make_shared<torch::nn::Module>());
  shift = scaling->register_buffer("shift", channel_vector(kShift));
  scale = scaling->register_buffer("scale", channel_vector(kScale));

  auto net = register_module("net", std::make_shared<torch::nn::Module>());
  int channels = 3;
  for (size_t s = 0; s < kSliceConvs.size(); ++s) {
    auto slice = net->register_module("slice" + std::to_string(s + 1), std::make_shared<torch::nn::Module>());
    slices.emplace_back();
    for (int index : kSliceConvs[s]) {
      auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, kSliceChannels[s], 3).padding(1));
      slices.back().push_back(slice->register_module(std::to_string(index), conv));
      channels = kSliceChannels[s];
    }
  }

  // lin K . model . 1: index 0 of the official nn.Sequential is its Dropout, which has no weights.
  for (size_t k = 0; k < kSliceChannels.size(); ++k) {
    auto lin = register_module("lin" + std::to_string(k), std::make_shared<torch::nn::Module>());
    auto model = lin->register_module("model", std::make_shared<torch::nn::Module>());
    auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(kSliceChannels[k], 1, 1).bias(false));
    lins.push_back(model->register_module("1", conv));
  }

  for (auto& parameter : parameters()) parameter.set_requires_grad(false);
  eval();
}

std::vector<torch::Tensor> Lpips::features(const torch::Tensor& images) {
  auto h = (images - shift) / scale;
  std::vector<torch::Tensor> outputs;
  for (size_t s = 0; s < slices.size(); ++s) {
    if (s > 0) h = torch::max_pool2d(h, /*kernel_size=*/{2, 2}, /*stride=*/{2, 2});
    for (auto& conv : slices[s]) h = torch::relu(conv(h));
    outputs.push_back(h);
  }
  return outputs;
}

torch::Tensor Lpips::forward(const torch::Tensor& input, const torch::Tensor& target) {
  // Two trunk calls, not one on the concatenated batch, as the official forward.
  const auto input_features = features(input);
  const auto target_features = features(target);
  torch::Tensor distance;
  for (size_t k = 0; k < lins.size(); ++k) {
    auto difference = (normalize_channels(input_features[k]) - normalize_channels(target_features[k])).pow(2);
    // The official Dropout (p 0.5) before each head, active in train mode only. The official training loop
    // calls .train() on the loss module and so trains with it; the parity fixture's p_loss is reproduced
    // exactly in eval mode (with dropout, seeds tried in PyTorch miss it by 6e-5 to 4e-4 relative).
    difference = torch::dropout(difference, 0.5, is_training());
    auto term = lins[k](difference).mean({2, 3}, /*keepdim=*/true);
    distance = k == 0 ? term : distance + term;
  }
  return distance;
}

std::shared_ptr<Lpips> load_lpips(const std::vector<std::string>& paths) {
  if (paths.empty()) throw Error("LPIPS: no weight file given");
  const std::string source = joined(paths);
  auto state = merged_files(paths);
  name_trunk_as_official(state, source);
  use_official_scaling(state, source);
  auto lpips = std::make_shared<Lpips>();
  nn::load_weights(*lpips, state, source);
  return lpips;
}

}  // namespace tokenflow::train
