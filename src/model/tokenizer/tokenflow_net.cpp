#include "model/tokenizer/tokenflow_net.h"

#include "nn/clip_vision.h"
#include "nn/siglip_vision.h"
#include "nn/tiled_decoding.h"

namespace tokenflow::model {

namespace {

// Linear -> Tanh -> Linear, registered as 0 and 2 like the official nn.Sequential.
torch::nn::Sequential task_layer(int in, int out) {
  return torch::nn::Sequential(torch::nn::Linear(in, in), torch::nn::Tanh(), torch::nn::Linear(in, out));
}

torch::Tensor as_conv_input(const torch::Tensor& x, torch::ScalarType dtype, torch::MemoryFormat format) {
  return x.to(dtype).contiguous(format);
}

void set_conv_weight_format(torch::nn::Module& module, torch::MemoryFormat format) {
  torch::NoGradGuard no_grad;
  for (auto& child : module.modules()) {
    if (auto* conv = child->as<torch::nn::Conv2d>()) conv->weight.set_data(conv->weight.contiguous(format));
  }
}

torch::Tensor as_float(const torch::Tensor& x) { return x.to(torch::kFloat32).contiguous(); }

torch::Tensor bicubic_resize(const torch::Tensor& x, int size) {
  return torch::upsample_bicubic2d(x, {size, size}, /*align_corners=*/false);
}

// F.interpolate(mode='area') to size x size.
torch::Tensor area_resize(const torch::Tensor& x, int size) { return torch::adaptive_avg_pool2d(x, {size, size}); }

std::shared_ptr<nn::SemanticEncoder> make_semantic_encoder(const Architecture& arch) {
  const auto& c = arch.config;
  if (c.teacher == Teacher::Clip) {
    return std::make_shared<nn::ClipVision>(c.semantic_width, c.semantic_layers, c.semantic_heads, c.semantic_patch,
                                            arch.semantic_positions);
  }
  return std::make_shared<nn::SiglipVision>(c.semantic_width, c.semantic_layers, c.semantic_heads,
                                            arch.semantic_mlp_width, c.semantic_patch, arch.semantic_positions,
                                            arch.siglip_has_head);
}

}  // namespace

TokenFlowNet::TokenFlowNet(const Architecture& arch) : config(arch.config) {
  const auto& c = arch.config;
  encoder = register_module("encoder", std::make_shared<nn::Encoder>(arch.image_channels, c.encoder_ch,
                                                                     arch.encoder_levels, c.z_channels));
  decoder = register_module("decoder", std::make_shared<nn::Decoder>(c.z_channels, arch.decoder_levels,
                                                                     arch.image_channels));
  quant_conv = register_module("quant_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(c.z_channels, c.pixel_code_dim, 1)));
  post_quant_conv =
      register_module("post_quant_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(c.pixel_code_dim, c.z_channels, 1)));
  encoder_vqkd = register_module("encoder_vqkd", make_semantic_encoder(arch));
  decoder_vqkd = register_module("decoder_vqkd", std::make_shared<nn::SemanticDecoder>(
                                                     c.semantic_code_dim, c.semantic_decoder_width,
                                                     c.semantic_decoder_layers, c.semantic_decoder_heads,
                                                     arch.decoder_mlp_width, arch.decoder_positions));
  encode_task_layer = register_module("encode_task_layer", task_layer(c.semantic_width, c.semantic_code_dim));
  // decode_task_layer: Linear(width, width), Tanh, Linear(width, teacher feature width).
  decode_task_layer = register_module("decode_task_layer", task_layer(c.semantic_decoder_width, c.semantic_output_dim));
  quantize = register_module("quantize", std::make_shared<nn::DualCodebookQuantizer>(
                                             c.codebook_size, c.semantic_code_dim, c.pixel_code_dim,
                                             arch.tracks_codebook_usage, arch.semantic_distance_weight));
  if (arch.has_scaling_layer) scaling_layer = register_module("scaling_layer", std::make_shared<nn::ScalingLayer>());
}

void TokenFlowNet::configure_inference(const LoadOptions& options) {
  const Precision precision = options.precision;
  TORCH_CHECK(precision != Precision::Auto && options.code_search != CodeSearch::Auto &&
                  options.pixel_convolution != PixelConvolution::Auto,
              "configure_inference takes resolved options");
  device = torch::Device(options.device);
  to(device);
  encoder_dtype = precision == Precision::Bf16 ? torch::kBFloat16 : torch::kFloat32;
  decoder_dtype = precision == Precision::Fp32 ? torch::kFloat32 : torch::kBFloat16;
  using Parts = std::initializer_list<torch::nn::Module*>;
  for (auto* part : Parts{encoder.get(), quant_conv.get(), encoder_vqkd.get(), encode_task_layer.get()}) {
    part->to(encoder_dtype);
  }
  if (scaling_layer) scaling_layer->to(encoder_dtype);
  for (auto* part : Parts{decoder.get(), post_quant_conv.get(), decoder_vqkd.get(), decode_task_layer.get()}) {
    part->to(decoder_dtype);
  }
  quantize->to(torch::kFloat32);
  code_search = options.code_search == CodeSearch::Distances ? nn::CodeSearch::OfficialDistances : nn::CodeSearch::Similarity;
  encoder_format = encoder_dtype == torch::kBFloat16 ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  set_conv_weight_format(*encoder, encoder_format);
  set_conv_weight_format(*quant_conv, encoder_format);
  decoder_format = torch::MemoryFormat::ChannelsLast;
  set_conv_weight_format(*decoder, decoder_format);
  set_conv_weight_format(*post_quant_conv, decoder_format);
  const bool blocked = options.pixel_convolution == PixelConvolution::Winograd && encoder_dtype == torch::kFloat32 &&
                       device.is_cpu() && nn::winograd_available();
  blocked_encoder = blocked ? std::make_shared<nn::BlockedEncoder>(*encoder) : nullptr;
}

torch::Tensor TokenFlowNet::semantic_features(const torch::Tensor& images) {
  auto input = images.to(device, encoder_dtype);
  auto tokens = encoder_vqkd->forward(scaling_layer ? scaling_layer->forward(input) : input);
  auto codes = as_float(encode_task_layer->forward(tokens));  // B x N x semantic_code_dim
  const auto grid = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(codes.size(1)))));
  return codes.transpose(1, 2).reshape({codes.size(0), codes.size(2), grid, grid});
}

