// Speed and memory of TokenFlow's LLaVA-Qwen understanding model with random weights (nothing to
// download), each stage in a child process for its peak memory:
//   bandwidth: what this machine's cores read from memory (a sum over 2 GiB), the bound that
//              decoding one token with weights that do not fit in cache is read against;
//   agreement: weight-only int8 against bfloat16 at the 14B width (hidden 5120, 40 heads, 8 key/value
//              heads, vocabulary 152064) with fewer layers: the likeliest token and the largest logit
//              error over the prompt's last positions, same random weights;
//   14b:       the released architecture (Qwen2.5-14B, 48 layers) with int8 weights and float32
//              activations, the SigLIP-384 TokenFlow tower: build seconds, time to first token (image
//              encode + prefill of 729 image and `text` text positions), decode tokens/s against
//              the bandwidth bound, weight bytes, peak RSS.
// It reaches src/ (the model and its prompt cache): the public Understanding needs a real Qwen2 text
// tokenizer, and a random model has none.
#include <tokenflow/runtime.h>
#include <tokenflow/tokenizer.h>

#include "measure.h"
#include "model/understanding/llava_qwen_model.h"
#include "model/understanding/prompt_cache.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

namespace tokenflow::bench {
namespace {

struct Settings {
  int threads = cpu_cores();
  int64_t layers = 48;
  int64_t agreement_layers = 4;
  int64_t text = 71;  // with the image's 729: an 800-position prompt
  int64_t agreement_positions = 128;
  int64_t decode = 16;
  bool skip_14b = false;
  std::string markdown;
};

using understanding::LlavaQwenConfig;
using understanding::LlavaQwenModel;

// Qwen2.5-14B as its config.json gives it, with the LLaVA fields of the TokenFlow release.
LlavaQwenConfig released_14b(int64_t layers) {
  LlavaQwenConfig c;
  auto& q = c.qwen;
  q.hidden_size = 5120;
  q.intermediate_size = 13824;
  q.layers = layers;
  q.heads = 40;
  q.key_value_heads = 8;
  q.vocabulary = 152064;
  q.rms_norm_eps = 1e-6;
  q.rope_theta = 1e6;
  q.attention_bias = true;
  c.vision_width = 40;
  c.projector_layers = 2;
  c.context = 32768;
  c.pad_to_square = true;
  return c;
}

constexpr int64_t kTextVocabulary = 151665;  // len(tokenizer) of Qwen2.5

std::vector<int64_t> random_ids(int64_t count, uint64_t seed) {
  torch::manual_seed(seed);
  const auto ids = torch::randint(0, kTextVocabulary, {count}, torch::kInt64);
  return std::vector<int64_t>(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + count);
}

// A prompt as the official one is laid out: some text, the image marker, the rest of the text.
std::vector<int64_t> prompt_ids(int64_t text, uint64_t seed) {
  auto ids = random_ids(text, seed);
  ids.insert(ids.begin() + std::min<int64_t>(15, text), understanding::kImageToken);
  return ids;
}

Figures run_bandwidth() {
  Figures f;
  const auto buffer = torch::ones({int64_t{1} << 29}, torch::kFloat32);  // 2 GiB
  const double seconds = time_median(5, [&] { buffer.sum(); });
  f["gbps"] = static_cast<double>(buffer.numel()) * 4 / seconds / 1e9;
  return f;
}

Figures run_agreement(const Settings& s) {
  torch::NoGradGuard no_grad;
  const auto config = released_14b(s.agreement_layers);
  const auto ids = random_ids(s.agreement_positions, 3);
  std::vector<torch::Tensor> logits;
  for (const auto format : {nn::WeightFormat::Dense, nn::WeightFormat::Int8}) {
    const auto dtype = format == nn::WeightFormat::Dense ? torch::kBFloat16 : torch::kFloat32;
    const LlavaQwenModel model(config, kTextVocabulary, nn::TensorTable::random("random", dtype, 0), format);
    const auto embeddings = model.embed(ids, torch::Tensor());
    const auto length = embeddings.size(1);
    const auto hidden = model.decoder.forward(embeddings, nn::causal_mask(0, length, embeddings.options()),
                                              torch::arange(length).unsqueeze(0));
    logits.push_back(model.logits(hidden.last[0].narrow(0, length / 2, length - length / 2)));
  }
  Figures f;
  f["top1"] = (logits[0].argmax(-1) == logits[1].argmax(-1)).to(torch::kDouble).mean().item<double>();
  f["max_error"] = ((logits[0] - logits[1]).abs().max() / logits[0].abs().max()).item<double>();
  f["positions"] = static_cast<double>(logits[0].size(0));
  return f;
}

Figures run_14b(const Settings& s) {
  torch::NoGradGuard no_grad;
  Figures f;
  const auto config = released_14b(s.layers);
  std::optional<LlavaQwenModel> model;
  std::optional<Model> tower;
  f["build_s"] = seconds_of([&] {
    model.emplace(config, kTextVocabulary, nn::TensorTable::random("random", torch::kFloat32, 0), nn::WeightFormat::Int8);
    LoadOptions fp32;
    fp32.precision = Precision::Fp32;
    tower.emplace(Model::random("siglip384", 0, fp32));
  });
  int64_t bytes = model->decoder.embed_tokens.bytes() + model->lm_head.bytes();
  for (const auto& layer : model->decoder.layers) bytes += layer.weight_bytes();
  f["weight_bytes"] = static_cast<double>(bytes);
  // Bytes one decoded token reads: every layer's projections and lm_head (one embedding row).
  f["token_bytes"] = static_cast<double>(bytes - model->decoder.embed_tokens.bytes());

  torch::manual_seed(5);
  const auto pixels = torch::rand({1, 3, 384, 384}) * 2 - 1;
  torch::Tensor images;
  f["image_s"] = seconds_of([&] { images = model->project(tower->understanding_features(pixels)); });
  understanding::PromptCache cache(*model, images);
  const auto ids = prompt_ids(s.text, 4);
  torch::Tensor logits;
  f["prefill_s"] = seconds_of([&] { logits = cache.prefill(ids, config.context); });
  f["prompt_positions"] = static_cast<double>(cache.positions());
  f["decode_s"] = seconds_of([&] {
    for (int64_t t = 0; t < s.decode; ++t) logits = cache.step(logits.argmax().item<int64_t>());
  });
  f["decoded"] = static_cast<double>(s.decode);
  return f;
}

int run(const Settings& s) {
  set_num_threads(s.threads);
  std::ostringstream md;
  const auto bandwidth = in_child(run_bandwidth);
  md << "Threads: " << s.threads << ". Memory read bandwidth (a float32 sum over 2 GiB, median of 5): "
     << fixed(bandwidth.at("gbps"), 1) << " GB/s.\n\n";

  const auto agreement = in_child([&] { return run_agreement(s); });
  md << "Int8 weights against bfloat16 at the 14B width, " << s.agreement_layers << " layers, random weights (N(0, 0.02) "
     << "matrices, norms and biases 1 + N(0, 0.02)), the last " << fixed(agreement.at("positions"), 0) << " of "
     << s.agreement_positions << " prompt positions: top-1 agreement " << fixed(100 * agreement.at("top1"), 1)
     << "%, largest logit error " << fixed(100 * agreement.at("max_error"), 2) << "% of the largest logit.\n\n";

  if (!s.skip_14b) {
    const auto f = in_child([&] { return run_14b(s); });
    const double tokens_per_s = f.at("decoded") / f.at("decode_s");
    const double bound = bandwidth.at("gbps") * 1e9 / f.at("token_bytes");
    md << "Qwen2.5-14B architecture (" << s.layers << " layers), int8 weights, float32 activations, SigLIP-384 tower, "
       << "random weights, one image and " << s.text << " text tokens (" << fixed(f.at("prompt_positions"), 0)
       << " positions):\n\n"
       << "| build s | weights GB | image s | prefill s | time to first token s | prefill tokens/s | decode tokens/s "
          "| bandwidth bound tokens/s | % of bound | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|---|\n"
       << "| " << fixed(f.at("build_s"), 1) << " | " << fixed(f.at("weight_bytes") / 1e9, 2) << " | "
       << fixed(f.at("image_s"), 2) << " | " << fixed(f.at("prefill_s"), 1) << " | "
       << fixed(f.at("image_s") + f.at("prefill_s"), 1) << " | " << fixed(f.at("prompt_positions") / f.at("prefill_s"), 1)
       << " | " << fixed(tokens_per_s, 3) << " | " << fixed(bound, 3) << " | " << fixed(100 * tokens_per_s / bound, 0)
       << "% | " << fixed(f.at("peak_rss_mib"), 0) << " |\n";
  }
  std::cout << md.str();
  if (!s.markdown.empty()) std::ofstream(s.markdown) << md.str();
  return 0;
}

}  // namespace
}  // namespace tokenflow::bench

int main(int argc, char** argv) {
  tokenflow::bench::Settings s;
  CLI::App app{"tokenflow_bench_understand: TokenFlow LLaVA-Qwen speed and memory with random weights"};
  app.add_option("--threads", s.threads, "CPU threads")->capture_default_str();
  app.add_option("--layers", s.layers, "decoder layers of the 14B run (48 released; fewer for a quick run)")->capture_default_str();
  app.add_option("--agreement-layers", s.agreement_layers, "layers of the int8-against-bf16 run")->capture_default_str();
  app.add_option("--agreement-positions", s.agreement_positions, "prompt positions of that run")->capture_default_str();
  app.add_option("--text", s.text, "text tokens of the 14B prompt, beside the image's 729")->capture_default_str();
  app.add_option("--decode", s.decode, "tokens decoded after the prompt")->capture_default_str();
  app.add_flag("--skip-14b", s.skip_14b, "only the bandwidth and agreement runs");
  app.add_option("--markdown", s.markdown, "also write the tables to this file");
  CLI11_PARSE(app, argc, argv);
  try {
    return tokenflow::bench::run(s);
  } catch (const std::exception& e) {
    std::cerr << "tokenflow_bench_understand: " << e.what() << "\n";
    return 1;
  }
}
