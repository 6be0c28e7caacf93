// The public API (include/tokenflow/tokenizer.h) over TokenFlowNet.
#include <tokenflow/tokenizer.h>
#include <tokenflow/tokens.h>

#include "io/shape_string.h"
#include "io/checkpoint.h"
#include "model/tokenizer/load_options.h"
#include "model/tokenizer/model_from_state.h"
#include "model/tokenizer/presets.h"
#include "model/tokenizer/tokenflow_net.h"
#include "nn/linear.h"
#include "nn/weights.h"

namespace tokenflow {

struct Model::Impl {
  std::shared_ptr<model::TokenFlowNet> net;
  LoadOptions options;                          // resolved
  std::map<std::string, std::string> metadata;  // the checkpoint's safetensors __metadata__
  ProgressCallback progress;

  // What every call runs under: no gradients, and the products routed as the options say.
  struct CallScope {
    torch::NoGradGuard no_grad;
    nn::OneDnnGemmScope gemm;
    explicit CallScope(const Impl& impl) : gemm(impl.options.onednn_gemm) {}
  };

  // Reports stage `done` of `total` of `call`; throws Cancelled when the callback says stop.
  void report(const char* call, const char* stage, int done, int total) const {
    if (progress && !progress(Progress{call, stage, done, total})) {
      throw Cancelled(std::string(call) + ": cancelled before " + stage);
    }
  }

  torch::Tensor result(const torch::Tensor& x) const { return options.results_on_device ? x : x.to(torch::kCPU); }

  void check_images(const torch::Tensor& images) const {
    const int size = net->config.image_size;
    if (images.dim() != 4 || images.size(1) != 3 || images.size(2) != size || images.size(3) != size) {
      throw Error("images must be B x 3 x " + std::to_string(size) + " x " + std::to_string(size) + ", got " +
                  io::shape_string(images.sizes()));
    }
  }

  torch::Tensor prepare_images(const torch::Tensor& images) const {
    check_images(images);
    return images.to(net->device, torch::kFloat32).contiguous();
  }

  torch::Tensor prepare_indices(const torch::Tensor& indices) const {
    check_tokens(indices, net->config, "token indices");
    return indices.to(net->device, torch::kLong);
  }

  void check_features(const torch::Tensor& features) const {
    const auto& c = net->config;
    if (features.dim() != 4 || features.size(1) != c.code_dim() || features.size(2) != c.grid() ||
        features.size(3) != c.grid()) {
      throw Error("features must be B x " + std::to_string(c.code_dim()) + " x " + std::to_string(c.grid()) + " x " +
                  std::to_string(c.grid()) + ", got " + io::shape_string(features.sizes()));
    }
  }

  // Images -> quantised features and indices, in three reported stages.
  EncodeResult encode(const torch::Tensor& images, const char* call, int total) const {
    auto input = prepare_images(images);
    report(call, "semantic encoder", 0, total);
    auto semantic = net->semantic_features(input);
    report(call, "pixel encoder", 1, total);
    auto pixel = net->pixel_features(input);
    report(call, "code search", 2, total);
    return net->quantize_multiscale(torch::cat({semantic, pixel}, 1));
  }
};

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

namespace {

std::unique_ptr<Model::Impl> make_impl(std::shared_ptr<model::TokenFlowNet> net, const LoadOptions& options) {
  auto impl = std::make_unique<Model::Impl>();
  impl->options = model::resolve(options);
  net->eval();
  net->configure_inference(impl->options);
  net->decode_tile = impl->options.tile;
  int64_t parameters = 0;
  for (const auto& p : net->parameters()) parameters += p.numel();
  net->config.parameter_count = parameters;
  impl->net = std::move(net);
  return impl;
}

}  // namespace

Model Model::load(const std::string& path, const LoadOptions& options) {
  model::resolve(options);  // bad options fail before the file is read
  return model::ModelFromState::build(io::load_state_dict(path), path, options);
}

Model model::ModelFromState::build(const io::StateDict& state, const std::string& source, const LoadOptions& options) {
  const LoadOptions resolved = model::resolve(options);
  auto net = std::make_shared<model::TokenFlowNet>(model::detect_architecture(state, resolved, source));
  nn::load_weights(*net, state, source);
  auto impl = make_impl(std::move(net), resolved);
  impl->metadata = state.metadata;
  return Model(std::move(impl));
}

Model Model::random(const std::string& architecture, uint64_t seed, const LoadOptions& options) {
  torch::manual_seed(seed);
  auto net = std::make_shared<model::TokenFlowNet>(model::released_architecture(architecture));
  return Model(make_impl(std::move(net), options));
}

const ModelConfig& Model::config() const { return impl_->net->config; }

const LoadOptions& Model::options() const { return impl_->options; }

Precision Model::precision() const { return impl_->options.precision; }

const std::map<std::string, std::string>& Model::metadata() const { return impl_->metadata; }

void Model::set_progress(ProgressCallback callback) { impl_->progress = std::move(callback); }

torch::Tensor Model::semantic_features(const torch::Tensor& images) const {
  Impl::CallScope scope(*impl_);
  return impl_->result(impl_->net->semantic_features(impl_->prepare_images(images)));
}

torch::Tensor Model::pixel_features(const torch::Tensor& images) const {
  Impl::CallScope scope(*impl_);
  return impl_->result(impl_->net->pixel_features(impl_->prepare_images(images)));
}

EncodeResult Model::encode(const torch::Tensor& images) const {
  Impl::CallScope scope(*impl_);
  auto encoded = impl_->encode(images, "encode", 3);
  impl_->report("encode", "done", 3, 3);
  return {impl_->result(encoded.indices), impl_->result(encoded.features)};
}

torch::Tensor Model::codebook() const {
  torch::NoGradGuard no_grad;
  return impl_->net->quantize->normalized_codebook();
}

torch::Tensor Model::indices_to_features(const torch::Tensor& indices) const {
  Impl::CallScope scope(*impl_);
  return impl_->result(impl_->net->indices_to_features(impl_->prepare_indices(indices)));
}

torch::Tensor Model::decode_features(const torch::Tensor& features) const {
  Impl::CallScope scope(*impl_);
  impl_->check_features(features);
  impl_->report("decode", "pixel decoder", 0, 1);
  auto images = impl_->net->decode_pixels(features.to(torch::kFloat32));
  impl_->report("decode", "done", 1, 1);
  return impl_->result(images);
}

torch::Tensor Model::decode_indices(const torch::Tensor& indices) const {
  Impl::CallScope scope(*impl_);
  auto& net = *impl_->net;
  auto prepared = impl_->prepare_indices(indices);
  impl_->report("decode", "codebook lookup", 0, 2);
  auto features = net.indices_to_features(prepared);
  impl_->report("decode", "pixel decoder", 1, 2);
  auto images = net.decode_pixels(features);
  impl_->report("decode", "done", 2, 2);
  return impl_->result(images);
}

torch::Tensor Model::semantic_reconstruction(const torch::Tensor& features) const {
  Impl::CallScope scope(*impl_);
  impl_->check_features(features);
  return impl_->result(impl_->net->decode_semantic(features.to(torch::kFloat32)));
}

torch::Tensor Model::understanding_features(const torch::Tensor& images) const {
  return understanding_layout(encode(images).features);
}

torch::Tensor Model::understanding_layout(const torch::Tensor& features) {
  return features.flatten(2).transpose(1, 2).contiguous();
}

}  // namespace tokenflow
