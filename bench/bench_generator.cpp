// Speed of TokenFlow-t2i generation with random weights (nothing to download), one 256 x 256 image
// (one prompt and its negative row), strategy 1, each run in a child process for its peak memory:
//   gemm:     this machine's matrix-product throughput on the 7B shapes (a scale of 512 rows), the
//             ceiling GFLOP/s are read against;
//   reduced:  the official op sequence (no cache: every pass recomputes the whole sequence, float32)
//             and ours (key/value cache, float32) at a reduced width, same seed: seconds, positions,
//             counted FLOPs, and whether the codes agree (with random weights' near-uniform logits
//             rounding can move draws; ctest checks identity on the parity fixture);
//   7b:       ours at the released architecture (Llama-2-7B with QKNorm) in bfloat16 with the cache:
//             seconds per image, image tokens/s, GFLOP/s, peak RSS, and the official loop's FLOPs at
//             7B, from the formula that reproduces the reduced run's count exactly.
#include <tokenflow/generator.h>
#include <tokenflow/runtime.h>

#include "measure.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace tokenflow::bench {
namespace {

struct Settings {
  int threads = cpu_cores();
  int64_t layers_7b = 32;
  int64_t reduced_hidden = 1024, reduced_layers = 4;
  bool skip_7b = false;
  std::string markdown;
};

constexpr int64_t kTextTokens = 128, kMarkerTokens = 3;

// A prompt of `words` random text ids laid out as the official prefix: BOS and the ids, left-padded
// with [PAD] to 128, then three marker ids (Llama's "<img>" is three pieces).
std::vector<int64_t> prompt_ids(const GeneratorArchitecture& a, int64_t words, uint64_t seed) {
  torch::manual_seed(seed);
  std::vector<int64_t> ids(static_cast<size_t>(kTextTokens - words - 1), a.text_vocabulary);
  ids.push_back(1);
  for (int64_t i = 0; i < words + kMarkerTokens; ++i) ids.push_back(torch::randint(3, a.text_vocabulary, {1}).item<int64_t>());
  return ids;
}

// The official loop's FLOPs for strategy 1 (as the sampler counts them): every scale's pass runs the
// whole sequence up to it, T - 1 + the tokens through the scale, every position attending to all of
// them, and lm_head on all of them; 2 rows.
double official_flops(const GeneratorArchitecture& a, int64_t vocabulary, const std::vector<int>& scales) {
  const double hidden = static_cast<double>(a.hidden_size);
  const double kv = static_cast<double>(a.key_value_heads * (a.hidden_size / a.heads));
  const double per_position = 2 * (2 * hidden * hidden + 2 * hidden * kv + 3 * hidden * static_cast<double>(a.intermediate_size));
  double flops = 0, through = 0;
  for (int side : scales) {
    through += side * side;
    const double length = kTextTokens + kMarkerTokens - 1 + through;
    flops += 2 * (static_cast<double>(a.layers) * (length * per_position + 4 * length * length * hidden) +
                  length * 2 * hidden * static_cast<double>(vocabulary));
  }
  return flops;
}

Figures run_generation(const GeneratorArchitecture& a, Precision precision, bool cache) {
  Figures f;
  GeneratorLoadOptions load;
  load.precision = precision;
  std::optional<Generator> generator;
  f["load_s"] = seconds_of([&] { generator.emplace(Generator::random(a, "clipb256e", 0, load)); });
  GenerateOptions options;
  options.seed = 0;
  options.kv_cache = cache;
  Generation generation;
  f["generate_s"] = seconds_of([&] { generation = generator->generate_ids({prompt_ids(a, 19, 1)}, prompt_ids(a, 60, 2), options); });
  f["positions"] = static_cast<double>(generation.transformer_positions);
  f["flops"] = generation.transformer_flops;
  f["official_flops"] = official_flops(a, generator->config().vocabulary, generator->tokenizer().config().scales);
  f["tokens"] = static_cast<double>(generation.codes.size(1));
  // The codes, to compare the two reduced runs (a sum weighted by position identifies them).
  f["codes_checksum"] = (generation.codes.to(torch::kDouble) * torch::arange(1, generation.codes.size(1) + 1).to(torch::kDouble))
                            .sum()
                            .item<double>();
  return f;
}

Figures run_gemm_peak() {
  Figures f;
  torch::NoGradGuard no_grad;
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    const auto x = torch::randn({512, 4096}).to(dtype), w = torch::randn({4096, 4096}).to(dtype);
    const double seconds = time_median(3, [&] { torch::matmul(x, w.t()); });
    f[dtype == torch::kFloat32 ? "fp32" : "bf16"] = 2.0 * 512 * 4096 * 4096 / seconds / 1e9;
  }
  return f;
}

