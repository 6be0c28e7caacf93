// `tokenflow evaluate`'s measures: SSIM against skimage's values, PSNR, codebook usage and perplexity
// on known histograms, the contact sheet's layout, and a whole evaluation of a tiny tokenizer with its
// teacher (every number recomputed by hand, the teacher's retrieval equal to evaluate_retrieval's).
#include "io/io_test_util.h"
#include "parity_fixture.h"
#include "eval/evaluation_fixture.h"
#include "eval/image_quality.h"
#include "eval/retrieval.h"
#include "eval/tokenizer_evaluation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace tokenflow::eval {
namespace {

using io::test::contains;
using io::test::error_of;
using io::test::ScratchDir;

// 1 x 3 x 20 x 27 images from integer formulas in [0, 255], as [-1, 1] tensors whose 8-bit values are
// exactly those integers. The same formulas in numpy gave the skimage references below.
torch::Tensor eight_bit_image(const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&)>& formula) {
  const auto grids = torch::meshgrid({torch::arange(20), torch::arange(27), torch::arange(3)}, "ij");
  const auto pixels = formula(grids[1], grids[0], grids[2]).to(torch::kFloat32);  // x, y, channel
  return (pixels / 127.5 - 1).permute({2, 0, 1}).unsqueeze(0).contiguous();
}

TEST(ImageQuality, SsimMatchesScikitImage) {
  // skimage 0.19.3: structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
  // use_sample_covariance=False, data_range=255, channel_axis=-1) on uint8 H x W x 3 arrays.
  const auto a = eight_bit_image([](auto x, auto y, auto c) { return (x * 7 + y * 13 + c * 50) % 256; });
  const auto b = eight_bit_image([](auto x, auto y, auto c) { return (x * x + 3 * y + c * 17) * 5 % 256; });
  const auto d = eight_bit_image([](auto x, auto y, auto c) {
    return ((x * 7 + y * 13 + c * 50) % 256 + (x + 2 * y + c) % 9 - 4).clamp(0, 255);
  });
  const auto f = eight_bit_image([](auto x, auto y, auto c) {
    return ((x * 7 + y * 13 + c * 50) % 256 * 3).div(5, "floor") + 40 + (x * 3 + y * 5 + c) % 31;
  });
  const auto ssim = ssim_per_image(torch::cat({a, a, a, a}), torch::cat({a, b, d, f}));
  ASSERT_EQ(ssim.size(), 4u);
  EXPECT_DOUBLE_EQ(ssim[0], 1.0);
  EXPECT_NEAR(ssim[1], 0.012466666141284397, 1e-12);
  EXPECT_NEAR(ssim[2], 0.9967097798394153, 1e-12);
  EXPECT_NEAR(ssim[3], 0.8073574275340221, 1e-12);
  // Values between 8-bit levels are compared after rounding, as the PNG files would hold them.
  EXPECT_NEAR(ssim_per_image(a, d + 0.3 / 127.5)[0], ssim[2], 1e-12);

  EXPECT_TRUE(contains(error_of([&] { ssim_per_image(a, b.slice(2, 0, 10)); }), "must both be B x C x H x W"));
  EXPECT_TRUE(contains(error_of([&] { ssim_per_image(a.slice(2, 0, 10), a.slice(2, 0, 10)); }),
                       "images of 10 x 27 are smaller than the 11 x 11 window"));
}

