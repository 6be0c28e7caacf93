// TokenFlow-t2i end to end against ../shared/parity/t2i: the prompt ids, the decoder inputs, the
// sampled codes and CFG logits of the three official generations (with the key/value cache and with
// the official recomputation), and the decoded images.
#include "t2i_fixture.h"

#include <tokenflow/generator.h>

#include "io/safetensors.h"
#include "model/generator/next_scale_sampler.h"
#include "model/generator/text_to_image_model.h"
#include "text/llama_tokenizer.h"

#include <map>

namespace tokenflow::generator {
namespace {

using testing::parity_path;

torch::Tensor expected(const std::string& name) { return testing::t2i_expected(name); }

nlohmann::json prompts() { return testing::t2i_prompts(); }

std::string model_folder() { return parity_path("t2i", "model"); }

using testing::relative_difference;

struct Run {
  std::string name;
  std::vector<nn::TopKTopP> passes;
  uint64_t seed;
};

std::vector<Run> official_runs() {
  std::vector<Run> runs;
  const auto all = prompts()["runs"];
  for (const auto* name : {"loop1", "loop3", "greedy"}) {
    const auto& run = all[name];
    Run r{name, {}, run["g_seed"].is_null() ? 0 : run["g_seed"].get<uint64_t>()};
    for (size_t i = 0; i < run["topk_list"].size(); ++i) r.passes.push_back({run["topk_list"][i].get<int64_t>(), run["topp_list"][i].get<double>()});
    runs.push_back(r);
  }
  return runs;
}

// The fixture's name for the logits of a sampling pass, or "" when it has none.
std::string logits_name(const Run& run, int64_t scale, int64_t pass) {
  if (scale > 2) return "";
  if (run.passes.size() == 1) return run.name + "_cfg_logits_scale" + std::to_string(scale);
  return run.name + "_cfg_logits_scale" + std::to_string(scale) + "_loop" + std::to_string(pass);
}

class TextToImage : public ::testing::Test {
 protected:
  void SetUp() override {
    TOKENFLOW_REQUIRE_PARITY("t2i");
    prompts_ = prompts();
    GeneratorLoadOptions options;
    options.precision = Precision::Fp32;
    generator_ = std::make_unique<Generator>(Generator::load(model_folder(), options));
  }

  // The internal model and codebook, for the checks the public API does not expose.
  void load_parts() {
    config_ = TextToImageConfig::read(model_folder() + "/config.json");
    state_ = io::read_safetensors(model_folder() + "/model.safetensors");
    model_ = std::make_unique<TextToImageModel>(config_, nn::TensorTable(state_, "t2i", torch::kFloat32));
    for (int side : generator_->tokenizer().config().scales) scales_.push_back(side);
  }

  std::vector<std::vector<int64_t>> prefix_rows() const { return prompts_["prefix_ids"].get<std::vector<std::vector<int64_t>>>(); }

