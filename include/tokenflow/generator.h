#pragma once
// Text-to-image generation with TokenFlow-t2i (Qu et al., CVPR 2025; t2i/ of the official code): a
// Llama decoder reads the prompt, then predicts each scale of the TokenFlow tokenizer's tokens at
// once, and the tokenizer decodes them.
//
//   auto generator = tokenflow::Generator::load("TokenFlow-t2i/");
//   tokenflow::GenerateOptions options;
//   options.seed = 42;
//   auto result = generator.generate({"a red fox in the snow"}, options);  // result.images: B x H x W x 3
//
// With a seed, on the CPU in float32, the images are the official code's with that seed (under
// PyTorch 1.13's CPU generator; docs/generation.md). Passes keep a key/value cache; the official
// recomputation is an option, with the same tokens.
//
// Thread safety: as Model (tokenizer.h): generate may run on several threads at once; loading and
// set_progress may not run beside other calls.
#include <tokenflow/tokenizer.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tokenflow {

// One sampling pass of a scale: top-k (0: off; ties at the k-th value stay) and top-p (0: off).
struct SamplingPass {
  int64_t top_k = 0;
  double top_p = 0.0;
};

// The official multi-step strategies (eval/run_llava_samples.py --loop): 1 samples each scale once
// (top-k 600, top-p 0.6); 2 and 3 re-predict each scale after the first with its own codes as input,
// once (1200/0.8, then greedy) or twice (1200/0.8, 100/0.8, then greedy). Throws for another number.
std::vector<SamplingPass> sampling_strategy(int loop);

// The official eval script's negative prompt.
extern const char* const kDefaultNegativePrompt;

struct GeneratorLoadOptions {
  // The TokenFlow tokenizer checkpoint; empty: config.json's mm_vision_tower, relative to the folder.
  std::string tokenizer;
  // The language model's arithmetic: Fp32 or Bf16; Auto keeps the checkpoint's (Bf16 for a bfloat16 or
  // float16 file, Fp32 for a float32 one). Mixed is not a generator mode. The tokenizer's decoder
  // runs in its own Auto (tokenizer.h).
  Precision precision = Precision::Auto;
  std::string device = "cpu";
};

// The sizes of a TokenFlow-t2i language model (config.json).
struct GeneratorArchitecture {
  int64_t hidden_size = 4096, intermediate_size = 11008, layers = 32, heads = 32, key_value_heads = 32;
  int64_t text_vocabulary = 32000;  // sentencepiece pieces; [PAD] and one token per code follow them
  int64_t context = 1024;           // tokenizer_model_max_length
  // The released TokenFlow-t2i: Llama-2-7B with QKNorm.
  static GeneratorArchitecture released_7b() { return {}; }
};

struct GeneratorConfig {
  GeneratorArchitecture architecture;
  int64_t vocabulary = 0;         // text, [PAD] and the image tokens
  int64_t image_token_start = 0;  // the id of <vq_token_0>
  int64_t parameter_count = 0;    // the language model's
  Precision precision = Precision::Fp32;
};

struct GenerateOptions {
  std::string negative_prompt = kDefaultNegativePrompt;
  double cfg = 7.5;  // guidance at the last scale; it ramps linearly from 0 at the first
  std::vector<SamplingPass> passes = sampling_strategy(1);
  std::optional<uint64_t> seed;  // none: a random one, reported in Generation::seed
  // false: every pass recomputes the whole sequence, as the official loop does (same tokens, slower).
  bool kv_cache = true;
};

struct Generation {
  torch::Tensor codes;   // B x tokens_per_image int64: scales coarse to fine, row-major within a scale
  torch::Tensor images;  // B x H x W x 3 uint8
  uint64_t seed = 0;
  int64_t transformer_positions = 0;  // positions the decoder computed (rows x positions, all passes)
  double transformer_flops = 0;       // the decoder's and lm_head's, 2 per multiply-add
};

class Generator {
 public:
  // folder: a Hugging Face TokenFlow-t2i folder (config.json, model.safetensors or its shards and
  // index, tokenizer.model, tokenizer_config.json). Throws tokenflow::Error naming what is missing or
  // inconsistent (a tokenizer whose codebook size differs from the vq tokens, tensors unlike config).
  static Generator load(const std::string& folder, const GeneratorLoadOptions& options = {});
  // Random weights in an architecture, with a random tokenizer of a released architecture
  // ("clipb256e"), for benchmarks. It has no text tokenizer: use generate_ids.
  static Generator random(const GeneratorArchitecture& architecture, const std::string& tokenizer_architecture,
                          uint64_t seed = 0, const GeneratorLoadOptions& options = {});
  ~Generator();
  Generator(Generator&&) noexcept;
  Generator& operator=(Generator&&) noexcept;

  const GeneratorConfig& config() const;
  const Model& tokenizer() const;
  // Called at each scale of every later generation ("generate", stage "scale N", N of the scales).
  void set_progress(ProgressCallback callback);

  // One image per prompt. Throws tokenflow::Error for an empty prompt or a model without a text tokenizer.
  Generation generate(const std::vector<std::string>& prompts, const GenerateOptions& options = {}) const;
  // The same from token ids already laid out as the official prefix (left-padded text, then "<img>"):
  // rows of equal length; negative_ids is the unconditional row. GenerateOptions::negative_prompt is
  // not read.
  Generation generate_ids(const std::vector<std::vector<int64_t>>& prompt_ids, const std::vector<int64_t>& negative_ids,
                          const GenerateOptions& options = {}) const;
  // The token ids a prompt becomes (the official prefix).
  std::vector<int64_t> prompt_ids(const std::string& prompt) const;
  // Codes (B x tokens_per_image) -> images B x H x W x 3 uint8, as decode_to_img_pt and the official
  // conversion (x * 127.5 + 128, clamped, truncated).
  torch::Tensor decode(const torch::Tensor& codes) const;

  struct Impl;

 private:
  explicit Generator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tokenflow