TEST(ImageQuality, PsnrOnEightBitAndUnitValues) {
  // 8-bit: every value 100 against 110, MSE 100.
  const auto reference = torch::full({2, 3, 4, 4}, 100 / 127.5 - 1);
  auto reconstruction = torch::full({2, 3, 4, 4}, 110 / 127.5 - 1);
  reconstruction[1] = reference[1];
  const auto psnr = psnr_per_image(reference, reconstruction, true);
  ASSERT_EQ(psnr.size(), 2u);
  EXPECT_NEAR(psnr[0], 10 * std::log10(255.0 * 255.0 / 100), 1e-9);
  EXPECT_EQ(psnr[1], std::numeric_limits<double>::infinity());
  // Unit range: [-1, 1] -> [0, 1], peak 1; a difference of 0.2 there is 0.1.
  const auto unit = psnr_per_image(torch::zeros({1, 3, 2, 2}), torch::full({1, 3, 2, 2}, 0.2), false);
  EXPECT_NEAR(unit[0], 20.0, 1e-5);
  EXPECT_TRUE(torch::equal(comparable_pixels(torch::tensor({-2.0, -1.0, 0.0, 1.0}), true), torch::tensor({0.0f, 0.0f, 128.0f, 255.0f})));
}

TEST(CodebookUsage, FractionAndPerplexityOfKnownHistograms) {
  const auto one = codebook_usage(torch::tensor({0, 7, 0, 0}, torch::kInt64));
  EXPECT_EQ(one.tokens, 7);
  EXPECT_EQ(one.entries_used, 1);
  EXPECT_DOUBLE_EQ(one.fraction_used, 0.25);
  EXPECT_DOUBLE_EQ(one.perplexity, 1.0);
  const auto uniform = codebook_usage(torch::tensor({3, 3, 3, 3}, torch::kInt64));
  EXPECT_DOUBLE_EQ(uniform.fraction_used, 1.0);
  EXPECT_NEAR(uniform.perplexity, 4.0, 1e-12);
  // p = 1/2, 1/4, 1/4: entropy 1.5 bits, perplexity 2^1.5.
  const auto skewed = codebook_usage(torch::bincount(torch::tensor({5, 5, 1, 2}, torch::kInt64), {}, 8));
  EXPECT_EQ(skewed.tokens, 4);
  EXPECT_EQ(skewed.entries_used, 3);
  EXPECT_DOUBLE_EQ(skewed.fraction_used, 3.0 / 8);
  EXPECT_NEAR(skewed.perplexity, std::pow(2.0, 1.5), 1e-12);
  const auto none = codebook_usage(torch::zeros({4}, torch::kInt64));
  EXPECT_EQ(none.entries_used, 0);
  EXPECT_EQ(none.perplexity, 0.0);
  EXPECT_TRUE(contains(error_of([] { codebook_usage(torch::zeros({0}, torch::kInt64)); }), "one count per codebook entry"));
  EXPECT_TRUE(contains(error_of([] { codebook_usage(torch::tensor({1, -1}, torch::kInt64)); }), "negative counts"));
}

TEST(ContactSheet, PairsInRowsOnWhite) {
  // 3 pairs of 4 x 5 images: 2 pairs a row, 2 rows.
  const auto originals = torch::stack({torch::full({3, 4, 5}, -1.0), torch::full({3, 4, 5}, -0.5), torch::full({3, 4, 5}, 0.0)});
  const auto reconstructions = originals + 0.25;
  const auto sheet = contact_sheet(originals, reconstructions);
  const int64_t width = 2 * (2 * 5 + kSheetPairGap) + 3 * kSheetGap, height = 2 * 4 + 3 * kSheetGap;
  ASSERT_EQ(sheet.sizes(), torch::IntArrayRef({3, height, width}));
  const auto tile = [&](int64_t top, int64_t left) { return sheet.slice(1, top, top + 4).slice(2, left, left + 5); };
  const int64_t second_left = kSheetGap + 2 * 5 + kSheetPairGap + kSheetGap, second_top = kSheetGap + 4 + kSheetGap;
  EXPECT_TRUE(torch::equal(tile(kSheetGap, kSheetGap), originals[0]));
  EXPECT_TRUE(torch::equal(tile(kSheetGap, kSheetGap + 5 + kSheetPairGap), reconstructions[0]));
  EXPECT_TRUE(torch::equal(tile(kSheetGap, second_left), originals[1]));
  EXPECT_TRUE(torch::equal(tile(second_top, kSheetGap), originals[2]));
  EXPECT_TRUE(torch::equal(tile(second_top, kSheetGap + 5 + kSheetPairGap), reconstructions[2]));
  // Everything else is white: the tiles' pixels are all below 1.
  EXPECT_EQ((sheet < 1).sum().item<int64_t>(), 3 * 2 * 3 * 4 * 5);
  EXPECT_TRUE(contains(error_of([&] { contact_sheet(originals, reconstructions.slice(0, 0, 2)); }), "must both be N x 3 x H x W"));
}

