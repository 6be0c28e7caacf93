#pragma once
// The dual codebook with shared indices (`quantize.*`): entry i holds a semantic code
// (embedding_vqkd) and a pixel code (embedding_vqgan); both halves of a feature and of every entry are
// L2-normalised and a position takes the i minimising d_sem + 1.0 * d_pix.
#include <torch/torch.h>

namespace tokenflow::nn {

// How the nearest entry is found. Both give the same index up to rounding:
//   OfficialDistances: |z|^2 + |e|^2 - 2 z.e per half, summed, argmin (the official op sequence).
//   Similarity: for unit halves, argmin(d_sem + d_pix) = argmax(z_sem.e_sem + z_pix.e_pix): one GEMM
//               against the concatenated normalised codebook, reduced block by block, with no
//               N x K matrix.
enum class CodeSearch { OfficialDistances, Similarity };

struct QuantizeResult {
  torch::Tensor features;  // B x C x h x w: the chosen entries (semantic then pixel channels)
  torch::Tensor indices;   // B x (h*w) int64, row-major
};

struct DualCodebookQuantizer : torch::nn::Module {
  DualCodebookQuantizer(int codebook_size, int semantic_dim, int pixel_dim, bool track_usage);

  // z: B x (semantic_dim + pixel_dim) x h x w.
  QuantizeResult forward(const torch::Tensor& z, CodeSearch search = CodeSearch::OfficialDistances);
  // indices: B x (h*w) -> B x C x h x w, the normalised entries.
  torch::Tensor lookup(const torch::Tensor& indices, int height, int width);
  // The normalised entries, K x (semantic_dim + pixel_dim).
  torch::Tensor normalized_codebook();

  int semantic_dim, pixel_dim;
  torch::nn::Embedding embedding_vqkd{nullptr}, embedding_vqgan{nullptr};
};

}  // namespace tokenflow::nn
