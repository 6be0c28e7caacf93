#pragma once
// The text tokenizer of tokenflow's own CLIP teacher: lower-cased words, with a vocabulary of the most
// frequent words of the training captions. Deterministic (the same captions give the same vocabulary
// on every machine) and saved inside the teacher checkpoint, so the checkpoint is self-contained.
//
// A word is a maximal run of ASCII letters and digits and non-ASCII bytes (UTF-8 letters are kept as
// they are; only ASCII is lower-cased); everything else separates words and is dropped.
//
// Token ids: 0 <pad>, 1 <unk>, then the words, most frequent first (ties in byte order), then <start>
// and <end> last, so that, as in OpenAI's tokenizer, the end token has the largest id and
// text.argmax(-1) finds it.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace tokenflow::text {

class TextTokenizer {
 public:
  static constexpr int64_t kPad = 0;
  static constexpr int64_t kUnknown = 1;
  static constexpr int64_t kSpecialTokens = 4;  // <pad>, <unk>, <start>, <end>

  // The vocabulary of `captions`, `size` tokens at most (the four special ones included). Throws
  // tokenflow::Error when `size` leaves no room for a word.
  static TextTokenizer build(const std::vector<std::string>& captions, int64_t size);

  // From the saved form (to_tensor()): the tokens in id order, one a line, as UTF-8 bytes. `source`
  // names the file in errors.
  static TextTokenizer from_tensor(const torch::Tensor& saved, const std::string& source);
  torch::Tensor to_tensor() const;  // uint8

  // The words of a caption, lower-cased.
  static std::vector<std::string> words(const std::string& caption);

  // B x context int64: <start>, the words (unknown ones as <unk>), <end>, then <pad> (0). Captions too
  // long are cut so that <end> stays, as OpenAI's tokenize(truncate=True) does.
  torch::Tensor encode(const std::vector<std::string>& captions, int64_t context) const;
  // The words of one row of ids, separated by spaces; the special tokens other than <unk> are left out.
  std::string decode(const torch::Tensor& ids) const;

  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  int64_t start() const { return size() - 2; }
  int64_t end() const { return size() - 1; }

 private:
  explicit TextTokenizer(std::vector<std::string> tokens);

  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int64_t> ids_;
};

}  // namespace tokenflow::text
