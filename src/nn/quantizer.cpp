#include "nn/quantizer.h"

namespace tokenflow::nn {

namespace {

torch::Tensor l2_normalize(const torch::Tensor& x) {
  return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().p(2).dim(-1));
}

// Squared distances N x K between rows of z and rows of codes, computed as the official code does
// (|z|^2 + |e|^2 - 2 z.e) so that ties break the same way.
torch::Tensor squared_distances(const torch::Tensor& z, const torch::Tensor& codes) {
  return torch::sum(z * z, 1, /*keepdim=*/true) + torch::sum(codes * codes, 1) - 2 * torch::mm(z, codes.t());
}

}  // namespace

DualCodebookQuantizer::DualCodebookQuantizer(int codebook_size, int semantic_dim, int pixel_dim, bool track_usage)
    : semantic_dim(semantic_dim), pixel_dim(pixel_dim) {
  embedding_vqkd = register_module("embedding_vqkd", torch::nn::Embedding(codebook_size, semantic_dim));
  embedding_vqgan = register_module("embedding_vqgan", torch::nn::Embedding(codebook_size, pixel_dim));
  // The official checkpoints carry a window of recently used indices for the usage statistic.
  if (track_usage) register_buffer("codebook_used", torch::zeros({131072}));
}

torch::Tensor DualCodebookQuantizer::normalized_codebook() {
  return torch::cat({l2_normalize(embedding_vqkd->weight), l2_normalize(embedding_vqgan->weight)}, 1);
}

QuantizeResult DualCodebookQuantizer::forward(const torch::Tensor& z) {
  const auto batch = z.size(0), height = z.size(2), width = z.size(3);
  auto flat = z.permute({0, 2, 3, 1}).reshape({-1, z.size(1)});
  auto z_sem = l2_normalize(flat.slice(1, 0, semantic_dim));
  auto z_pix = l2_normalize(flat.slice(1, semantic_dim));
  auto e_sem = l2_normalize(embedding_vqkd->weight);
  auto e_pix = l2_normalize(embedding_vqgan->weight);
  auto distances = squared_distances(z_sem, e_sem) + 1.0 * squared_distances(z_pix, e_pix);
  auto indices = torch::argmin(distances, 1);
  auto normalized = torch::cat({z_sem, z_pix}, 1);
  auto chosen = torch::cat({e_sem, e_pix}, 1).index_select(0, indices);
  // The straight-through form z + (z_q - z) of the official code, kept for its rounding.
  auto quantized = normalized + (chosen - normalized);
  return {quantized.reshape({batch, height, width, -1}).permute({0, 3, 1, 2}), indices.reshape({batch, height * width})};
}

torch::Tensor DualCodebookQuantizer::lookup(const torch::Tensor& indices, int height, int width) {
  auto entries = normalized_codebook().index_select(0, indices.reshape({-1}));
  return entries.reshape({indices.size(0), height, width, -1}).permute({0, 3, 1, 2}).contiguous();
}

}  // namespace tokenflow::nn