torch::Tensor TokenFlowNet::pixel_features(const torch::Tensor& images) {
  auto input = images.to(device);
  if (input.size(2) != config.pixel_image_size) input = bicubic_resize(input, config.pixel_image_size);
  if (blocked_encoder) return quant_conv(blocked_encoder->forward(input));
  return as_float(quant_conv(encoder->forward(as_conv_input(input, encoder_dtype, encoder_format))));
}

EncodeResult TokenFlowNet::quantize_multiscale(const torch::Tensor& features) {
  const int grid = config.grid();
  auto residual = features;
  torch::Tensor total;
  std::vector<torch::Tensor> indices;
  for (int scale : config.scales) {
    auto quantized = quantize->forward(area_resize(residual, scale), code_search);
    auto upsampled = bicubic_resize(quantized.features, grid);
    total = total.defined() ? total + upsampled : upsampled;
    residual = residual - upsampled;
    indices.push_back(quantized.indices);
  }
  return {torch::cat(indices, 1), total};
}

torch::Tensor TokenFlowNet::features(const torch::Tensor& images) {
  return torch::cat({semantic_features(images), pixel_features(images)}, 1);
}

EncodeResult TokenFlowNet::encode(const torch::Tensor& images) { return quantize_multiscale(features(images)); }

torch::Tensor TokenFlowNet::indices_to_features(const torch::Tensor& indices) {
  const int grid = config.grid();
  torch::Tensor total;
  int64_t position = 0;
  for (int scale : config.scales) {
    if (position == indices.size(1)) break;
    auto entries = quantize->lookup(indices.slice(1, position, position + scale * scale).to(device), scale, scale);
    auto upsampled = bicubic_resize(entries, grid);
    total = total.defined() ? total + upsampled : upsampled;
    position += scale * scale;
  }
  return total;
}

torch::Tensor TokenFlowNet::decode_pixels(const torch::Tensor& features) {
  auto pixel = as_conv_input(features.slice(1, config.semantic_code_dim).to(device), decoder_dtype, decoder_format);
  auto middle = decoder->middle(post_quant_conv(pixel));
  auto images = decode_tile > 0 ? nn::upsample_in_tiles(*decoder, middle, decode_tile) : as_float(decoder->upsample(middle));
  return images.size(2) == config.image_size ? images : bicubic_resize(images, config.image_size);
}

torch::Tensor TokenFlowNet::decode_semantic(const torch::Tensor& features) {
  auto semantic = features.slice(1, 0, config.semantic_code_dim).to(device, decoder_dtype);
  return as_float(decode_task_layer->forward(decoder_vqkd->forward(semantic)));
}

}  // namespace tokenflow::model
