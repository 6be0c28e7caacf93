#pragma once
// The official TokenFlow.forward in training mode: encode, multi-scale residual quantisation with the
// straight-through estimator, and both decoders. Gradients reach every trainable part.
#include "model/tokenizer/tokenflow_net.h"

#include <random>
#include <vector>

namespace tokenflow::train {

struct QuantizerLosses {
  torch::Tensor vq, commit, entropy;  // each averaged over the scales, as the official code does
  double codebook_usage = 0;          // averaged over the scales too
};

struct TrainingForward {
  torch::Tensor pixels;           // B x 3 x H x W reconstruction
  torch::Tensor semantic;         // B x (h*w) x teacher width: the semantic decoder's output
  torch::Tensor indices;          // B x L over the scales used
  QuantizerLosses losses;
};

struct QuantizerSettings {
  double commit_beta = 0.25;
  double entropy_ratio = 0.0;
};

TrainingForward forward_training(model::TokenFlowNet& net, const torch::Tensor& images, const std::vector<int>& scales,
                                 const QuantizerSettings& settings);

// The official random scale drop: with probability `probability`, one scale other than the first is
// left out of this step's residual quantisation.
std::vector<int> drop_random_scale(const std::vector<int>& scales, double probability, std::mt19937_64& rng);

}  // namespace tokenflow::train
