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
