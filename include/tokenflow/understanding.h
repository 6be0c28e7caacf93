#pragma once
// Image understanding with TokenFlow's LLaVA model (Qu et al., CVPR 2025; i2t/ of the official code):
// the TokenFlow tokenizer quantises the image, a projector maps its features into the embeddings of
// a Qwen2.5 language model, and the model answers questions about it.
//
//   auto model = tokenflow::Understanding::load("Tokenflow-llava-qwen2.5-14B-finetuning/");
//   auto chat = model.chat("photo.jpg");
//   auto answer = chat.ask("What is unusual about this image?");  // answer.text
//
// Greedy answers are the official code's; sampled ones too for a seed, on the CPU in float32 under
// PyTorch 1.13's CPU generator (docs/understanding.md). Each turn of a chat feeds only what the key/
// value cache does not hold yet: the image is encoded and prefilled once.
//
// Thread safety: a loaded Understanding may serve several Chats on several threads at once; one Chat
// is used by one thread at a time.
#include <tokenflow/tokenizer.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tokenflow {

// How the language model's weights are held. Int8: every projection of the decoder and lm_head in
// int8 with a float32 scale per output channel (weight-only: the arithmetic stays in float32 or
// bfloat16), a quarter of float32's memory and half of bfloat16's, and decoding reads that much
// less; answers then differ a little from the checkpoint's. Dense: as the precision says. Auto: Dense
// when those weights fit in the memory available (available_memory(), less 2 GiB for the rest),
// else Int8.
enum class WeightStorage { Auto, Dense, Int8 };
WeightStorage parse_weight_storage(const std::string& name);  // "auto", "dense" or "int8"
std::string weight_storage_name(WeightStorage storage);

struct UnderstandingLoadOptions {
  // The TokenFlow tokenizer checkpoint (the vision tower); empty: config.json's mm_vision_tower,
  // looked for in the folder.
  std::string tokenizer;
  // The language model's arithmetic: Fp32 or Bf16; Auto keeps the checkpoint's (Bf16 for a bfloat16
  // or float16 file, Fp32 for a float32 one), except that int8 weights compute in Fp32 where the
  // CPU has no native bfloat16. The tower always runs in float32, as the parity needs.
  Precision precision = Precision::Auto;
  WeightStorage weights = WeightStorage::Auto;
  std::string device = "cpu";
};

struct UnderstandingConfig {
  int64_t hidden_size = 0, intermediate_size = 0, layers = 0, heads = 0, key_value_heads = 0;
  int64_t vocabulary = 0;    // the text tokenizer's length: the rows of embed_tokens and lm_head used
  int64_t context = 0;       // tokenizer_model_max_length: the longest prompt and answer together
  int64_t image_tokens = 0;  // positions one image takes (the tower's grid squared)
  int64_t parameter_count = 0;  // the language model's and the projector's, as stored (padding rows included)
  Precision precision = Precision::Fp32;  // of the activations (and of the dense weights)
  WeightStorage weights = WeightStorage::Dense;  // Dense or Int8
  std::string weights_reason;  // why Auto chose Int8 ("" otherwise), for a front end to report
  std::string system_prompt;  // the conversation template's default system message
};

// How an answer is drawn. The defaults are serve/cli.py's (temperature 0.2, 512 new tokens), with
// top-k, top-p and the repetition penalty from the folder's generation_config.json.
struct AnswerOptions {
  int64_t max_tokens = 512;
  double temperature = 0.2;  // 0: greedy
  std::optional<int64_t> top_k;          // 0: off
  std::optional<double> top_p;           // 1: off
  std::optional<double> repetition_penalty;  // 1: off
  std::optional<uint64_t> seed;          // none: a random one, reported in Answer::seed
};

struct Answer {
  std::string text;           // decoded without special tokens, whitespace stripped (as cli.py prints it)
  std::vector<int64_t> ids;   // the generated ids, the end token included when it was reached
  bool ended = false;         // stopped at an end token (else at max_tokens or the context)
  int64_t prompt_tokens = 0;  // positions of the whole prompt, the image's included
  int64_t computed_prompt_tokens = 0;  // of those, the ones not already in the cache
  uint64_t seed = 0;
  double image_seconds = 0, prefill_seconds = 0, decode_seconds = 0;
};

// An answer as one line of JSON: text, ids, ended, prompt_tokens, computed_prompt_tokens, seed and
// the seconds of each stage.
std::string answer_json(const Answer& answer);

// Called with each piece of the answer's text as it becomes whole UTF-8 (special tokens left out);
// returning false stops the answer there.
using TextCallback = std::function<bool(const std::string& piece)>;

class Understanding;

// A conversation about one image (serve/cli.py): each question is a user turn, each answer the
// assistant's, and the prompt of every turn is the whole conversation so far.
class Chat {
 public:
  ~Chat();
  Chat(Chat&&) noexcept;
  Chat& operator=(Chat&&) noexcept;

  // Throws tokenflow::Error for an empty question or a conversation beyond the context.
  Answer ask(const std::string& question, const AnswerOptions& options = {}, const TextCallback& on_text = {});
  // The prompt the next question would be appended to (the conversation template's text).
  std::string transcript() const;

  struct Impl;

 private:
  friend class Understanding;
  explicit Chat(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class Understanding {
 public:
  // folder: a Hugging Face LLaVA-Qwen folder (config.json, model.safetensors or its shards and index,
  // vocab.json + merges.txt or tokenizer.json, tokenizer_config.json). Throws tokenflow::Error naming
  // what is missing or inconsistent.
  static Understanding load(const std::string& folder, const UnderstandingLoadOptions& options = {});
  ~Understanding();
  Understanding(Understanding&&) noexcept;
  Understanding& operator=(Understanding&&) noexcept;

  const UnderstandingConfig& config() const;
  const Model& tokenizer() const;

  // The official preprocessing of an image file (pad to square, bicubic resize, [-1, 1]):
  // 1 x 3 x size x size. Throws tokenflow::Error for an unreadable image.
  torch::Tensor pixel_values(const std::string& image_path) const;
  // The same from an encoded image in memory; `name` is only for errors.
  torch::Tensor pixel_values(const uint8_t* data, size_t size, const std::string& name) const;

  // A conversation about an image (pixel_values' output); `system`: the system message, empty for
  // the template's.
  Chat chat(const torch::Tensor& pixel_values, const std::string& system = "") const;
  Chat chat(const std::string& image_path, const std::string& system = "") const;

  struct Impl;

 private:
  explicit Understanding(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace tokenflow