  nlohmann::json prompts_;
  std::unique_ptr<Generator> generator_;
  TextToImageConfig config_;
  io::StateDict state_;
  std::unique_ptr<TextToImageModel> model_;
  std::vector<int64_t> scales_;
};

TEST_F(TextToImage, PromptIdsAreTheOfficialPrefix) {
  const auto text = text::LlamaTokenizer::load(model_folder());
  const auto texts = prompts_["prompts"].get<std::vector<std::string>>();
  const auto encoded = prompts_["prompt_encode_ids"].get<std::vector<std::vector<int64_t>>>();
  const auto rows = prefix_rows();
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(text.encode(texts[i]), encoded[i]) << texts[i];
    EXPECT_EQ(generator_->prompt_ids(texts[i]), rows[i]) << texts[i];
  }
  const auto negative = prompts_["negative_prompt"].get<std::string>();
  EXPECT_EQ(text.encode(negative), prompts_["negative_encode_ids"].get<std::vector<int64_t>>());
  EXPECT_EQ(generator_->prompt_ids(negative), rows.back()) << "the negative prompt, truncated";
  EXPECT_EQ(text.encode("<img>", false), prompts_["img_marker_ids"].get<std::vector<int64_t>>());
  // Added tokens are split out of the text first, as LlamaTokenizer does.
  const auto start = prompts_["image_token_start"].get<int64_t>();
  const auto with_token = text.encode("a <vq_token_3> b", false);
  EXPECT_NE(std::find(with_token.begin(), with_token.end(), start + 3), with_token.end());
  EXPECT_EQ(text.token_id("[PAD]"), prompts_["pad_token_id"].get<int64_t>());
}

TEST_F(TextToImage, InputEmbeddingsMatchTheOfficialCode) {
  torch::NoGradGuard no_grad;
  load_parts();
  const auto ids = expected("teacher_input_ids");
  const auto prefix = prompts_["prefix_len"].get<int64_t>();
  const auto start = prompts_["image_token_start"].get<int64_t>();
  const auto rows = ids.size(0);
  NextScaleFeatures features(generator_->tokenizer().codebook(), scales_, rows);
  std::vector<torch::Tensor> inputs = {text_inputs(*model_, ids.narrow(1, 0, prefix))};
  int64_t position = 0;
  for (size_t s = 0; s < scales_.size(); ++s) {
    const auto count = scales_[s] * scales_[s];
    if (s > 0) inputs.push_back(scale_inputs(*model_, static_cast<int64_t>(s), position, features.input()));
    features.finish(ids.narrow(1, prefix + position, count) - start);
    position += count;
  }
  const auto ours = torch::cat(inputs, 1);
  const auto reference = expected("teacher_inputs_embeds");
  ASSERT_EQ(ours.sizes(), reference.sizes());
  const double difference = relative_difference(ours, reference, expected("teacher_key_not_pad"));
  std::printf("  inputs_embeds: relative %.2e (limit 1e-5)\n", difference);
  EXPECT_LE(difference, 1e-5);
}

TEST_F(TextToImage, CachedAndFullPassesSampleTheOfficialCodes) {
  load_parts();
  const ImageVocabulary vocabulary{prompts_["image_token_start"].get<int64_t>(), prompts_["pad_token_id"].get<int64_t>()};
  const auto codebook = generator_->tokenizer().codebook();
  for (const auto& run : official_runs()) {
    for (const auto mode : {PassMode::Cached, PassMode::Full}) {
      const std::string label = run.name + (mode == PassMode::Cached ? " cached" : " full");
      SamplingSettings settings;
      settings.cfg = prompts_["cfg"].get<double>();
      settings.passes = run.passes;
      settings.seed = run.seed;
      settings.mode = mode;
      int checked = 0;
      double worst = 0;
      const auto on_pass = [&](int64_t scale, int64_t pass, const torch::Tensor& logits) {
        const auto name = logits_name(run, scale, pass);
        if (name.empty()) return;
        const auto reference = expected(name);
        worst = std::max(worst, relative_difference(logits, reference, torch::isfinite(reference)));
        EXPECT_TRUE(torch::equal(torch::isfinite(logits), torch::isfinite(reference))) << label << " " << name;
        ++checked;
      };
      const auto sampled = sample_codes(*model_, codebook, scales_, prefix_rows(), vocabulary, settings, on_pass);
      std::printf("  %s: CFG logits of %d passes within %.2e relative (limit 1e-4), %ld positions, %.3g FLOPs\n",
                  label.c_str(), checked, worst, static_cast<long>(sampled.work.positions), sampled.work.flops);
      EXPECT_EQ(checked, run.passes.size() == 1 ? 3 : 7) << label;
      EXPECT_LE(worst, 1e-4) << label;
      const auto reference = expected(run.name + "_codes");
      EXPECT_TRUE(torch::equal(sampled.codes, reference))
          << label << ": " << sampled.codes.ne(reference).sum().item<int64_t>() << " codes differ";
    }
  }
}

TEST_F(TextToImage, CacheComputesFarFewerPositionsThanTheOfficialLoop) {
  load_parts();
  const ImageVocabulary vocabulary{prompts_["image_token_start"].get<int64_t>(), prompts_["pad_token_id"].get<int64_t>()};
  std::map<PassMode, TransformerWork> work;
  for (const auto mode : {PassMode::Cached, PassMode::Full}) {
    SamplingSettings settings;
    settings.passes = {{600, 0.6}};
    settings.mode = mode;
    work[mode] = sample_codes(*model_, generator_->tokenizer().codebook(), scales_, prefix_rows(), vocabulary, settings).work;
  }
  // Strategy 1 with T = 134: the official loop runs sum over scales of (133 + tokens through the scale)
  // positions per row; the cache runs each position once, less the leading padding every row shares
  // (none here: the negative prompt fills its 128 text positions).
  int64_t official = 0, through = 0;
  for (auto side : scales_) official += 133 + (through += side * side);
  EXPECT_EQ(work[PassMode::Full].positions, 4 * official);
  EXPECT_EQ(work[PassMode::Cached].positions, 4 * (133 + through));
  EXPECT_EQ(work[PassMode::Full].passes, 9);
  EXPECT_EQ(work[PassMode::Cached].passes, 10);  // the prefill, then one pass per scale
  EXPECT_GT(work[PassMode::Full].flops, 3 * work[PassMode::Cached].flops);
}

TEST_F(TextToImage, GeneratorReproducesTheOfficialImages) {
  const auto texts = prompts_["prompts"].get<std::vector<std::string>>();
  GenerateOptions options;
  options.negative_prompt = prompts_["negative_prompt"].get<std::string>();
  options.cfg = prompts_["cfg"].get<double>();
  for (const auto& run : official_runs()) {
    options.passes.clear();
    for (const auto& pass : run.passes) options.passes.push_back({pass.top_k, pass.top_p});
    options.seed = run.seed;
    const auto generation = generator_->generate(texts, options);
    EXPECT_EQ(generation.seed, run.seed);
    EXPECT_TRUE(torch::equal(generation.codes, expected(run.name + "_codes"))) << run.name;
    const auto reference = expected(run.name + "_images");
    ASSERT_EQ(generation.images.sizes(), reference.sizes());
    const auto difference = (generation.images.to(torch::kInt32) - reference.to(torch::kInt32)).abs();
    const auto off = difference.gt(0).sum().item<int64_t>();
    std::printf("  %s: %ld of %ld image values differ, by at most %d\n", run.name.c_str(), static_cast<long>(off),
                static_cast<long>(reference.numel()), difference.max().item<int>());
    EXPECT_LE(difference.max().item<int>(), 1) << run.name;
    EXPECT_LE(static_cast<double>(off), 1e-3 * static_cast<double>(reference.numel())) << run.name;
  }
  const auto recon = generator_->tokenizer().decode_indices(expected("greedy_codes").narrow(0, 0, 1))[0];
  EXPECT_LE((recon - expected("greedy_recon_image0")).abs().max().item<double>(), 1e-3);
}

TEST_F(TextToImage, WithoutTheCacheTheSameCodes) {
  GenerateOptions options;
  options.negative_prompt = prompts_["negative_prompt"].get<std::string>();
  options.seed = 0;
  options.kv_cache = false;
  const auto texts = prompts_["prompts"].get<std::vector<std::string>>();
  const auto full = generator_->generate(texts, options);
  EXPECT_TRUE(torch::equal(full.codes, expected("loop1_codes")));
  options.kv_cache = true;
  const auto cached = generator_->generate(texts, options);
  EXPECT_LT(cached.transformer_flops * 3, full.transformer_flops);
}

TEST_F(TextToImage, ConfigComesFromTheFolder) {
  const auto state = io::read_safetensors(model_folder() + "/model.safetensors");
  int64_t parameters = 0;
  for (const auto& [name, tensor] : state.tensors) parameters += tensor.is_floating_point() ? tensor.numel() : 0;
  const auto& config = generator_->config();
  EXPECT_EQ(config.parameter_count, parameters) << "every floating-point tensor of the file, once";
  EXPECT_EQ(config.vocabulary, prompts_["vocab_size"].get<int64_t>());
  EXPECT_EQ(config.image_token_start, prompts_["image_token_start"].get<int64_t>());
  EXPECT_EQ(config.architecture.hidden_size, 64);
  EXPECT_EQ(config.precision, Precision::Fp32);
}

TEST_F(TextToImage, BadRequestsAreOneLineErrors) {
  EXPECT_THROW(generator_->generate({""}), Error);
  EXPECT_THROW(generator_->generate({"   "}), Error);
  EXPECT_THROW(generator_->generate({}), Error);
  GenerateOptions options;
  options.passes.clear();
  EXPECT_THROW(generator_->generate({"a fox"}, options), Error);
  options.passes = {{-1, 0.5}};
  EXPECT_THROW(generator_->generate({"a fox"}, options), Error);
  options.passes = {{10, 1.5}};
  EXPECT_THROW(generator_->generate({"a fox"}, options), Error);
  EXPECT_THROW(generator_->generate_ids({{1, 2, 3}}, {1, 2}), Error) << "rows of different lengths";
  EXPECT_THROW(generator_->generate_ids({{1, 99999}}, {1, 2}), Error) << "an id outside the vocabulary";
  EXPECT_THROW(generator_->decode(torch::full({1, 817}, 5000, torch::kInt64)), Error) << "a code outside the codebook";
  EXPECT_THROW(sampling_strategy(4), Error);
}

}  // namespace
}  // namespace tokenflow::generator
