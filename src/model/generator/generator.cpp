#include <tokenflow/generator.h>

#include "io/safetensors.h"
#include "model/generator/generation_prefix.h"
#include "model/generator/next_scale_sampler.h"
#include "model/generator/text_to_image_model.h"
#include "model/tokenizer/vision_tower_file.h"
#include "text/llama_tokenizer.h"

#include <cmath>
#include <filesystem>
#include <random>

namespace tokenflow {

const char* const kDefaultNegativePrompt =
    "lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, fewer digits, cropped, worst quality, "
    "low quality, normal quality, jpeg artifacts, signature, watermark, username, blurry.";

std::vector<SamplingPass> sampling_strategy(int loop) {
  switch (loop) {
    case 1: return {{600, 0.6}};
    case 2: return {{1200, 0.8}, {1, 0.0}};
    case 3: return {{1200, 0.8}, {100, 0.8}, {1, 0.0}};
    default: throw Error("sampling strategy " + std::to_string(loop) + " is not 1, 2 or 3");
  }
}

namespace {

std::string vq_token(int64_t code) { return "<vq_token_" + std::to_string(code) + ">"; }

// The tokenizer checkpoint: the caller's, else the one mm_vision_tower names in the folder.
std::string tokenizer_path(const std::string& folder, const generator::TextToImageConfig& config,
                           const GeneratorLoadOptions& options) {
  if (!options.tokenizer.empty()) return options.tokenizer;
  return model::vision_tower_file(folder, config.vision_tower);
}

torch::ScalarType model_dtype(Precision precision, const io::StateDict& weights) {
  switch (precision) {
    case Precision::Fp32: return torch::kFloat32;
    case Precision::Bf16: return torch::kBFloat16;
    case Precision::Mixed: throw Error("precision mixed is a tokenizer mode; the generator runs fp32 or bf16");
    case Precision::Auto: break;
  }
  return nn::stored_in_half(weights, "lm_head.weight") ? torch::kBFloat16 : torch::kFloat32;
}

LoadOptions tokenizer_options(const GeneratorLoadOptions& options) {
  LoadOptions loaded;
  loaded.device = options.device;
  if (options.precision == Precision::Fp32) loaded.precision = Precision::Fp32;
  return loaded;
}

}  // namespace

struct Generator::Impl {
  Model tokenizer;
  std::optional<text::LlamaTokenizer> text;
  std::unique_ptr<generator::TextToImageModel> model;
  GeneratorConfig config;
  ProgressCallback progress;
  int64_t pad = 0;

  Impl(Model tokenizer) : tokenizer(std::move(tokenizer)) {}

  void finish(const generator::TextToImageConfig& t2i, const io::StateDict& weights, const std::string& source,
              torch::ScalarType dtype, const std::string& device) {
    const auto& tc = tokenizer.config();
    if (t2i.vision_width != tc.code_dim()) {
      throw Error(source + ": mm_hidden_size " + std::to_string(t2i.vision_width) + " differs from the tokenizer's code width " +
                  std::to_string(tc.code_dim()));
    }
    if (t2i.codebook_size != tc.codebook_size) {
      throw Error(source + ": vq_codebook_size " + std::to_string(t2i.codebook_size) + " differs from the tokenizer's " +
                  std::to_string(tc.codebook_size) + " codes");
    }
    const nn::TensorTable table(weights, source, torch::TensorOptions().dtype(dtype).device(torch::Device(device)));
    model = std::make_unique<generator::TextToImageModel>(t2i, table);
    if (model->image_tokens() != tc.tokens_per_image || model->scale_count() != static_cast<int64_t>(tc.scales.size())) {
      throw Error(source + ": pos_1LC and lvl_embed hold " + std::to_string(model->image_tokens()) + " tokens and " +
                  std::to_string(model->scale_count()) + " scales where the tokenizer has " + std::to_string(tc.tokens_per_image) +
                  " and " + std::to_string(tc.scales.size()));
    }
    const auto& llama = t2i.llama;
    config.architecture = {llama.hidden_size, llama.intermediate_size, llama.layers, llama.heads, llama.key_value_heads,
                           config.image_token_start - 1, t2i.context};
    config.vocabulary = llama.vocabulary;
    config.parameter_count = table.taken_elements();
    config.precision = dtype == torch::kBFloat16 ? Precision::Bf16 : Precision::Fp32;
  }

