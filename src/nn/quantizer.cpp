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

// w * d_sem + d_pix, N x K. The official weight is 1; the multiplication is skipped then so that the
// sum rounds exactly as the official d_vqkd + 1.0 * d_vqgan.
torch::Tensor combined_distances(const torch::Tensor& z_sem, const torch::Tensor& z_pix, const torch::Tensor& e_sem,
                                 const torch::Tensor& e_pix, double semantic_weight) {
  auto semantic = squared_distances(z_sem, e_sem);
  if (semantic_weight != 1.0) semantic = semantic * semantic_weight;
  return semantic + 1.0 * squared_distances(z_pix, e_pix);
}

// Codebook entries per block: large enough for an efficient GEMM, small enough that a block of
// scores stays in cache.
constexpr int64_t kSearchBlock = 4096;

torch::Tensor blocked_argmax_of_products(const torch::Tensor& z, const torch::Tensor& codebook) {
  torch::Tensor best_score, best_index;
  for (int64_t start = 0; start < codebook.size(0); start += kSearchBlock) {
    auto block = codebook.slice(0, start, start + kSearchBlock);
    auto [score, index] = torch::max(torch::mm(z, block.t()), 1);
    if (!best_score.defined()) {
      best_score = score;
      best_index = index;
      continue;
    }
    auto better = score > best_score;  // ties keep the lower index, as argmin does
    best_score = torch::where(better, score, best_score);
    best_index = torch::where(better, index + start, best_index);
  }
  return best_index;
}

}  // namespace

DualCodebookQuantizer::DualCodebookQuantizer(int codebook_size, int semantic_dim, int pixel_dim, bool track_usage,
                                             std::optional<double> semantic_distance_weight)
    : semantic_dim(semantic_dim), pixel_dim(pixel_dim) {
  embedding_vqkd = register_module("embedding_vqkd", torch::nn::Embedding(codebook_size, semantic_dim));
  embedding_vqgan = register_module("embedding_vqgan", torch::nn::Embedding(codebook_size, pixel_dim));
  // The official checkpoints carry a window of recently used indices for the usage statistic.
  if (track_usage) codebook_used = register_buffer("codebook_used", torch::zeros({131072}));
  if (semantic_distance_weight) {
    this->semantic_distance_weight =
        register_buffer("semantic_distance_weight", torch::tensor(*semantic_distance_weight, torch::kFloat32));
  }
}

double DualCodebookQuantizer::semantic_weight() const {
  return semantic_distance_weight.defined() ? semantic_distance_weight.item<double>() : 1.0;
}

torch::Tensor DualCodebookQuantizer::nearest_by_distance(const NormalizedHalves& h) const {
  return torch::argmin(combined_distances(h.z_sem, h.z_pix, h.e_sem, h.e_pix, semantic_weight()), 1);
}

torch::Tensor DualCodebookQuantizer::nearest_by_similarity(const NormalizedHalves& h) const {
  const double w = semantic_weight();
  // For unit halves d = 2 - 2 z.e, so argmin(w d_sem + d_pix) = argmax(w z_sem.e_sem + z_pix.e_pix).
  return blocked_argmax_of_products(w == 1.0 ? h.normalized : torch::cat({h.z_sem * w, h.z_pix}, 1), h.codebook);
}

torch::Tensor DualCodebookQuantizer::normalized_codebook() {
  return torch::cat({l2_normalize(embedding_vqkd->weight), l2_normalize(embedding_vqgan->weight)}, 1);
}

DualCodebookQuantizer::NormalizedHalves DualCodebookQuantizer::normalize(const torch::Tensor& z) {
  auto flat = z.permute({0, 2, 3, 1}).reshape({-1, z.size(1)});
  NormalizedHalves h;
  h.z_sem = l2_normalize(flat.slice(1, 0, semantic_dim));
  h.z_pix = l2_normalize(flat.slice(1, semantic_dim));
  h.e_sem = l2_normalize(embedding_vqkd->weight);
  h.e_pix = l2_normalize(embedding_vqgan->weight);
  h.normalized = torch::cat({h.z_sem, h.z_pix}, 1);
  h.codebook = torch::cat({h.e_sem, h.e_pix}, 1);
  return h;
}