int run(const Settings& settings) {
  set_num_threads(settings.threads);
  std::ostringstream md;
  const auto peak = in_child(run_gemm_peak);
  md << "Threads: " << settings.threads << ". Matrix products here (512 x 4096 by 4096 x 4096, LibTorch): "
     << fixed(peak.at("fp32"), 0) << " GFLOP/s fp32, " << fixed(peak.at("bf16"), 0) << " GFLOP/s bf16.\n\n";

  GeneratorArchitecture reduced = GeneratorArchitecture::released_7b();
  reduced.hidden_size = settings.reduced_hidden;
  reduced.intermediate_size = settings.reduced_hidden * 11008 / 4096;
  reduced.layers = settings.reduced_layers;
  reduced.heads = reduced.key_value_heads = settings.reduced_hidden / 128;
  const auto official = in_child([&] { return run_generation(reduced, Precision::Fp32, false); });
  const auto ours = in_child([&] { return run_generation(reduced, Precision::Fp32, true); });
  md << "Reduced width (hidden " << reduced.hidden_size << ", " << reduced.layers << " layers, " << reduced.heads
     << " heads, float32), one image:\n\n"
     << "| loop | s/image | positions | GFLOP | GFLOP/s | peak RSS MiB |\n|---|---|---|---|---|---|\n";
  for (const auto& [name, f] : {std::pair<std::string, Figures>{"official (no cache)", official}, {"tokenflow (cache)", ours}}) {
    md << "| " << name << " | " << fixed(f.at("generate_s"), 2) << " | " << fixed(f.at("positions"), 0) << " | "
       << fixed(f.at("flops") / 1e9, 1) << " | " << fixed(f.at("flops") / f.at("generate_s") / 1e9, 1) << " | "
       << fixed(f.at("peak_rss_mib"), 0) << " |\n";
  }
  md << "\nSpeed-up " << fixed(official.at("generate_s") / ours.at("generate_s"), 2) << "x; FLOP ratio "
     << fixed(official.at("flops") / ours.at("flops"), 2) << "x; codes "
     << (official.at("codes_checksum") == ours.at("codes_checksum")
             ? "identical"
             : "not identical (random weights give near-uniform logits over 64,769 tokens, where float32 rounding moves "
               "draws; the parity fixture's decisive weights give identical codes)")
     << "; the official-loop formula " << (official.at("official_flops") == official.at("flops") ? "equals" : "DIFFERS FROM")
     << " its counted FLOPs.\n\n";

  if (!settings.skip_7b) {
    GeneratorArchitecture big = GeneratorArchitecture::released_7b();
    big.layers = settings.layers_7b;
    const auto f = in_child([&] { return run_generation(big, Precision::Bf16, true); });
    md << "TokenFlow-t2i 7B architecture (" << big.layers << " layers), bfloat16, key/value cache, one image:\n\n"
       << "| build (random weights) s | s/image | image tokens/s | positions | TFLOP | GFLOP/s | % of bf16 GEMM | % of fp32 GEMM "
          "| peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n"
       << "| " << fixed(f.at("load_s"), 1) << " | " << fixed(f.at("generate_s"), 1) << " | "
       << fixed(f.at("tokens") / f.at("generate_s"), 1) << " | " << fixed(f.at("positions"), 0) << " | "
       << fixed(f.at("flops") / 1e12, 2) << " | " << fixed(f.at("flops") / f.at("generate_s") / 1e9, 1) << " | "
       << fixed(100 * f.at("flops") / f.at("generate_s") / 1e9 / peak.at("bf16"), 0) << "% | "
       << fixed(100 * f.at("flops") / f.at("generate_s") / 1e9 / peak.at("fp32"), 0) << "% | "
       << fixed(f.at("peak_rss_mib"), 0) << " |\n\n"
       << "The official loop at this size: " << fixed(f.at("official_flops") / 1e12, 2) << " TFLOP ("
       << fixed(f.at("official_flops") / f.at("flops"), 2) << "x ours), about "
       << fixed(f.at("official_flops") / (official.at("flops") / official.at("generate_s")) / 1e0, 0)
       << " s at the official op sequence's reduced-width GFLOP/s above.\n";
  }
  std::cout << md.str();
  if (!settings.markdown.empty()) std::ofstream(settings.markdown) << md.str();
  return 0;
}

}  // namespace
}  // namespace tokenflow::bench

int main(int argc, char** argv) {
  tokenflow::bench::Settings settings;
  CLI::App app{"tokenflow_bench_generate: TokenFlow-t2i generation speed with random weights"};
  app.add_option("--threads", settings.threads, "CPU threads")->capture_default_str();
  app.add_option("--layers", settings.layers_7b, "decoder layers of the 7B run (32 released; fewer for a quick run)")->capture_default_str();
  app.add_option("--reduced-hidden", settings.reduced_hidden, "width of the official-vs-ours run")->capture_default_str();
  app.add_option("--reduced-layers", settings.reduced_layers, "layers of the official-vs-ours run")->capture_default_str();
  app.add_flag("--skip-7b", settings.skip_7b, "only the reduced-width comparison");
  app.add_option("--markdown", settings.markdown, "also write the tables to this file");
  CLI11_PARSE(app, argc, argv);
  try {
    return tokenflow::bench::run(settings);
  } catch (const std::exception& e) {
    std::cerr << "tokenflow_bench_generate: " << e.what() << "\n";
    return 1;
  }
}
