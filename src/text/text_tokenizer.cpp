#include "text/text_tokenizer.h"

#include <tokenflow/error.h>

#include <algorithm>
#include <map>

namespace tokenflow::text {

namespace {

const char* const kPadText = "<pad>";
const char* const kUnknownText = "<unk>";
const char* const kStartText = "<start>";
const char* const kEndText = "<end>";

bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

}  // namespace

TextTokenizer::TextTokenizer(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {
  for (size_t id = 0; id < tokens_.size(); ++id) ids_.emplace(tokens_[id], static_cast<int64_t>(id));
}

std::vector<std::string> TextTokenizer::words(const std::string& caption) {
  std::vector<std::string> words;
  std::string word;
  for (const char c : caption) {
    const auto byte = static_cast<unsigned char>(c);
    if (is_word_byte(byte)) {
      word += byte >= 'A' && byte <= 'Z' ? static_cast<char>(byte - 'A' + 'a') : c;
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

TextTokenizer TextTokenizer::build(const std::vector<std::string>& captions, int64_t size) {
  if (size <= kSpecialTokens) {
    throw Error("text tokenizer: a vocabulary of " + std::to_string(size) + " tokens leaves no room for words (need more than " +
                std::to_string(kSpecialTokens) + ")");
  }
  std::map<std::string, int64_t> counts;  // ordered by the word, so ties break the same way everywhere
  for (const auto& caption : captions) {
    for (auto& word : words(caption)) ++counts[word];
  }
  std::vector<std::pair<std::string, int64_t>> ranked(counts.begin(), counts.end());
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  const auto kept = std::min<size_t>(ranked.size(), static_cast<size_t>(size - kSpecialTokens));
  std::vector<std::string> tokens = {kPadText, kUnknownText};
  for (size_t i = 0; i < kept; ++i) tokens.push_back(ranked[i].first);
  tokens.push_back(kStartText);
  tokens.push_back(kEndText);
  return TextTokenizer(std::move(tokens));
}

TextTokenizer TextTokenizer::from_tensor(const torch::Tensor& saved, const std::string& source) {
  if (saved.scalar_type() != torch::kUInt8 || saved.dim() != 1) {
    throw Error(source + ": the tokenizer vocabulary is not a 1-D uint8 tensor");
  }
  const auto bytes = saved.contiguous();
  const std::string text(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()), static_cast<size_t>(bytes.numel()));
  std::vector<std::string> tokens;
  for (size_t start = 0; start <= text.size();) {
    const size_t newline = std::min(text.find('\n', start), text.size());
    tokens.push_back(text.substr(start, newline - start));
    start = newline + 1;
  }
  const bool well_formed = tokens.size() > static_cast<size_t>(kSpecialTokens) && tokens[kPad] == kPadText &&
                           tokens[kUnknown] == kUnknownText && tokens[tokens.size() - 2] == kStartText &&
                           tokens.back() == kEndText &&
                           std::none_of(tokens.begin(), tokens.end(), [](const std::string& t) { return t.empty(); });
  TextTokenizer tokenizer(std::move(tokens));
  if (!well_formed || tokenizer.ids_.size() != tokenizer.tokens_.size()) {
    throw Error(source + ": the tokenizer vocabulary is malformed (expected <pad>, <unk>, distinct words, <start>, <end>)");
  }
  return tokenizer;
}

torch::Tensor TextTokenizer::to_tensor() const {
  std::string text;
  for (size_t id = 0; id < tokens_.size(); ++id) text += (id ? "\n" : "") + tokens_[id];
  auto saved = torch::empty({static_cast<int64_t>(text.size())}, torch::kUInt8);
  std::copy(text.begin(), text.end(), reinterpret_cast<char*>(saved.data_ptr<uint8_t>()));
  return saved;
}

torch::Tensor TextTokenizer::encode(const std::vector<std::string>& captions, int64_t context) const {
  if (context < 2) throw Error("text tokenizer: a context of " + std::to_string(context) + " tokens has no room for <start> and <end>");
  auto ids = torch::full({static_cast<int64_t>(captions.size()), context}, kPad, torch::kInt64);
  auto rows = ids.accessor<int64_t, 2>();
  for (size_t row = 0; row < captions.size(); ++row) {
    int64_t position = 0;
    rows[row][position++] = start();
    for (const auto& word : words(captions[row])) {
      if (position == context - 1) break;
      const auto found = ids_.find(word);
      rows[row][position++] = found == ids_.end() ? kUnknown : found->second;
    }
    rows[row][position] = end();
  }
  return ids;
}

std::string TextTokenizer::decode(const torch::Tensor& ids) const {
  const auto row = ids.to(torch::kInt64).contiguous();
  const int64_t* id = row.data_ptr<int64_t>();
  std::string text;
  for (int64_t i = 0; i < row.numel(); ++i) {
    if (id[i] < 0 || id[i] >= size()) throw Error("text tokenizer: token id " + std::to_string(id[i]) + " is outside the vocabulary");
    if (id[i] == kPad || id[i] == start() || id[i] == end()) continue;
    text += (text.empty() ? "" : " ") + tokens_[static_cast<size_t>(id[i])];
  }
  return text;
}

}  // namespace tokenflow::text