TEST(TokenizerEvaluation, AgreesWithEachMeasureComputedDirectly) {
  TOKENFLOW_REQUIRE_PARITY_FIXTURES();
  ScratchDir dir;
  const auto fixture = test::make_evaluation_fixture(dir.file(""), 7);
  const Model model = Model::load(fixture.model);
  const auto evaluation_teacher = EvaluationTeacher::load(fixture.teacher, fixture.captions, fixture.list);
  const auto& teacher = evaluation_teacher.networks();
  ASSERT_EQ(model.config().image_size, teacher.clip->model->config.image_size);

  auto paths = fixture.images;
  paths.insert(paths.begin() + 2, dir.file("data/images/missing.png"));
  TokenizerEvaluationOptions options;
  options.batch_size = 3;  // batches of 3, 3 and 2 files, one of them unreadable
  options.sheet_images = 5;
  std::vector<int64_t> progress;
  options.on_batch = [&](int64_t done, int64_t total) {
    EXPECT_EQ(total, 8);
    progress.push_back(done);
  };
  const auto result = evaluate_tokenizer(model, paths, &evaluation_teacher, options);
  EXPECT_EQ(progress, (std::vector<int64_t>{3, 6, 8}));
  EXPECT_EQ(result.images, 7);
  ASSERT_EQ(result.unreadable.size(), 1u);
  EXPECT_TRUE(contains(result.unreadable[0], "missing.png: cannot read image")) << result.unreadable[0];
  EXPECT_EQ(result.tokens_per_image, 1 + 4 + 16);
  EXPECT_EQ(result.codebook_size, 64);

  // The same measures on all seven images in one batch.
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> loaded;
  for (const auto& path : fixture.images) loaded.push_back(io::load_image(path, 64));
  const auto images = torch::cat(loaded);
  const auto encoded = model.encode(images);
  const auto reconstruction = model.decode_indices(encoded.indices);
  auto psnr = psnr_per_image(images, reconstruction, true);
  const auto ssim = ssim_per_image(images, reconstruction);
  double psnr_sum = 0, ssim_sum = 0;
  for (size_t i = 0; i < 7; ++i) psnr_sum += psnr[i], ssim_sum += ssim[i];
  EXPECT_NEAR(result.psnr_mean, psnr_sum / 7, 1e-4);
  std::sort(psnr.begin(), psnr.end());
  EXPECT_NEAR(result.psnr_median, psnr[3], 1e-4);
  EXPECT_NEAR(result.ssim_mean, ssim_sum / 7, 1e-5);
  const auto usage = codebook_usage(torch::bincount(encoded.indices.flatten(), {}, 64));
  EXPECT_EQ(result.usage.tokens, 7 * 21);
  EXPECT_EQ(result.usage.entries_used, usage.entries_used);
  EXPECT_NEAR(result.usage.perplexity, usage.perplexity, 1e-9);
  const auto last_scale = codebook_usage(torch::bincount(encoded.indices.slice(1, 5).flatten(), {}, 64));
  EXPECT_EQ(result.last_scale_usage.tokens, 7 * 16);
  EXPECT_EQ(result.last_scale_usage.entries_used, last_scale.entries_used);

  const auto semantic = model.semantic_reconstruction(encoded.features);
  const auto targets = teacher.image_tower->targets(images);
  const auto cosine = torch::nn::functional::cosine_similarity(semantic, targets, torch::nn::functional::CosineSimilarityFuncOptions().dim(-1));
  ASSERT_TRUE(result.semantic_fidelity.has_value());
  EXPECT_NEAR(*result.semantic_fidelity, cosine.mean().item<double>(), 1e-5);

  // Retrieval: the six captioned images. The teacher's numbers are eval-teacher's.
  ASSERT_TRUE(result.retrieval.has_value());
  const auto& retrieval = *result.retrieval;
  EXPECT_EQ(retrieval.uncaptioned, 1);
  const auto expected = evaluate_retrieval(*teacher.clip->model, teacher.clip->tokenizer, teacher.captioned);
  EXPECT_EQ(retrieval.teacher.images, 6);
  EXPECT_EQ(retrieval.teacher.captions, expected.captions);
  EXPECT_EQ(retrieval.teacher.image_to_caption_top1, expected.image_to_caption_top1);
  EXPECT_EQ(retrieval.teacher.image_to_caption_top5, expected.image_to_caption_top5);
  EXPECT_EQ(retrieval.teacher.caption_to_image_top1, expected.caption_to_image_top1);
  EXPECT_EQ(retrieval.teacher.caption_to_image_top5, expected.caption_to_image_top5);
  const auto candidates = caption_candidates(teacher.captioned);
  const auto tokens = retrieval_accuracy(semantic.slice(0, 0, 6).mean(1),
                                         caption_embeddings(*teacher.clip->model, teacher.clip->tokenizer, candidates.captions),
                                         candidates.relevant);
  EXPECT_EQ(retrieval.tokens.image_to_caption_top1, tokens.image_to_caption_top1);
  EXPECT_EQ(retrieval.tokens.caption_to_image_top5, tokens.caption_to_image_top5);

  // The sheet keeps the first five evaluated images, across the unreadable one.
  ASSERT_EQ(result.sheet_originals.size(0), 5);
  EXPECT_TRUE(torch::equal(result.sheet_originals, images.slice(0, 0, 5)));
  EXPECT_LE((result.sheet_reconstructions - reconstruction.slice(0, 0, 5)).abs().max().item<double>(), 1e-5);
}

