#include "text/byte_level_bpe.h"

#include "text/qwen2_pre_tokenizer.h"
#include "text/utf8.h"

#include <tokenflow/error.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <functional>
#include <queue>
#include <sstream>

namespace tokenflow::text {

namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

// Qwen2's own files are a few MB (151,643 tokens, 151,387 merges); the bounds only stop a hostile
// folder from making the loader allocate without limit.
constexpr std::uintmax_t kMaxFileBytes = 256u << 20;
constexpr int64_t kMaxTokens = 4'000'000;

// GPT-2's bytes_to_unicode: the printable bytes of Latin-1 stand for themselves, the others (control
// characters, space, NBSP, soft hyphen) for U+0100 onwards in byte order, so that every token is
// printable and free of white space ("Ġ" is the space, "Ċ" the newline).
class ByteAlphabet {
 public:
  ByteAlphabet() {
    byte_of_.fill(-1);
    char32_t next = 0x100;
    for (int byte = 0; byte < 256; ++byte) {
      const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae);
      const char32_t code = printable ? static_cast<char32_t>(byte) : next++;
      byte_of_[code] = static_cast<int16_t>(byte);
      chars_[byte] = code < 0x80 ? std::string(1, static_cast<char>(code))
                                 : std::string{static_cast<char>(0xc0 | (code >> 6)), static_cast<char>(0x80 | (code & 0x3f))};
    }
  }

  const std::string& character(uint8_t byte) const { return chars_[byte]; }

  // The bytes a token spells; a token with characters outside the alphabet stands for its own UTF-8,
  // as the ByteLevel decoder of `tokenizers` takes it.
  std::string bytes(const std::string& token) const {
    std::string bytes;
    for (size_t at = 0; at < token.size();) {
      const char32_t code = next_code_point(token, at);
      if (code >= byte_of_.size() || byte_of_[code] < 0) return token;
      bytes += static_cast<char>(byte_of_[code]);
    }
    return bytes;
  }

 private:
  std::array<std::string, 256> chars_;
  std::array<int16_t, 0x144> byte_of_;  // by code point; the 68 shifted bytes end at U+0143
};

const ByteAlphabet& alphabet() {
  static const ByteAlphabet instance;
  return instance;
}

