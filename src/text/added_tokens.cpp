#include "text/added_tokens.h"

#include "text/utf8.h"

#include <algorithm>
#include <functional>

namespace tokenflow::text {

void AddedTokens::add(AddedToken token) {
  if (token.content.empty() || by_content_.count(token.content)) return;
  by_content_.emplace(token.content, tokens_.size());
  first_byte_[static_cast<uint8_t>(token.content[0])] = true;
  const auto length = token.content.size();
  if (std::find(lengths_.begin(), lengths_.end(), length) == lengths_.end()) {
    lengths_.insert(std::upper_bound(lengths_.begin(), lengths_.end(), length, std::greater<>()), length);
  }
  tokens_.push_back(std::move(token));
}

const AddedToken* AddedTokens::find(const std::string& content) const {
  const auto found = by_content_.find(content);
  return found == by_content_.end() ? nullptr : &tokens_[found->second];
}

const AddedToken* AddedTokens::at(const std::string& text, size_t position) const {
  if (!first_byte_[static_cast<uint8_t>(text[position])]) return nullptr;
  for (const size_t length : lengths_) {
    if (position + length > text.size()) continue;
    if (const AddedToken* token = find(text.substr(position, length))) return token;
  }
  return nullptr;
}

std::vector<TextChunk> AddedTokens::split(const std::string& text) const {
  std::vector<TextChunk> chunks(1);
  for (size_t position = 0; position < text.size();) {
    if (const AddedToken* token = at(text, position)) {
      chunks.push_back({token->content, token});
      chunks.emplace_back();
      position += token->content.size();
    } else {
      chunks.back().text += text[position++];
    }
  }
  // Every token chunk has a text chunk on each side.
  for (size_t i = 0; i < chunks.size(); ++i) {
    const AddedToken* token = chunks[i].token;
    if (!token) continue;
    TextChunk& left = chunks[i - 1];
    TextChunk& right = chunks[i + 1];
    if (token->rstrip) right.text = std::string(strip_left(right.text));
    if (token->lstrip) left.text = std::string(strip_right(left.text));
    if (token->single_word && !left.text.empty() && left.text.back() != ' ') {
      left.text += token->content;
      chunks[i] = {};
    } else if (token->single_word && !right.text.empty() && right.text.front() != ' ') {
      chunks[i] = {token->content + right.text, nullptr};
      right.text.clear();
    }
  }
  return chunks;
}

}  // namespace tokenflow::text