TEST(TokenizerEvaluation, FailsWithoutReadableImagesOrMatchingTeacher) {
  TOKENFLOW_REQUIRE_PARITY_FIXTURES();
  ScratchDir dir;
  const auto fixture = test::make_evaluation_fixture(dir.file(""), 5);
  const Model model = Model::load(fixture.model);
  EXPECT_EQ(error_of([&] { evaluate_tokenizer(model, {dir.file("a.png"), dir.file("b.png")}, nullptr); }),
            "evaluation: none of the 2 images can be read (first: " + dir.file("a.png") + ": cannot read image (No such file or directory))");
  // A teacher whose patch features the model's semantic decoder does not rebuild.
  TOKENFLOW_REQUIRE_FIXTURE(io::test::parity_file("train_step/teacher_clip.pt"));
  const auto other = EvaluationTeacher::load(io::test::parity_file("train_step/teacher_clip.pt"), "", "");
  EXPECT_TRUE(contains(error_of([&] { evaluate_tokenizer(model, fixture.images, &other); }),
                       "semantic fidelity: the teacher's patch features are"));
  // Captions, but none for the images evaluated.
  EvaluationTeacher uncaptioned(std::make_unique<EvaluationTeacher::Networks>());
  uncaptioned.networks().image_tower = model::load_teacher(fixture.teacher);
  uncaptioned.networks().clip = model::load_clip(fixture.teacher);
  EXPECT_EQ(error_of([&] { evaluate_tokenizer(model, {fixture.images.back()}, &uncaptioned); }),
            "caption retrieval: none of the evaluated images has a caption");
}

}  // namespace
}  // namespace tokenflow::eval