std::string read_file(const std::string& path) {
  std::error_code error;
  const auto bytes = fs::file_size(path, error);
  if (error) throw Error(path + ": cannot open");
  if (bytes > kMaxFileBytes) throw Error(path + ": " + std::to_string(bytes >> 20) + " MB, more than a tokenizer file can be");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Json read_json(const std::string& path) {
  Json json = Json::parse(read_file(path), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) throw Error(path + ": not valid JSON");
  if (!json.is_object()) throw Error(path + ": not a JSON object");
  return json;
}

bool flag(const Json& object, const std::string& key, bool fallback) {
  const auto found = object.find(key);
  return found != object.end() && found->is_boolean() ? found->get<bool>() : fallback;
}

std::string string_member(const Json& object, const std::string& key) {
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : "";
}

// A token as a config names it: a string, or an AddedToken written as {"content": ...}; "" if neither.
std::string token_text(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  return value.is_object() ? string_member(value, "content") : "";
}

// vocab.json's object (token -> id) as the tokens in id order: the ids must be 0..n-1, each once.
std::vector<std::string> vocabulary_by_id(const Json& vocabulary, const std::string& source) {
  if (!vocabulary.is_object()) throw Error(source + ": the vocabulary is not a JSON object of token: id");
  const auto count = static_cast<int64_t>(vocabulary.size());
  if (count > kMaxTokens) throw Error(source + ": " + std::to_string(count) + " tokens, more than " + std::to_string(kMaxTokens));
  std::vector<std::string> tokens(static_cast<size_t>(count));
  std::vector<bool> seen(static_cast<size_t>(count));
  for (const auto& [token, value] : vocabulary.items()) {
    if (!value.is_number_integer()) throw Error(source + ": the id of token " + token + " is not an integer");
    const auto id = value.get<int64_t>();
    if (id < 0 || id >= count) {
      throw Error(source + ": token " + token + " has id " + std::to_string(id) + ", outside 0.." + std::to_string(count - 1));
    }
    if (token.empty()) throw Error(source + ": id " + std::to_string(id) + " has an empty token");
    if (seen[static_cast<size_t>(id)]) {
      throw Error(source + ": id " + std::to_string(id) + " is given to both " + tokens[static_cast<size_t>(id)] + " and " + token);
    }
    seen[static_cast<size_t>(id)] = true;
    tokens[static_cast<size_t>(id)] = token;
  }
  return tokens;
}

// tokenizer.json must describe the pipeline this class implements: BPE after Qwen2's Split and a
// ByteLevel step that adds no regex or prefix space of its own.
void check_qwen2_pipeline(const Json& tokenizer, const std::string& path) {
  const Json& model = tokenizer["model"];
  if (const auto type = string_member(model, "type"); !type.empty() && type != "BPE") {
    throw Error(path + ": a " + type + " model, not byte-level BPE");
  }
  if (flag(model, "ignore_merges", false)) throw Error(path + ": ignore_merges is set, which Qwen2's BPE does not do");
  const auto normalizer = tokenizer.find("normalizer");
  if (normalizer != tokenizer.end() && !normalizer->is_null() && (!normalizer->is_object() || string_member(*normalizer, "type") != "NFC")) {
    throw Error(path + ": a normalizer other than NFC");
  }
  const auto pre_tokenizer = tokenizer.find("pre_tokenizer");
  Json steps = Json::array();
  if (pre_tokenizer != tokenizer.end() && pre_tokenizer->is_object()) {
    steps = string_member(*pre_tokenizer, "type") == "Sequence" ? pre_tokenizer->value("pretokenizers", Json::array())
                                                                 : Json::array({*pre_tokenizer});
  }
  const auto is_split = [](const Json& step) {
    return step.is_object() && string_member(step, "type") == "Split" && step.contains("pattern") && step["pattern"].is_object() &&
           string_member(step["pattern"], "Regex") == kQwen2PreTokenizerPattern && string_member(step, "behavior") == "Isolated" &&
           !flag(step, "invert", false);
  };
  // ByteLevel's own defaults are GPT-2's: a prefix space and its regex.
  const auto is_byte_level = [](const Json& step) {
    return step.is_object() && string_member(step, "type") == "ByteLevel" && !flag(step, "add_prefix_space", true) &&
           !flag(step, "use_regex", true);
  };
  if (!steps.is_array() || steps.size() != 2 || !is_split(steps[0]) || !is_byte_level(steps[1])) {
    throw Error(path + ": the pre-tokenizer is not Qwen2's (Split by its regex, then ByteLevel without regex or prefix space)");
  }
}

// One added token of added_tokens_decoder or tokenizer.json's added_tokens.
AddedToken added_token(const Json& entry, int64_t id, const std::string& where) {
  if (!entry.is_object() || string_member(entry, "content").empty()) throw Error(where + " has no content");
  return {string_member(entry, "content"), id, flag(entry, "lstrip", false), flag(entry, "rstrip", false),
          flag(entry, "single_word", false), flag(entry, "special", false)};
}

std::vector<AddedToken> added_tokens_decoder(const Json& decoder, const std::string& source) {
  if (!decoder.is_object()) throw Error(source + ": added_tokens_decoder is not an object");
  std::vector<AddedToken> tokens;
  for (const auto& [key, entry] : decoder.items()) {
    if (key.empty() || key.size() > 18 || !std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      throw Error(source + ": added_tokens_decoder key " + key + " is not an id");
    }
    tokens.push_back(added_token(entry, std::stoll(key), source + ": added_tokens_decoder entry " + key));
  }
  return tokens;
}

std::vector<AddedToken> tokenizer_json_added_tokens(const Json& tokenizer, const std::string& source) {
  const auto list = tokenizer.find("added_tokens");
  if (list == tokenizer.end() || list->is_null()) return {};
  if (!list->is_array()) throw Error(source + ": added_tokens is not a list");
  std::vector<AddedToken> tokens;
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& entry = (*list)[i];
    const std::string where = source + ": added_tokens[" + std::to_string(i) + "]";
    if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_number_integer()) throw Error(where + " has no integer id");
    tokens.push_back(added_token(entry, entry["id"].get<int64_t>(), where));
  }
  return tokens;
}

std::vector<AddedToken> added_tokens_file(const Json& file, const std::string& source) {
  std::vector<AddedToken> tokens;
  for (const auto& [content, id] : file.items()) {
    if (!id.is_number_integer()) throw Error(source + ": the id of " + content + " is not an integer");
    tokens.push_back({content, id.get<int64_t>()});
  }
  return tokens;
}

