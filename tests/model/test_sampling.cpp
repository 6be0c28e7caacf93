// The generator's sampler against ../shared/parity/t2i: the official sampler's uniforms, and the
// codes it drew from the logits it was given at the first three scales of each run.
#include "t2i_fixture.h"

#include "nn/transformer/sampling.h"

#include <tokenflow/error.h>

namespace tokenflow::nn {
namespace {

using testing::parity_path;

torch::Tensor expected(const std::string& name) { return testing::t2i_expected(name); }

nlohmann::json prompts() { return testing::t2i_prompts(); }

TEST(SamplingGenerator, DrawsTorchCpuGeneratorDoubles) {
  TOKENFLOW_REQUIRE_PARITY("t2i");
  for (const auto& [run, seed] : {std::pair{"loop1", 0}, std::pair{"loop3", 1}}) {
    const auto want = expected(std::string(run) + "_uniforms");
    SamplingGenerator generator(seed);
    const auto* u = want.data_ptr<double>();
    int64_t differing = 0;
    for (int64_t i = 0; i < want.numel(); ++i) differing += generator.uniform() != u[i];
    EXPECT_EQ(differing, 0) << run << ": of " << want.numel();
  }
}

// Each run's sampler calls in order, as prompts.json lists them, on the logits the official sampler
// received; the codes of a scale are those of its last call.
void expect_official_codes(const std::string& run, bool per_loop_logits) {
  const auto info = prompts();
  const auto& calls = info["runs"][run]["sampler_calls"];
  const auto seed = info["runs"][run]["g_seed"];
  SamplingGenerator generator(seed.is_null() ? 0 : seed.get<uint64_t>());
  const auto codes = expected(run + "_codes");
  const auto image_token_start = info["image_token_start"].get<int64_t>();
  const auto scales = info["scales"].get<std::vector<int64_t>>();
  int checked = 0;
  std::vector<int64_t> offsets{0};
  for (auto s : scales) offsets.push_back(offsets.back() + s * s);
  for (size_t i = 0; i < calls.size(); ++i) {
    const auto& call = calls[i];
    const int scale = call["scale"].get<int>(), loop = call["loop"].get<int>();
    const std::string name = run + "_cfg_logits_scale" + std::to_string(scale) +
                             (per_loop_logits ? "_loop" + std::to_string(loop) : "");
    if (!std::filesystem::exists(parity_path("t2i", "expected/" + name + ".npy"))) break;  // scales 0-2 only
    const TopKTopP filter{call["top_k"].get<int64_t>(), call["top_p"].get<double>()};
    const auto sampled = sample_top_k_top_p(expected(name), filter, generator);
    ASSERT_EQ(sampled.numel(), call["rows"].get<int64_t>()) << name;
    if (i + 1 < calls.size() && calls[i + 1]["scale"] == call["scale"]) continue;  // re-predicted later
    const auto want = codes.slice(1, offsets[scale], offsets[scale + 1]);
    EXPECT_TRUE(torch::equal(sampled - image_token_start, want)) << name;
    std::printf("  %s scale %d: %ld codes identical\n", run.c_str(), scale, static_cast<long>(want.numel()));
    ++checked;
  }
  EXPECT_EQ(checked, 3) << run << ": the fixture holds the logits of scales 0-2";
}

TEST(Sampling, StrategyOneGivesTheOfficialCodes) {
  TOKENFLOW_REQUIRE_PARITY("t2i");
  expect_official_codes("loop1", false);
}

TEST(Sampling, StrategyThreeGivesTheOfficialCodes) {
  TOKENFLOW_REQUIRE_PARITY("t2i");
  expect_official_codes("loop3", true);
}

TEST(Sampling, GreedyGivesTheOfficialCodes) {
  TOKENFLOW_REQUIRE_PARITY("t2i");
  expect_official_codes("greedy", false);
}

// Ties at the top-k threshold stay; top-p always keeps the largest logit.
TEST(Sampling, FiltersAsTheOfficialSampler) {
  const auto logits = torch::tensor({3.0f, 1.0f, 3.0f, 2.0f, -1.0f}).view({1, 1, 5});
  const auto top1 = filter_top_k_top_p(logits, {1, 0.0});
  EXPECT_TRUE(torch::isfinite(top1).flatten().eq(torch::tensor({true, false, true, false, false})).all().item<bool>());
  const auto tight = filter_top_k_top_p(logits, {0, 1e-6});
  EXPECT_EQ(torch::isfinite(tight).sum().item<int64_t>(), 1);
  EXPECT_TRUE(torch::equal(filter_top_k_top_p(logits, {100, 0.0}), logits));  // k beyond V keeps all
}

TEST(Sampling, RejectsLogitsOfTheWrongShape) {
  SamplingGenerator generator(0);
  EXPECT_THROW(sample_top_k_top_p(torch::zeros({4, 5}), {}, generator), Error);
  EXPECT_THROW(sample_top_k_top_p(torch::zeros({1, 4, 5}, torch::kDouble), {}, generator), Error);
}

}  // namespace
}  // namespace tokenflow::nn