QuantizeResult DualCodebookQuantizer::forward(const torch::Tensor& z, CodeSearch search) {
  const auto batch = z.size(0), height = z.size(2), width = z.size(3);
  const auto h = normalize(z);
  auto indices = search == CodeSearch::OfficialDistances ? nearest_by_distance(h) : nearest_by_similarity(h);
  auto chosen = h.codebook.index_select(0, indices);
  // The straight-through form z + (z_q - z) of the official code, kept for its rounding.
  auto quantized = h.normalized + (chosen - h.normalized);
  return {quantized.reshape({batch, height, width, -1}).permute({0, 3, 1, 2}), indices.reshape({batch, height * width})};
}

namespace {

// The official compute_entropy_loss(-d) with the softmax temperature 0.01: the mean entropy of each
// position's distribution over entries minus the entropy of their average, which rewards confident
// choices spread over the whole codebook.
torch::Tensor entropy_loss(const torch::Tensor& distances) {
  auto affinity = -distances / 0.01;
  auto probs = torch::softmax(affinity, -1);
  auto log_probs = torch::log_softmax(affinity + 1e-5, -1);
  auto average = probs.mean(0);
  auto average_entropy = -torch::sum(average * torch::log(average + 1e-5));
  auto sample_entropy = -torch::mean(torch::sum(probs * log_probs, -1));
  return sample_entropy - average_entropy;
}

}  // namespace

QuantizeTrainingResult DualCodebookQuantizer::forward_training(const torch::Tensor& z, double commit_beta,
                                                               double entropy_ratio) {
  const auto batch = z.size(0), height = z.size(2), width = z.size(3);
  const auto h = normalize(z);
  const auto& normalized = h.normalized;
  torch::Tensor indices;
  {
    torch::NoGradGuard no_grad;
    indices = nearest_by_distance(h);
  }
  auto chosen = h.codebook.index_select(0, indices);
  QuantizeTrainingResult result;
  result.vq_loss = torch::mean((chosen - normalized.detach()).pow(2));
  result.commit_loss = commit_beta * torch::mean((chosen.detach() - normalized).pow(2));
  if (entropy_ratio != 0.0) {
    // The entropy term needs the distances with their gradient.
    auto d = combined_distances(h.z_sem, h.z_pix, h.e_sem, h.e_pix, semantic_weight());
    result.entropy_loss = entropy_ratio * entropy_loss(d);
  } else {
    result.entropy_loss = torch::zeros({}, z.options());
  }
  auto straight_through = normalized + (chosen - normalized).detach();
  result.features = straight_through.reshape({batch, height, width, -1}).permute({0, 3, 1, 2});
  result.indices = indices.reshape({batch, height * width});
  return result;
}

double DualCodebookQuantizer::record_usage(const torch::Tensor& indices) {
  torch::NoGradGuard no_grad;
  const int64_t codebook_size = embedding_vqkd->weight.size(0);
  if (!codebook_used.defined()) {
    return static_cast<double>(std::get<0>(torch::_unique(indices.reshape({-1}))).numel()) / codebook_size;
  }
  auto flat = indices.reshape({-1}).to(codebook_used.scalar_type());
  const int64_t window = codebook_used.numel(), count = std::min<int64_t>(flat.numel(), window);
  codebook_used.slice(0, 0, window - count).copy_(codebook_used.slice(0, count).clone());
  codebook_used.slice(0, window - count).copy_(flat.slice(0, flat.numel() - count));
  return static_cast<double>(std::get<0>(torch::_unique(codebook_used)).numel()) / codebook_size;
}

torch::Tensor DualCodebookQuantizer::lookup(const torch::Tensor& indices, int height, int width) {
  auto entries = normalized_codebook().index_select(0, indices.reshape({-1}));
  return entries.reshape({indices.size(0), height, width, -1}).permute({0, 3, 1, 2}).contiguous();
}

}  // namespace tokenflow::nn
