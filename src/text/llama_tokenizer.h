#pragma once
// The Llama text tokenizer as a Hugging Face model folder holds it and transformers' slow
// LlamaTokenizer (4.43) applies it: sentencepiece (`tokenizer.model`) for the text, and the added
// tokens of `tokenizer_config.json` (`added_tokens_decoder`; `added_tokens.json` when the config has
// none) split out of the text first, each becoming its own id. TokenFlow-t2i adds `[PAD]` and one
// `<vq_token_N>` per codebook entry this way.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tokenflow::text {

class LlamaTokenizer {
 public:
  // `folder` holds tokenizer.model and tokenizer_config.json. Throws tokenflow::Error naming the file
  // for a missing or corrupt one.
  static LlamaTokenizer load(const std::string& folder);
  ~LlamaTokenizer();
  LlamaTokenizer(LlamaTokenizer&&) noexcept;
  LlamaTokenizer& operator=(LlamaTokenizer&&) noexcept;

  // tokenizer.encode(text, add_special_tokens=...): with special tokens, BOS first (add_bos_token)
  // and EOS last (add_eos_token), as the config says.
  std::vector<int64_t> encode(const std::string& text, bool add_special_tokens = true) const;

  // The id of a token given by its text: an added token or a sentencepiece piece; -1 if neither.
  int64_t token_id(const std::string& token) const;
  int64_t bos_id() const;
  int64_t pad_id() const;  // -1 when the config names no pad token
  int64_t size() const;    // sentencepiece pieces plus the added tokens above them

  struct Impl;

 private:
  explicit LlamaTokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tokenflow::text
