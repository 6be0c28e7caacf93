#pragma once
// The added tokens of a transformers slow tokenizer (tokenizer_config.json's added_tokens_decoder,
// added_tokens.json, tokenizer.json's added_tokens) and how PreTrainedTokenizer.tokenize splits them
// out of a text before the model's own tokenizer sees the rest. Shared by the Llama and Qwen2
// tokenizers.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace tokenflow::text {

// lstrip / rstrip take the white space before / after the token into it; single_word keeps it from
// matching inside a word; special: skip_special_tokens leaves it out of a decode.
struct AddedToken {
  std::string content;
  int64_t id = 0;
  bool lstrip = false, rstrip = false, single_word = false, special = false;
};

// A piece of a split text: an added token, or text between them.
struct TextChunk {
  std::string text;
  const AddedToken* token = nullptr;  // set: the chunk is this added token
};

class AddedTokens {
 public:
  // Keeps `token` unless one with its content is there already (the first stays). Its content must
  // not be empty.
  void add(AddedToken token);
  // The token with this content, or nullptr.
  const AddedToken* find(const std::string& content) const;
  const std::vector<AddedToken>& all() const { return tokens_; }

  // The added tokens split out (leftmost, then longest), their lstrip / rstrip / single_word applied
  // to the neighbouring text as Python's str.lstrip / rstrip would. The chunks point into this
  // object until the next add().
  std::vector<TextChunk> split(const std::string& text) const;

 private:
  const AddedToken* at(const std::string& text, size_t position) const;

  std::vector<AddedToken> tokens_;
  std::unordered_map<std::string, size_t> by_content_;
  std::vector<size_t> lengths_;  // distinct, longest first
  bool first_byte_[256] = {};    // some token starts with this byte
};

}  // namespace tokenflow::text