// The special tokens a config names: bos_token, eos_token, ... and additional_special_tokens.
std::vector<std::string> special_token_names(const Json& config) {
  std::vector<std::string> names;
  for (const char* key : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}) {
    if (config.contains(key)) names.push_back(token_text(config[key]));
  }
  if (config.contains("additional_special_tokens") && config["additional_special_tokens"].is_array()) {
    for (const auto& token : config["additional_special_tokens"]) names.push_back(token_text(token));
  }
  names.erase(std::remove(names.begin(), names.end(), ""), names.end());
  return names;
}

bool is_file(const std::string& path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

}  // namespace

ByteLevelBpe ByteLevelBpe::load(const std::string& folder) {
  const std::string vocab_path = folder + "/vocab.json", merges_path = folder + "/merges.txt";
  const std::string tokenizer_path = folder + "/tokenizer.json", config_path = folder + "/tokenizer_config.json";
  ByteLevelBpe bpe;
  const bool separate_files = is_file(vocab_path) && is_file(merges_path);
  if (separate_files) {
    bpe.set_vocabulary(vocabulary_by_id(read_json(vocab_path), vocab_path), vocab_path);
    // As the slow tokenizer reads it: a "#version" first line, blank lines skipped, two tokens a line.
    std::istringstream lines(read_file(merges_path));
    int64_t rank = 0;
    size_t number = 0;
    for (std::string line; std::getline(lines, line);) {
      ++number;
      std::istringstream words(line);
      std::vector<std::string> parts;
      for (std::string word; words >> word && parts.size() < 3;) parts.push_back(word);
      if (parts.empty() || (number == 1 && parts[0].rfind("#version", 0) == 0)) continue;
      const std::string where = merges_path + ":" + std::to_string(number);
      if (parts.size() != 2) throw Error(where + ": a merge is two tokens separated by a space");
      bpe.add_merge(parts[0], parts[1], rank++, where);
    }
  } else if (is_file(tokenizer_path)) {
    const Json tokenizer = read_json(tokenizer_path);
    if (!tokenizer.contains("model") || !tokenizer["model"].is_object()) throw Error(tokenizer_path + ": no model");
    check_qwen2_pipeline(tokenizer, tokenizer_path);
    const Json& model = tokenizer["model"];
    bpe.set_vocabulary(vocabulary_by_id(model.value("vocab", Json()), tokenizer_path + " model.vocab"), tokenizer_path);
    const Json merges = model.value("merges", Json());
    if (!merges.is_array()) throw Error(tokenizer_path + ": model.merges is not a list");
    for (size_t i = 0; i < merges.size(); ++i) {
      const Json& merge = merges[i];
      const std::string where = tokenizer_path + ": model.merges[" + std::to_string(i) + "]";
      // "left right", as older `tokenizers` write it, or ["left", "right"], as newer ones do.
      std::string left, right;
      if (merge.is_string()) {
        const auto text = merge.get<std::string>();
        const auto space = text.find(' ');
        if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) throw Error(where + " is not two tokens");
        left = text.substr(0, space);
        right = text.substr(space + 1);
      } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
        left = merge[0].get<std::string>();
        right = merge[1].get<std::string>();
      } else {
        throw Error(where + " is neither \"left right\" nor [left, right]");
      }
      bpe.add_merge(left, right, static_cast<int64_t>(i), where);
    }
    bpe.add_tokens(tokenizer_json_added_tokens(tokenizer, tokenizer_path), tokenizer_path);
  } else {
    throw Error(folder + ": no tokenizer (vocab.json and merges.txt, or tokenizer.json)");
  }

  bool added_by_config = false;
  if (is_file(config_path)) {
    const Json config = read_json(config_path);
    if (config.contains("added_tokens_decoder")) {
      bpe.add_tokens(added_tokens_decoder(config["added_tokens_decoder"], config_path), config_path);
      added_by_config = true;
    }
    bpe.mark_special(special_token_names(config), config_path);
  }
  // Older transformers kept the added tokens in added_tokens.json (and their flags nowhere).
  const std::string added_path = folder + "/added_tokens.json";
  if (separate_files && !added_by_config && is_file(added_path)) {
    bpe.add_tokens(added_tokens_file(read_json(added_path), added_path), added_path);
  }
  return bpe;
}

