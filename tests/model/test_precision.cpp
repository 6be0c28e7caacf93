// The fast (bf16) mode against the official outputs on the parity fixtures, and checkpoints stored in
// bfloat16 or float16.
#include "io/checkpoint.h"
#include "io/io_test_util.h"
#include "nn/kernels/onednn_conv.h"
#include "parity_fixture.h"

#include <tokenflow/tokenflow.h>

namespace tokenflow {
namespace {

using testing::parity_path;
using testing::parity_tensor;

double psnr(const torch::Tensor& a, const torch::Tensor& b) {
  const double mse = (a.clamp(-1, 1) - b.clamp(-1, 1)).pow(2).mean().item<double>();
  return 10.0 * std::log10(4.0 / mse);
}

class Bf16 : public ::testing::TestWithParam<std::string> {};

TEST_P(Bf16, StaysCloseToTheOfficialOutputs) {
  TOKENFLOW_REQUIRE_PARITY_FIXTURES();
  LoadOptions options;
  options.precision = Precision::Bf16;
  const auto model = Model::load(parity_path(GetParam(), "model.pt"), options);
  EXPECT_EQ(model.precision(), Precision::Bf16);
  const auto input = parity_tensor(GetParam(), "input");
  const auto encoded = model.encode(input);
  const auto expected = parity_tensor(GetParam(), "indices");
  const double same = encoded.indices.eq(expected).to(torch::kDouble).mean().item<double>();
  const double decoder_psnr = psnr(model.decode_indices(expected), parity_tensor(GetParam(), "recon_from_codes"));
  const auto sem = model.semantic_features(input), ref_sem = parity_tensor(GetParam(), "sem_features");
  const auto pix = model.pixel_features(input), ref_pix = parity_tensor(GetParam(), "pix_features");
  std::printf("  identical tokens %.2f%%, decoder PSNR %.1f dB, sem rel err %.2e, pix rel err %.2e\n", 100 * same,
              decoder_psnr, ((sem - ref_sem).norm() / ref_sem.norm()).item<double>(),
              ((pix - ref_pix).norm() / ref_pix.norm()).item<double>());
  // With random weights the fine scales quantise near-random residuals whose nearest codes are
  // close calls, so token agreement is far below a trained model's; the bounds catch broken
  // kernels (LibTorch 1.13's bf16 channels-last GroupNorm gave 1% and 10 dB here).
  EXPECT_GT(same, 0.10);
  EXPECT_GT(decoder_psnr, 35.0);
  EXPECT_LT(((pix - ref_pix).norm() / ref_pix.norm()).item<double>(), 0.1);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Bf16, ::testing::Values("clipb224", "clipb256e", "siglip384"));

// Mixed: the float32 encoders, the pixel encoder through oneDNN's Winograd convolutions where the
// build has oneDNN and the codebook searched by similarity, and the bfloat16 decoders.
TEST(Mixed, EncodesAsFloat32AndDecodesInBfloat16) {
  TOKENFLOW_REQUIRE_PARITY_FIXTURES();
  LoadOptions options;
  options.precision = Precision::Mixed;
  const auto mixed = Model::load(parity_path("clipb224", "model.pt"), options);
  const auto exact = Model::load(parity_path("clipb224", "model.pt"), testing::exact_options());
  EXPECT_EQ(mixed.precision(), Precision::Mixed);
  EXPECT_EQ(exact.precision(), Precision::Fp32);
  const auto input = parity_tensor("clipb224", "input");
  const auto features = mixed.pixel_features(input), exact_features = exact.pixel_features(input);
  EXPECT_LT(((features - exact_features).abs().max() / exact_features.abs().max()).item<double>(), 1e-4);
  if (nn::winograd_available()) EXPECT_FALSE(torch::equal(features, exact_features));  // through Winograd
  EXPECT_TRUE(torch::equal(mixed.semantic_features(input), exact.semantic_features(input)));
  const auto encoded = mixed.encode(input);
  EXPECT_TRUE(torch::equal(encoded.indices, parity_tensor("clipb224", "indices")));
  const auto decoded = mixed.decode_indices(encoded.indices), reference = exact.decode_indices(encoded.indices);
  EXPECT_FALSE(torch::equal(decoded, reference));  // it really decoded in bfloat16
  EXPECT_GT(psnr(decoded, reference), 35.0);
}

TEST(Mixed, NamesRoundTrip) {
  for (auto precision : {Precision::Auto, Precision::Fp32, Precision::Bf16, Precision::Mixed})
    EXPECT_EQ(parse_precision(precision_name(precision)), precision);
}

// A checkpoint stored in a 16-bit type (as `tokenflow convert --dtype` ships one) loads into float32
// networks: in Fp32 it computes exactly what the float32 weights rounded to that type compute.
class StoredDtype : public ::testing::TestWithParam<torch::ScalarType> {};

TEST_P(StoredDtype, ComputesInFloat32AsTheRoundedWeights) {
  TOKENFLOW_REQUIRE_PARITY_FIXTURES();
  const io::StateDict original = io::load_state_dict(parity_path("clipb224", "model.pt"));
  io::StateDict stored = original, rounded = original;
  for (const auto& [name, tensor] : original.tensors) {
    if (!tensor.is_floating_point()) continue;
    stored.tensors[name] = tensor.to(GetParam());
    rounded.tensors[name] = tensor.to(GetParam()).to(torch::kFloat32);
  }
  io::test::ScratchDir dir;
  io::save_safetensors(dir.file("stored.safetensors"), stored);
  io::save_safetensors(dir.file("rounded.safetensors"), rounded);
  const auto from_stored = Model::load(dir.file("stored.safetensors"), testing::exact_options());
  const auto from_rounded = Model::load(dir.file("rounded.safetensors"), testing::exact_options());
  EXPECT_EQ(from_stored.precision(), Precision::Fp32);

  const auto input = parity_tensor("clipb224", "input");
  const auto a = from_stored.encode(input), b = from_rounded.encode(input);
  EXPECT_TRUE(torch::equal(a.indices, b.indices));
  EXPECT_TRUE(torch::equal(a.features, b.features));
  const auto indices = parity_tensor("clipb224", "indices");
  const auto decoded = from_stored.decode_indices(indices);
  EXPECT_EQ(decoded.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(decoded, from_rounded.decode_indices(indices)));
  EXPECT_TRUE(torch::equal(from_stored.semantic_reconstruction(a.features), from_rounded.semantic_reconstruction(a.features)));
  // The rounding is real: the float32 checkpoint decodes differently.
  EXPECT_FALSE(torch::equal(decoded, Model::load(parity_path("clipb224", "model.pt"), testing::exact_options()).decode_indices(indices)));
}

INSTANTIATE_TEST_SUITE_P(Types, StoredDtype, ::testing::Values(torch::kBFloat16, torch::kFloat16),
                         [](const auto& info) { return std::string(c10::toString(info.param)); });

}  // namespace
}  // namespace tokenflow
