#pragma once
// The official PyTorch op sequence, run on our modules, as the benchmark's baseline: NCHW float32
// everywhere, and a quantizer that builds the full N x K distance matrices, their norm statistics
// and the one-hot encodings, as the official VectorQuantizer does even in eval mode.
#include "model/tokenizer/tokenflow_net.h"

namespace tokenflow::bench {

EncodeResult official_encode(model::TokenFlowNet& net, const torch::Tensor& images);
// Its two halves: the encoders' features (B x 40 x h x w), and their multi-scale residual
// quantisation into tokens.
torch::Tensor official_features(model::TokenFlowNet& net, const torch::Tensor& images);
EncodeResult official_quantize_multiscale(model::TokenFlowNet& net, const torch::Tensor& features);
// decode_code: indices -> (semantic reconstruction, image); the official decode computes both.
std::pair<torch::Tensor, torch::Tensor> official_decode(model::TokenFlowNet& net, const torch::Tensor& indices);

}  // namespace tokenflow::bench
