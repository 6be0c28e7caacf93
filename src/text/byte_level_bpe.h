#pragma once
// Qwen2's text tokenizer, byte-level BPE, as transformers' slow Qwen2Tokenizer applies it: the text in
// NFC, the added tokens (<|im_start|>, <|im_end|>, ...) split out first, each remaining piece cut by
// the Qwen2 regex (qwen2_pre_tokenizer.h), its UTF-8 bytes spelt in GPT-2's byte alphabet
// (bytes_to_unicode: "Ġ" for a space) and merged by rank. Decoding turns the alphabet back into bytes
// and replaces what is not UTF-8 as Python's errors='replace' does.
//
// A model folder holds it as vocab.json + merges.txt + tokenizer_config.json (added_tokens_decoder),
// or as tokenizer.json (the `tokenizers` format: model.vocab, model.merges, added_tokens).
#include "text/added_tokens.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tokenflow::text {

class ByteLevelBpe {
 public:
  // From vocab.json and merges.txt when both are there, else tokenizer.json; the added tokens from
  // tokenizer_config.json's added_tokens_decoder (added_tokens.json when the config has none) and
  // tokenizer.json's added_tokens. Throws tokenflow::Error naming the file for one that is missing,
  // malformed or inconsistent with the others.
  static ByteLevelBpe load(const std::string& folder);

  // tokenizer.encode(text, add_special_tokens=False): Qwen2 adds no BOS or EOS. Bytes that are not
  // UTF-8 are read as U+FFFD, as Python would have decoded them.
  std::vector<int64_t> encode(const std::string& text) const;
  // The pieces encode() hands to BPE: the regex's matches in the text between added tokens.
  std::vector<std::string> pre_tokenize(const std::string& text) const;

  // tokenizer.decode(ids, skip_special_tokens=...). Throws tokenflow::Error for an id without a token.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const;

  // len(tokenizer): the vocabulary and the added tokens outside it.
  int64_t size() const { return size_; }
  // The id of a token spelt as the vocabulary spells it ("Ġthe") or of an added token's text.
  std::optional<int64_t> token_id(const std::string& token) const;
  // The token of an id as the vocabulary spells it, and the bytes it decodes to. Throw
  // tokenflow::Error for an id without a token.
  const std::string& token(int64_t id) const;
  const std::string& token_bytes(int64_t id) const;
  // Added with "special": true, or named as a special token (eos_token, additional_special_tokens, ...)
  // by tokenizer_config.json: what skip_special leaves out. False for an id without a token.
  bool is_special(int64_t id) const;

 private:
  struct Token {
    std::string text;   // as the vocabulary spells it, or an added token's content
    std::string bytes;  // what it decodes to
    bool defined = false, special = false;
  };
  struct Merge {
    int64_t rank = 0, result = 0;
  };
  void set_vocabulary(std::vector<std::string> tokens_by_id, const std::string& source);
  void add_merge(const std::string& left, const std::string& right, int64_t rank, const std::string& where);
  void add_tokens(const std::vector<AddedToken>& tokens, const std::string& source);
  void mark_special(const std::vector<std::string>& names, const std::string& source);
  const Token& entry(int64_t id) const;

  void append_bpe(std::string_view piece, std::vector<int64_t>& ids) const;

  std::vector<Token> tokens_;  // by id; a gap between added tokens stays undefined
  std::unordered_map<std::string, int64_t> ids_;
  std::unordered_map<uint64_t, Merge> merges_;  // by (left id << 32 | right id)
  int64_t byte_ids_[256] = {};
  int64_t vocabulary_size_ = 0, size_ = 0;
  AddedTokens added_;
};

// Decodes ids as they are generated: push() returns the text completed so far, holding back the
// bytes of a character that later tokens may finish; finish() returns what is left, an unfinished
// character as U+FFFD. Together the pieces are decode(ids, skip_special).
class ByteLevelStreamDecoder {
 public:
  explicit ByteLevelStreamDecoder(const ByteLevelBpe& tokenizer, bool skip_special = false)
      : tokenizer_(&tokenizer), skip_special_(skip_special) {}

  std::string push(int64_t id);
  std::string finish();

 private:
  const ByteLevelBpe* tokenizer_;
  bool skip_special_;
  std::string pending_;  // at most the first three bytes of a character
};

}  // namespace tokenflow::text
