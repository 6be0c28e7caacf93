// The public API (include/tokenflow/tokenflow.h) over TokenFlowNet.
#include <tokenflow/tokenflow.h>

#include "io/checkpoint.h"
#include "model/presets.h"
#include "model/tokenflow_net.h"
#include "nn/weights.h"

#include <sstream>

namespace tokenflow {

namespace {

torch::Tensor to_cpu(const torch::Tensor& x) { return x.to(torch::kCPU); }

}  // namespace

struct Model::Impl {
  std::shared_ptr<model::TokenFlowNet> net;
  std::map<std::string, std::string> metadata;  // the checkpoint's safetensors __metadata__

  void check_images(const torch::Tensor& images) const {
    const int size = net->config.image_size;
    if (images.dim() != 4 || images.size(1) != 3 || images.size(2) != size || images.size(3) != size) {
      throw Error("images must be B x 3 x " + std::to_string(size) + " x " + std::to_string(size) + ", got " +
                  nn::shape_string(images.sizes()));
    }
  }

  torch::Tensor prepare_images(const torch::Tensor& images) const {
    check_images(images);
    return images.to(net->device, torch::kFloat32).contiguous();
  }

  // Indices must be B x L with L the token count of a prefix of whole scales (the official
  // decode_code accepts such prefixes) and every value inside the codebook.
  torch::Tensor prepare_indices(const torch::Tensor& indices) const {
    const auto& c = net->config;
    if (indices.dim() != 2) throw Error("token indices must be B x L, got " + nn::shape_string(indices.sizes()));
    if (!c10::isIntegralType(indices.scalar_type(), /*includeBool=*/false)) throw Error("token indices must be integers");
    int64_t total = 0;
    std::ostringstream schedule;
    bool matches = false;
    for (int scale : c.scales) {
      total += static_cast<int64_t>(scale) * scale;
      schedule << (schedule.tellp() > 0 ? "," : "") << scale;
      if (total == indices.size(1)) matches = true;
    }
    if (!matches) {
      throw Error(std::to_string(indices.size(1)) + " tokens per image do not match the scales " + schedule.str() +
                  " (" + std::to_string(c.tokens_per_image) + " for all)");
    }
    auto as_long = indices.to(torch::kLong);
    if (as_long.numel() > 0) {
      const int64_t low = as_long.min().item<int64_t>(), high = as_long.max().item<int64_t>();
      if (low < 0) throw Error("token index " + std::to_string(low) + " is negative");
      if (high >= c.codebook_size) {
        throw Error("token index " + std::to_string(high) + " is outside the codebook of " +
                    std::to_string(c.codebook_size) + " entries");
      }
    }
    return as_long;
  }

  void check_features(const torch::Tensor& features) const {
    const auto& c = net->config;
    if (features.dim() != 4 || features.size(1) != c.code_dim() || features.size(2) != c.grid() ||
        features.size(3) != c.grid()) {
      throw Error("features must be B x " + std::to_string(c.code_dim()) + " x " + std::to_string(c.grid()) + " x " +
                  std::to_string(c.grid()) + ", got " + nn::shape_string(features.sizes()));
    }
  }
};

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

namespace {

std::unique_ptr<Model::Impl> make_impl(std::shared_ptr<model::TokenFlowNet> net, const LoadOptions& options) {
  if (options.tile < 0 || options.tile == 1) {
    throw Error("decoding tiles must be at least 2 feature positions, got " + std::to_string(options.tile));
  }
  net->eval();
  Precision precision = options.precision;
  if (precision == Precision::Auto) precision = native_bf16(options.device) ? Precision::Mixed : Precision::Fp32;
  net->configure_inference(precision, torch::Device(options.device));
  net->decode_tile = options.tile;
  int64_t parameters = 0;
  for (const auto& p : net->parameters()) parameters += p.numel();
  net->config.parameter_count = parameters;
  auto impl = std::make_unique<Model::Impl>();
  impl->net = std::move(net);
  return impl;
}

}  // namespace

Model Model::load(const std::string& path, const LoadOptions& options) {
  const io::StateDict state = io::load_state_dict(path);
  auto net = std::make_shared<model::TokenFlowNet>(model::detect_architecture(state, options, path));
  nn::load_weights(*net, state, path);
  auto impl = make_impl(std::move(net), options);
  impl->metadata = state.metadata;
  return Model(std::move(impl));
}

Model Model::random(const std::string& architecture, uint64_t seed, const LoadOptions& options) {
  torch::manual_seed(seed);
  auto net = std::make_shared<model::TokenFlowNet>(model::released_architecture(architecture));
  return Model(make_impl(std::move(net), options));
}

const ModelConfig& Model::config() const { return impl_->net->config; }

const std::map<std::string, std::string>& Model::metadata() const { return impl_->metadata; }

Precision Model::precision() const {
  const auto& net = *impl_->net;
  if (net.encoder_dtype == torch::kBFloat16) return Precision::Bf16;
  return net.decoder_dtype == torch::kBFloat16 ? Precision::Mixed : Precision::Fp32;
}

torch::Tensor Model::semantic_features(const torch::Tensor& images) const {
  torch::NoGradGuard no_grad;
  return to_cpu(impl_->net->semantic_features(impl_->prepare_images(images)));
}

torch::Tensor Model::pixel_features(const torch::Tensor& images) const {
  torch::NoGradGuard no_grad;
  return to_cpu(impl_->net->pixel_features(impl_->prepare_images(images)));
}

EncodeResult Model::encode(const torch::Tensor& images) const {
  torch::NoGradGuard no_grad;
  auto result = impl_->net->encode(impl_->prepare_images(images));
  return {to_cpu(result.indices), to_cpu(result.features)};
}

torch::Tensor Model::indices_to_features(const torch::Tensor& indices) const {
  torch::NoGradGuard no_grad;
  return to_cpu(impl_->net->indices_to_features(impl_->prepare_indices(indices)));
}

torch::Tensor Model::decode_features(const torch::Tensor& features) const {
  torch::NoGradGuard no_grad;
  impl_->check_features(features);
  return to_cpu(impl_->net->decode_pixels(features.to(torch::kFloat32)));
}

torch::Tensor Model::decode_indices(const torch::Tensor& indices) const {
  torch::NoGradGuard no_grad;
  auto& net = *impl_->net;
  return to_cpu(net.decode_pixels(net.indices_to_features(impl_->prepare_indices(indices))));
}

torch::Tensor Model::semantic_reconstruction(const torch::Tensor& features) const {
  torch::NoGradGuard no_grad;
  impl_->check_features(features);
  return to_cpu(impl_->net->decode_semantic(features.to(torch::kFloat32)));
}

torch::Tensor Model::understanding_features(const torch::Tensor& images) const {
  return understanding_layout(encode(images).features);
}

torch::Tensor Model::understanding_layout(const torch::Tensor& features) {
  return features.flatten(2).transpose(1, 2).contiguous();
}

}  // namespace tokenflow