  void check_image_tokens(const std::string& source) {
    const int64_t codes = tokenizer.config().codebook_size;
    config.image_token_start = text->token_id(vq_token(0));
    const int64_t last = text->token_id(vq_token(codes - 1));
    if (config.image_token_start < 0 || last != config.image_token_start + codes - 1 || text->token_id(vq_token(codes)) >= 0) {
      throw Error(source + ": the text tokenizer's <vq_token_N> tokens do not match the tokenizer's " + std::to_string(codes) +
                  " codes (a tokenizer checkpoint of another codebook size?)");
    }
    pad = text->pad_id();
    if (pad < 0) throw Error(source + ": the text tokenizer has no pad token");
  }
};

Generator Generator::load(const std::string& folder, const GeneratorLoadOptions& options) {
  if (!std::filesystem::is_directory(folder)) throw Error(folder + ": not a model folder");
  const auto config_path = folder + "/config.json";
  if (!std::filesystem::is_regular_file(config_path)) throw Error(folder + ": no config.json (not a Hugging Face model folder)");
  const auto t2i = generator::TextToImageConfig::read(config_path);
  auto impl = std::make_unique<Impl>(Model::load(tokenizer_path(folder, t2i, options), tokenizer_options(options)));
  impl->text = text::LlamaTokenizer::load(folder);
  impl->check_image_tokens(folder);
  if (impl->text->size() > t2i.llama.vocabulary) {
    throw Error(folder + ": the text tokenizer has " + std::to_string(impl->text->size()) + " tokens, more than vocab_size " +
                std::to_string(t2i.llama.vocabulary));
  }
  const auto weights = io::read_safetensors_folder(folder);
  impl->finish(t2i, weights, folder, model_dtype(options.precision, weights), options.device);
  return Generator(std::move(impl));
}

Generator Generator::random(const GeneratorArchitecture& architecture, const std::string& tokenizer_architecture, uint64_t seed,
                            const GeneratorLoadOptions& options) {
  auto impl = std::make_unique<Impl>(Model::random(tokenizer_architecture, seed, tokenizer_options(options)));
  const auto& tc = impl->tokenizer.config();
  generator::TextToImageConfig t2i;
  t2i.llama = {architecture.hidden_size, architecture.intermediate_size, architecture.layers, architecture.heads,
               architecture.key_value_heads, architecture.text_vocabulary + 1 + tc.codebook_size};
  generator::use_t2i_layers(t2i.llama);
  t2i.vision_width = tc.code_dim();
  t2i.projector_layers = 2;
  t2i.context = architecture.context;
  t2i.codebook_size = tc.codebook_size;
  impl->pad = architecture.text_vocabulary;
  impl->config.image_token_start = architecture.text_vocabulary + 1;

  const auto dtype = options.precision == Precision::Fp32 ? torch::kFloat32 : torch::kBFloat16;
  const auto& c = t2i.llama;
  const int64_t kv = c.key_value_heads * c.head_dim();
  io::StateDict weights;
  torch::manual_seed(seed);
  auto add = [&](const std::string& name, std::vector<int64_t> shape, double mean, double std) {
    weights.insert(name, (torch::randn(shape) * std + mean).to(dtype));
  };
  const double init = 0.02;
  add("lm_head.weight", {c.vocabulary, c.hidden_size}, 0, init);
  add("model.embed_tokens.weight", {c.vocabulary, c.hidden_size}, 0, init);
  add("model.norm.weight", {c.hidden_size}, 1, 0);
  add("model.mm_projector.0.weight", {c.hidden_size, t2i.vision_width}, 0, init);
  add("model.mm_projector.0.bias", {c.hidden_size}, 0, 0);
  add("model.mm_projector.2.weight", {c.hidden_size, c.hidden_size}, 0, init);
  add("model.mm_projector.2.bias", {c.hidden_size}, 0, 0);
  add("model.lvl_embed.weight", {static_cast<int64_t>(tc.scales.size()) + 1, c.hidden_size}, 0, init);
  add("model.pos_1LC", {tc.tokens_per_image, c.hidden_size}, 0, init);
  for (int64_t i = 0; i < c.layers; ++i) {
    const auto p = "model.layers." + std::to_string(i) + ".";
    add(p + "self_attn.q_proj.weight", {c.hidden_size, c.hidden_size}, 0, init);
    add(p + "self_attn.k_proj.weight", {kv, c.hidden_size}, 0, init);
    add(p + "self_attn.v_proj.weight", {kv, c.hidden_size}, 0, init);
    add(p + "self_attn.o_proj.weight", {c.hidden_size, c.hidden_size}, 0, init);
    add(p + "self_attn.qknorm.query_norm.weight", {c.head_dim()}, 1, 0);
    add(p + "self_attn.qknorm.key_norm.weight", {c.head_dim()}, 1, 0);
    add(p + "mlp.gate_proj.weight", {c.intermediate_size, c.hidden_size}, 0, init);
    add(p + "mlp.up_proj.weight", {c.intermediate_size, c.hidden_size}, 0, init);
    add(p + "mlp.down_proj.weight", {c.hidden_size, c.intermediate_size}, 0, init);
    add(p + "input_layernorm.weight", {c.hidden_size}, 1, 0);
    add(p + "post_attention_layernorm.weight", {c.hidden_size}, 1, 0);
  }
  impl->finish(t2i, weights, "random generator", dtype, options.device);
  return Generator(std::move(impl));
}

Generator::Generator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Generator::~Generator() = default;
Generator::Generator(Generator&&) noexcept = default;
Generator& Generator::operator=(Generator&&) noexcept = default;

const GeneratorConfig& Generator::config() const { return impl_->config; }
const Model& Generator::tokenizer() const { return impl_->tokenizer; }
void Generator::set_progress(ProgressCallback callback) { impl_->progress = std::move(callback); }

std::vector<int64_t> Generator::prompt_ids(const std::string& prompt) const {
  if (!impl_->text) throw Error("this generator has no text tokenizer (random weights): give token ids");
  return generator::generation_prefix(*impl_->text, prompt);
}

Generation Generator::generate(const std::vector<std::string>& prompts, const GenerateOptions& options) const {
  if (prompts.empty()) throw Error("no prompt to generate from");
  std::vector<std::vector<int64_t>> ids;
  for (const auto& prompt : prompts) {
    if (prompt.find_first_not_of(" \t\n\r\v\f") == std::string::npos) throw Error("empty prompt");
    ids.push_back(prompt_ids(prompt));
  }
  return generate_ids(ids, prompt_ids(options.negative_prompt), options);
}

Generation Generator::generate_ids(const std::vector<std::vector<int64_t>>& prompt_ids, const std::vector<int64_t>& negative_ids,
                                   const GenerateOptions& options) const {
  if (prompt_ids.empty()) throw Error("no prompt to generate from");
  if (options.passes.empty()) throw Error("a sampling strategy needs at least one pass");
  for (const auto& pass : options.passes) {
    if (pass.top_k < 0 || !(pass.top_p >= 0 && pass.top_p < 1)) throw Error("top-k must be >= 0 and top-p in [0, 1)");
  }
  if (!std::isfinite(options.cfg) || options.cfg < 0) throw Error("cfg must be a finite number >= 0");
  std::vector<std::vector<int64_t>> rows = prompt_ids;
  rows.insert(rows.end(), prompt_ids.size(), negative_ids);

  generator::SamplingSettings settings;
  settings.cfg = options.cfg;
  for (const auto& pass : options.passes) settings.passes.push_back({pass.top_k, pass.top_p});
  settings.seed = options.seed ? *options.seed : std::random_device{}();
  settings.mode = options.kv_cache ? generator::PassMode::Cached : generator::PassMode::Full;

  std::vector<int64_t> scales;
  for (int side : impl_->tokenizer.config().scales) scales.push_back(side);
  const auto on_scale = [&](int64_t scale, int64_t count) {
    const auto stage = "scale " + std::to_string(scale + 1);
    if (impl_->progress && !impl_->progress(Progress{"generate", stage, static_cast<int>(scale), static_cast<int>(count)})) {
      throw Cancelled("generate: cancelled before " + stage);
    }
  };
  const auto sampled = generator::sample_codes(*impl_->model, impl_->tokenizer.codebook(), scales, rows,
                                               {impl_->config.image_token_start, impl_->pad}, settings, {}, on_scale);
  Generation generation;
  generation.codes = sampled.codes;
  generation.images = decode(sampled.codes);
  generation.seed = settings.seed;
  generation.transformer_positions = sampled.work.positions;
  generation.transformer_flops = sampled.work.flops;
  return generation;
}

torch::Tensor Generator::decode(const torch::Tensor& codes) const {
  const auto images = impl_->tokenizer.decode_indices(codes);
  return torch::clamp(images.permute({0, 2, 3, 1}).contiguous() * 127.5 + 128.0, 0, 255).to(torch::kUInt8);
}

}  // namespace tokenflow