void ByteLevelBpe::set_vocabulary(std::vector<std::string> tokens_by_id, const std::string& source) {
  vocabulary_size_ = size_ = static_cast<int64_t>(tokens_by_id.size());
  tokens_.resize(tokens_by_id.size());
  for (size_t id = 0; id < tokens_by_id.size(); ++id) {
    Token& token = tokens_[id];
    token.text = std::move(tokens_by_id[id]);
    token.bytes = alphabet().bytes(token.text);
    token.defined = true;
    ids_.emplace(token.text, static_cast<int64_t>(id));
  }
  for (int byte = 0; byte < 256; ++byte) {
    const auto found = ids_.find(alphabet().character(static_cast<uint8_t>(byte)));
    if (found == ids_.end()) {
      throw Error(source + ": no token for byte " + std::to_string(byte) + " (" + alphabet().character(static_cast<uint8_t>(byte)) +
                  "): not a byte-level vocabulary");
    }
    byte_ids_[byte] = found->second;
  }
}

void ByteLevelBpe::add_merge(const std::string& left, const std::string& right, int64_t rank, const std::string& where) {
  const auto id = [&](const std::string& token) {
    const auto found = ids_.find(token);
    if (found == ids_.end()) throw Error(where + ": merge " + left + " " + right + ": " + token + " is not in the vocabulary");
    return found->second;
  };
  const int64_t left_id = id(left), right_id = id(right), result = id(left + right);
  // A merge listed twice takes its later rank, as both transformers and `tokenizers` build their maps.
  merges_[static_cast<uint64_t>(left_id) << 32 | static_cast<uint64_t>(right_id)] = {rank, result};
}

void ByteLevelBpe::add_tokens(const std::vector<AddedToken>& tokens, const std::string& source) {
  // Ids past the vocabulary leave no more room than there are added tokens.
  const auto limit = vocabulary_size_ + static_cast<int64_t>(added_.all().size() + tokens.size());
  for (const auto& token : tokens) {
    const std::string name = "added token " + token.content + " (id " + std::to_string(token.id) + ")";
    if (token.content.empty()) throw Error(source + ": an added token without content");
    if (token.id < 0 || token.id >= limit) throw Error(source + ": " + name + " is outside 0.." + std::to_string(limit - 1));
    if (const AddedToken* known = added_.find(token.content)) {
      const int64_t id = known->id;
      if (id != token.id) throw Error(source + ": " + name + " was given id " + std::to_string(id) + " before");
      continue;  // tokenizer.json and tokenizer_config.json both list it
    }
    const auto in_vocabulary = ids_.find(token.content);
    if (in_vocabulary != ids_.end() && in_vocabulary->second != token.id) {
      throw Error(source + ": " + name + " has id " + std::to_string(in_vocabulary->second) + " in the vocabulary");
    }
    const auto id = static_cast<size_t>(token.id);
    if (in_vocabulary == ids_.end()) {
      if (id < tokens_.size() && tokens_[id].defined) {
        throw Error(source + ": " + name + " would replace token " + tokens_[id].text);
      }
      if (id >= tokens_.size()) tokens_.resize(id + 1);
      tokens_[id] = {token.content, token.content, true, false};
      ids_.emplace(token.content, token.id);
      ++size_;
    }
    tokens_[id].special = tokens_[id].special || token.special;
    added_.add(token);
  }
}

void ByteLevelBpe::mark_special(const std::vector<std::string>& names, const std::string& source) {
  for (const auto& name : names) {
    const auto id = token_id(name);
    if (!id) throw Error(source + ": the special token " + name + " is not a token");
    tokens_[static_cast<size_t>(*id)].special = true;
  }
}

std::optional<int64_t> ByteLevelBpe::token_id(const std::string& token) const {
  const auto found = ids_.find(token);
  if (found == ids_.end()) return std::nullopt;
  return found->second;
}

const ByteLevelBpe::Token& ByteLevelBpe::entry(int64_t id) const {
  if (id < 0 || id >= static_cast<int64_t>(tokens_.size()) || !tokens_[static_cast<size_t>(id)].defined) {
    throw Error("token id " + std::to_string(id) + " is not in the tokenizer (" + std::to_string(size_) + " tokens)");
  }
  return tokens_[static_cast<size_t>(id)];
}

