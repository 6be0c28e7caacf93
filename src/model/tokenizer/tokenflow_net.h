#pragma once
// The TokenFlow network as one module tree whose parameter names are those of the official
// state dict (`encoder.*`, `decoder.*`, `encoder_vqkd.*`, `decoder_vqkd.*`, `quantize.*`, ...).
#include "model/tokenizer/architecture.h"
#include "nn/quantizer.h"
#include "nn/scaling_layer.h"
#include "nn/semantic_decoder.h"
#include "nn/semantic_encoder.h"
#include "nn/vqgan.h"
#include "nn/vqgan_blocked.h"

#include <memory>

namespace tokenflow::model {

struct TokenFlowNet : torch::nn::Module {
  explicit TokenFlowNet(const Architecture& arch);

  torch::Tensor semantic_features(const torch::Tensor& images);  // B x semantic_code_dim x h x w
  torch::Tensor pixel_features(const torch::Tensor& images);     // B x pixel_code_dim x h x w
  torch::Tensor features(const torch::Tensor& images);           // both, concatenated: what is quantised
  // Multi-scale residual quantisation of the concatenated features (VAR).
  EncodeResult quantize_multiscale(const torch::Tensor& features);
  EncodeResult encode(const torch::Tensor& images);
  torch::Tensor indices_to_features(const torch::Tensor& indices);
  torch::Tensor decode_pixels(const torch::Tensor& features);
  torch::Tensor decode_semantic(const torch::Tensor& features);

  // Moves the network to options.device and sets it up for inference as `options` say (resolved: no
  // Auto left). Arithmetic: the encoders in float32 or bfloat16, the decoders in either; the quantizer
  // and the residuals stay float32. The pixel decoder runs channels-last (oneDNN's fast layout) always,
  // the pixel encoder too in bfloat16. A float32 pixel encoder keeps the official NCHW layout: through
  // LibTorch's channels-last ops its features moved by ~1e-3, enough to flip token indices; Winograd
  // runs it through oneDNN's blocked layout (nn::BlockedEncoder, ~1e-5 from the official sequence),
  // on the CPU where the build has oneDNN.
  void configure_inference(const LoadOptions& options);

  ModelConfig config;
  torch::Device device = torch::kCPU;
  torch::ScalarType encoder_dtype = torch::kFloat32;  // semantic and pixel encoders
  torch::ScalarType decoder_dtype = torch::kFloat32;  // semantic and pixel decoders
  // Training keeps the official NCHW layout throughout; configure_inference changes these.
  torch::MemoryFormat encoder_format = torch::MemoryFormat::Contiguous;
  torch::MemoryFormat decoder_format = torch::MemoryFormat::Contiguous;
  nn::CodeSearch code_search = nn::CodeSearch::OfficialDistances;
  int decode_tile = 0;  // the pixel decoder in tiles of this many feature positions; 0: whole
  std::shared_ptr<nn::Encoder> encoder;
  std::shared_ptr<nn::BlockedEncoder> blocked_encoder;  // the pixel encoder's fast float32 route, when set
  std::shared_ptr<nn::Decoder> decoder;
  torch::nn::Conv2d quant_conv{nullptr}, post_quant_conv{nullptr};
  std::shared_ptr<nn::SemanticEncoder> encoder_vqkd;
  std::shared_ptr<nn::SemanticDecoder> decoder_vqkd;
  torch::nn::Sequential encode_task_layer{nullptr}, decode_task_layer{nullptr};
  std::shared_ptr<nn::DualCodebookQuantizer> quantize;
  std::shared_ptr<nn::ScalingLayer> scaling_layer;  // SigLIP only
};

}  // namespace tokenflow::model
