// The dual codebook against a direct computation of the shared-index rule.
#include "nn/quantizer.h"

#include <gtest/gtest.h>

namespace tokenflow::nn {
namespace {

TEST(DualCodebookQuantizer, PicksTheEntryMinimisingTheSumOfBothDistances) {
  torch::manual_seed(0);
  DualCodebookQuantizer quantizer(/*codebook_size=*/64, /*semantic_dim=*/6, /*pixel_dim=*/3, /*track_usage=*/false);
  torch::NoGradGuard no_grad;
  auto z = torch::randn({2, 9, 3, 5});
  auto result = quantizer.forward(z);
  ASSERT_EQ(result.indices.sizes(), (std::vector<int64_t>{2, 15}));
  ASSERT_EQ(result.features.sizes(), z.sizes());

  auto flat = z.permute({0, 2, 3, 1}).reshape({-1, 9}).to(torch::kDouble);
  auto es = quantizer.embedding_vqkd->weight.to(torch::kDouble);
  auto ep = quantizer.embedding_vqgan->weight.to(torch::kDouble);
  es = es / es.norm(2, 1, true);
  ep = ep / ep.norm(2, 1, true);
  auto zs = flat.slice(1, 0, 6), zp = flat.slice(1, 6);
  zs = zs / zs.norm(2, 1, true);
  zp = zp / zp.norm(2, 1, true);
  auto distance = torch::cdist(zs, es).pow(2) + torch::cdist(zp, ep).pow(2);
  auto expected = std::get<1>(distance.min(1)).reshape({2, 15});
  EXPECT_TRUE(torch::equal(result.indices, expected));

  // The output is the chosen normalised entries, and lookup() gives the same map.
  auto looked_up = quantizer.lookup(result.indices, 3, 5);
  EXPECT_LT((looked_up - result.features).abs().max().item<double>(), 1e-6);
}

// Both searches must pick what the official formula over the whole codebook picks, ties included
// (the first of equal entries, as torch.argmin), though the similarity search runs block by block.
TEST(DualCodebookQuantizer, BothSearchesPickAsTheOfficialFormulaTiesAcrossBlocksIncluded) {
  torch::manual_seed(3);
  const int entries = 10000;  // more than two blocks, not a multiple of one
  DualCodebookQuantizer quantizer(entries, /*semantic_dim=*/6, /*pixel_dim=*/3, /*track_usage=*/false);
  torch::NoGradGuard no_grad;
  // Entries in later blocks repeated in earlier ones: exact ties across blocks.
  for (auto [late, early] : std::vector<std::pair<int, int>>{{9000, 10}, {5000, 4095}, {8192, 4096}}) {
    quantizer.embedding_vqkd->weight[early].copy_(quantizer.embedding_vqkd->weight[late]);
    quantizer.embedding_vqgan->weight[early].copy_(quantizer.embedding_vqgan->weight[late]);
  }
  auto z = torch::randn({2, 9, 16, 16});
  // Some positions equal to the tied entries themselves, so they are each one's nearest.
  auto flat = z.permute({0, 2, 3, 1});
  for (int late : {9000, 5000, 8192}) {
    flat[0][late % 16][late / 640] = torch::cat({quantizer.embedding_vqkd->weight[late], quantizer.embedding_vqgan->weight[late]});
  }
  z = flat.permute({0, 3, 1, 2});

  auto normalize = [](const torch::Tensor& x) {
    return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().p(2).dim(-1));
  };
  auto rows = z.permute({0, 2, 3, 1}).reshape({-1, 9});
  auto zs = normalize(rows.slice(1, 0, 6)), zp = normalize(rows.slice(1, 6));
  auto es = normalize(quantizer.embedding_vqkd->weight), ep = normalize(quantizer.embedding_vqgan->weight);
  // The official VectorQuantizer's distances over the whole codebook.
  auto whole = torch::sum(zs * zs, 1, true) + torch::sum(es * es, 1) - 2 * torch::mm(zs, es.t()) +
               1.0 * (torch::sum(zp * zp, 1, true) + torch::sum(ep * ep, 1) - 2 * torch::mm(zp, ep.t()));
  auto expected = torch::argmin(whole, 1).reshape({2, 256});
  for (int late : {9000, 5000, 8192}) {
    ASSERT_LT(expected[0][(late % 16) * 16 + late / 640].item<int64_t>(), late) << "the planted tie did not count";
  }
  EXPECT_TRUE(torch::equal(quantizer.forward(z, CodeSearch::OfficialDistances).indices, expected));
  EXPECT_TRUE(torch::equal(quantizer.forward(z, CodeSearch::Similarity).indices, expected));
}

TEST(DualCodebookQuantizer, UsageBufferIsPartOfTheStateOnlyWhenAsked) {
  DualCodebookQuantizer with(8, 4, 2, true), without(8, 4, 2, false);
  EXPECT_EQ(with.named_buffers().size(), 1u);
  EXPECT_EQ(without.named_buffers().size(), 0u);
}

// The pixel-only baseline (w = 0): every search and the training forward pick the nearest pixel
// code, whatever the semantic half says; the weight is a buffer of the state only when given.
TEST(DualCodebookQuantizer, ZeroSemanticWeightPicksByThePixelHalfAlone) {
  torch::manual_seed(1);
  DualCodebookQuantizer quantizer(64, 6, 3, /*track_usage=*/false, /*semantic_distance_weight=*/0.0);
  ASSERT_EQ(quantizer.named_buffers().size(), 1u);
  EXPECT_EQ(quantizer.semantic_weight(), 0.0);
  torch::NoGradGuard no_grad;
  auto z = torch::randn({2, 9, 4, 4});
  auto zp = z.permute({0, 2, 3, 1}).reshape({-1, 9}).slice(1, 6);
  zp = zp / zp.norm(2, 1, true);
  auto ep = quantizer.embedding_vqgan->weight / quantizer.embedding_vqgan->weight.norm(2, 1, true);
  auto expected = std::get<1>(torch::cdist(zp, ep).min(1)).reshape({2, 16});
  EXPECT_TRUE(torch::equal(quantizer.forward(z, CodeSearch::OfficialDistances).indices, expected));
  EXPECT_TRUE(torch::equal(quantizer.forward(z, CodeSearch::Similarity).indices, expected));
  EXPECT_TRUE(torch::equal(quantizer.forward_training(z, 0.25, 0.0).indices, expected));
}

TEST(DualCodebookQuantizer, SimilaritySearchHonoursAFractionalSemanticWeight) {
  torch::manual_seed(2);
  DualCodebookQuantizer quantizer(5000, 6, 3, false, 0.3);
  torch::NoGradGuard no_grad;
  auto z = torch::randn({1, 9, 6, 6});
  EXPECT_TRUE(torch::equal(quantizer.forward(z, CodeSearch::OfficialDistances).indices,
                           quantizer.forward(z, CodeSearch::Similarity).indices));
}

}  // namespace
}  // namespace tokenflow::nn