const std::string& ByteLevelBpe::token(int64_t id) const { return entry(id).text; }
const std::string& ByteLevelBpe::token_bytes(int64_t id) const { return entry(id).bytes; }

bool ByteLevelBpe::is_special(int64_t id) const {
  return id >= 0 && id < static_cast<int64_t>(tokens_.size()) && tokens_[static_cast<size_t>(id)].special;
}

// GPT-2's bpe(): the adjacent pair of lowest merge rank is merged, leftmost first among its
// occurrences, until no pair has a rank. A heap of candidate pairs, stale ones skipped, does this in
// n log n rather than the n^2 of rescanning the word.
void ByteLevelBpe::append_bpe(std::string_view piece, std::vector<int64_t>& ids) const {
  const auto count = static_cast<int64_t>(piece.size());
  std::vector<int64_t> symbols(piece.size()), next(piece.size()), previous(piece.size());
  for (int64_t i = 0; i < count; ++i) {
    symbols[i] = byte_ids_[static_cast<uint8_t>(piece[i])];
    previous[i] = i - 1;
    next[i] = i + 1 < count ? i + 1 : -1;
  }
  const auto merge_at = [&](int64_t left) -> const Merge* {
    if (left < 0 || next[left] < 0) return nullptr;
    const auto found = merges_.find(static_cast<uint64_t>(symbols[left]) << 32 | static_cast<uint64_t>(symbols[next[left]]));
    return found == merges_.end() ? nullptr : &found->second;
  };
  using Candidate = std::pair<int64_t, int64_t>;  // rank, position of the left symbol
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> candidates;
  const auto consider = [&](int64_t left) {
    if (const Merge* merge = merge_at(left)) candidates.push({merge->rank, left});
  };
  for (int64_t i = 0; i + 1 < count; ++i) consider(i);
  while (!candidates.empty()) {
    const auto [rank, left] = candidates.top();
    candidates.pop();
    const Merge* merge = symbols[left] >= 0 ? merge_at(left) : nullptr;
    if (!merge || merge->rank != rank) continue;  // a symbol of the pair has been merged since
    const int64_t right = next[left];
    symbols[left] = merge->result;
    symbols[right] = -1;
    next[left] = next[right];
    if (next[right] >= 0) previous[next[right]] = left;
    consider(previous[left]);
    consider(left);
  }
  for (int64_t i = count > 0 ? 0 : -1; i >= 0; i = next[i]) ids.push_back(symbols[i]);
}

namespace {

// What the slow tokenizer's prepare_for_tokenization sees: Python text (so valid UTF-8) in NFC.
std::string normalized(const std::string& text) { return nfc(replace_invalid_utf8(text)); }

}  // namespace

std::vector<int64_t> ByteLevelBpe::encode(const std::string& text) const {
  std::vector<int64_t> ids;
  for (const auto& chunk : added_.split(normalized(text))) {
    if (chunk.token) {
      ids.push_back(chunk.token->id);
    } else {
      for (const auto piece : qwen2_pre_tokens(chunk.text)) append_bpe(piece, ids);
    }
  }
  return ids;
}

std::vector<std::string> ByteLevelBpe::pre_tokenize(const std::string& text) const {
  std::vector<std::string> pieces;
  for (const auto& chunk : added_.split(normalized(text))) {
    if (chunk.token) continue;
    for (const auto piece : qwen2_pre_tokens(chunk.text)) pieces.emplace_back(piece);
  }
  return pieces;
}

// The slow tokenizer decodes the runs between added tokens separately, but an added token's text is
// valid UTF-8 and so cannot finish a character before it: decoding all bytes at once is the same.
std::string ByteLevelBpe::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  std::string bytes;
  for (const auto id : ids) {
    const Token& token = entry(id);
    if (!(skip_special && token.special)) bytes += token.bytes;
  }
  return replace_invalid_utf8(bytes);
}

std::string ByteLevelStreamDecoder::push(int64_t id) {
  const std::string& bytes = tokenizer_->token_bytes(id);
  if (skip_special_ && tokenizer_->is_special(id)) return "";
  pending_ += bytes;
  std::string text;
  pending_.erase(0, append_utf8_replacing_invalid(pending_, /*complete=*/false, text));
  return text;
}

std::string ByteLevelStreamDecoder::finish() {
  std::string text = replace_invalid_utf8(pending_);
  pending_.clear();
  return text;
}

}  // namespace tokenflow::text
