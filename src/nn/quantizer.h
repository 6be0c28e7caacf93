#pragma once
// The dual codebook with shared indices (`quantize.*`): entry i holds a semantic code
// (embedding_vqkd) and a pixel code (embedding_vqgan); both halves of a feature and of every entry are
// L2-normalised and a position takes the i minimising d_sem + 1.0 * d_pix.
//
// tokenflow adds one option for its pixel-only baseline: a weight w on the semantic distance, so that
// the choice is argmin(w * d_sem + d_pix). w = 0 picks entries by the pixel half alone while both
// halves are still learned, so the semantic codes become a probe of what pixel-only indices keep.
// It is stored as the buffer `semantic_distance_weight`, which official checkpoints do not have (w = 1).
#include <torch/torch.h>

#include <optional>

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

// One quantisation in training mode, as the official VectorQuantizer computes it.
struct QuantizeTrainingResult {
  torch::Tensor features;      // B x C x h x w, straight-through: the chosen entries forward, identity backward
  torch::Tensor indices;       // B x (h*w)
  torch::Tensor vq_loss;       // mean (e - sg(z))^2: pulls the chosen entries towards the features
  torch::Tensor commit_loss;   // beta * mean (sg(e) - z)^2: pulls the features towards their entries
  torch::Tensor entropy_loss;  // ratio * the official entropy loss of the affinities; 0 when the ratio is 0
};

struct DualCodebookQuantizer : torch::nn::Module {
  // semantic_distance_weight: registered as a buffer when given, else w = 1 and no buffer.
  DualCodebookQuantizer(int codebook_size, int semantic_dim, int pixel_dim, bool track_usage,
                        std::optional<double> semantic_distance_weight = std::nullopt);

  // z: B x (semantic_dim + pixel_dim) x h x w.
  QuantizeResult forward(const torch::Tensor& z, CodeSearch search = CodeSearch::OfficialDistances);
  // Training mode: z is normalised per half, the loss terms are computed on the normalised halves, and
  // the gradient passes straight through the choice of entry.
  QuantizeTrainingResult forward_training(const torch::Tensor& z, double commit_beta, double entropy_ratio);
  // The official usage statistic: the window of the last 131072 chosen indices (buffer
  // `codebook_used`) takes `indices`, and the fraction of distinct entries in it is returned.
  double record_usage(const torch::Tensor& indices);
  // indices: B x (h*w) -> B x C x h x w, the normalised entries.
  torch::Tensor lookup(const torch::Tensor& indices, int height, int width);
  // The normalised entries, K x (semantic_dim + pixel_dim).
  torch::Tensor normalized_codebook();

  // w, 1 unless the checkpoint stores another.
  double semantic_weight() const;

  int semantic_dim, pixel_dim;
  torch::Tensor codebook_used;  // undefined when the checkpoint has no usage window
  torch::Tensor semantic_distance_weight;  // 0-d; undefined when w is the official 1
  torch::nn::Embedding embedding_vqkd{nullptr}, embedding_vqgan{nullptr};

 private:
  // Both halves of the features (N x C, rows in h, w order) and of the codebook, L2-normalised.
  struct NormalizedHalves {
    torch::Tensor z_sem, z_pix, e_sem, e_pix;
    torch::Tensor normalized, codebook;  // the halves concatenated again
  };
  // argmin(w * d_sem + d_pix) as the official code computes it, N indices.
  torch::Tensor nearest_by_distance(const NormalizedHalves& h) const;
  // The same search as one similarity GEMM: argmax(w * z_sem.e_sem + z_pix.e_pix).
  torch::Tensor nearest_by_similarity(const NormalizedHalves& h) const;
  NormalizedHalves normalize(const torch::Tensor& z);
};

}  // namespace tokenflow::nn
