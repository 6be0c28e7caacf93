// generate: text -> images with a TokenFlow-t2i model folder.
#include "commands.h"

#include <tokenflow/error.h>
#include <tokenflow/files.h>
#include <tokenflow/generator.h>
#include <tokenflow/runtime.h>
#include <tokenflow/tokens.h>

#include <unistd.h>

#include <iostream>
#include <memory>
#include <optional>
#include <random>

namespace tokenflow::cli {

namespace {

struct GenerateCommandOptions {
  LanguageModelOptions model;
  std::vector<std::string> prompts;
  std::string output;
  std::string tokens;
  std::string negative = kDefaultNegativePrompt;
  double cfg = 7.5;
  int loop = 1;
  std::optional<int64_t> top_k;
  std::optional<double> top_p;
  std::optional<uint64_t> seed;
  int batch = 1;
  bool no_kv_cache = false;
  bool no_progress = false;
};

// The live "generate: prompts a-b, scale s/9" line, where stderr is a terminal.
ProgressCallback progress_line(const std::string& prompts) {
  return [prompts](const Progress& progress) {
    std::fprintf(stderr, "\rgenerate: %s, %s/%d ", prompts.c_str(), progress.stage.c_str(), progress.total);
    std::fflush(stderr);
    return true;
  };
}

int run_generate(const GenerateCommandOptions& o) {
  const std::vector<std::string> kImageFiles = {".png", ".jpg", ".jpeg", ".npy"};
  io::require_extension(o.output, kImageFiles, "the output");
  io::check_output_pattern(o.output);
  if (!o.tokens.empty()) io::require_extension(o.tokens, {".json"}, "--tokens");
  for (const auto& prompt : o.prompts) {
    if (prompt.find_first_not_of(" \t\n\r\v\f") == std::string::npos) throw Error("empty prompt");
  }
  GenerateOptions options;
  options.negative_prompt = o.negative;
  options.cfg = o.cfg;
  options.passes = sampling_strategy(o.loop);
  if (o.top_k) options.passes.front().top_k = *o.top_k;
  if (o.top_p) options.passes.front().top_p = *o.top_p;
  options.seed = o.seed ? *o.seed : std::random_device{}();
  options.kv_cache = !o.no_kv_cache;

  set_num_threads(o.model.threads);
  GeneratorLoadOptions load;
  load.tokenizer = o.model.tokenizer;
  load.precision = parse_precision(o.model.precision);
  load.device = o.model.device;
  Generator generator = Generator::load(o.model.folder, load);

  std::vector<torch::Tensor> codes, images;
  const bool live = !o.no_progress && ::isatty(STDERR_FILENO) != 0;
  const auto count = static_cast<int64_t>(o.prompts.size());
  for (int64_t first = 0; first < count; first += o.batch) {
    const auto last = std::min<int64_t>(count, first + o.batch);
    const std::vector<std::string> batch(o.prompts.begin() + first, o.prompts.begin() + last);
    if (live) generator.set_progress(progress_line("prompts " + std::to_string(first + 1) + "-" + std::to_string(last) + " of " + std::to_string(count)));
    const auto generation = generator.generate(batch, options);
    codes.push_back(generation.codes);
    images.push_back(generation.images);
  }
  if (live) std::fprintf(stderr, "\n");
  io::OutputFiles outputs;
  outputs.write_images(o.output, torch::cat(images));
  if (!o.tokens.empty()) {
    outputs.write_text(o.tokens, tokens_json(torch::cat(codes), generator.tokenizer().config(), o.model.folder, o.prompts));
  }
  outputs.keep();
  std::cout << "seed " << *options.seed << "\n";
  return 0;
}

}  // namespace

std::vector<Command> add_generate_command(CLI::App& app) {
  auto o = std::make_shared<GenerateCommandOptions>();
  CLI::App* c = app.add_subcommand("generate", "text -> images with a TokenFlow-t2i model folder")->group("Generation");
  add_language_model_options(c, o->model, "config.json, model*.safetensors, tokenizer.model, tokenizer_config.json");
  c->add_option("PROMPT", o->prompts, "one image per prompt")->required();
  add_output_option(c, o->output, kImageOutputHelp)->required();
  c->add_option("--tokens", o->tokens, "also write the codes, .json as `tokenflow encode` writes them (decode reads it)")
      ->group(kOutputGroup);
  c->add_option("--negative", o->negative, "the negative prompt of classifier-free guidance (default: the official one)")
      ->group("Sampling");
  c->add_option("--cfg", o->cfg, "guidance at the last scale, ramping from 0 at the first")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1000.0))
      ->group("Sampling");
  c->add_option("--loop", o->loop,
                "the official strategy: 1 (top-k 600, top-p 0.6), 2 or 3 (each scale re-predicted once or twice)")
      ->capture_default_str()
      ->check(CLI::IsMember({1, 2, 3}))
      ->group("Sampling");
  c->add_option("--top-k", o->top_k, "top-k of each scale's first pass, instead of the strategy's (0: off)")
      ->check(CLI::NonNegativeNumber)
      ->group("Sampling");
  c->add_option("--top-p", o->top_p, "top-p of each scale's first pass, instead of the strategy's (0: off)")
      ->check(CLI::Range(0.0, 0.999999))
      ->group("Sampling");
  add_seed_option(c, o->seed);
  c->add_option("--batch", o->batch, "prompts generated together")->capture_default_str()->check(CLI::Range(1, 64))->group(kComputeGroup);
  c->add_flag("--no-kv-cache", o->no_kv_cache, "recompute the whole sequence at every pass, as the official loop (same images)")
      ->group(kComputeGroup);
  add_no_progress_flag(c, o->no_progress);
  return {{c, [o](const std::vector<std::string>&) { return run_generate(*o); }}};
}

}  // namespace tokenflow::cli
