#include "text/llama_tokenizer.h"

#include "text/added_tokens.h"
#include "text/sentencepiece_model.h"

#include <tokenflow/error.h>

#include <nlohmann/json.hpp>

#include <fstream>

namespace tokenflow::text {

namespace {

using Json = nlohmann::json;

const std::string kSentencePieceSpace = "\xe2\x96\x81";  // U+2581, sentencepiece's word boundary

Json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open");
  Json json = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) throw Error(path + ": not a JSON object");
  return json;
}

// A token named in the config: a string, or an AddedToken written as {"content": ...}; "" if absent.
std::string token_text(const Json& config, const std::string& key) {
  const auto found = config.find(key);
  if (found == config.end() || found->is_null()) return "";
  if (found->is_string()) return found->get<std::string>();
  if (found->is_object() && found->contains("content") && (*found)["content"].is_string()) {
    return (*found)["content"].get<std::string>();
  }
  return "";
}

bool flag(const Json& object, const std::string& key, bool fallback) {
  const auto found = object.find(key);
  return found != object.end() && found->is_boolean() ? found->get<bool>() : fallback;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

}  // namespace

struct LlamaTokenizer::Impl {
  explicit Impl(SentencePieceModel model) : pieces(std::move(model)) {}

  SentencePieceModel pieces;
  AddedTokens added;
  bool add_bos = true, add_eos = false, legacy = true, add_prefix_space = true;
  int64_t bos = -1, eos = -1, pad = -1, size = 0;
  std::string unknown;

  int64_t id_of(const std::string& token) const {
    if (const AddedToken* added_token = added.find(token)) return added_token->id;
    return pieces.piece_id(token);
  }

  void append_pieces(const std::string& text, std::vector<int64_t>& ids) const {
    // As convert_tokens_to_ids: a piece spelt like an added token takes the added token's id.
    for (const auto id : pieces.encode(text)) ids.push_back(id_of(pieces.piece(id)));
  }

  // Non-legacy LlamaTokenizer._tokenize runs sentencepiece without its word boundary in front (the
  // text carries its own). Here the model keeps it, so the unknown token goes in front and its pieces
  // are dropped again, as transformers does for text that starts with a space.
  void append_pieces_non_legacy(const std::string& text, std::vector<int64_t>& ids) const {
    std::vector<int64_t> marker, both;
    append_pieces(unknown, marker);
    append_pieces(unknown + text, both);
    ids.insert(ids.end(), both.begin() + static_cast<std::ptrdiff_t>(std::min(marker.size(), both.size())), both.end());
  }
};

LlamaTokenizer LlamaTokenizer::load(const std::string& folder) {
  auto impl = std::make_unique<Impl>(SentencePieceModel::load(folder + "/tokenizer.model"));

  const std::string config_path = folder + "/tokenizer_config.json";
  const Json config = read_json(config_path);
  impl->add_bos = flag(config, "add_bos_token", true);
  impl->add_eos = flag(config, "add_eos_token", false);
  impl->legacy = flag(config, "legacy", true);
  impl->add_prefix_space = flag(config, "add_prefix_space", true);

  auto add = [&](AddedToken token, const std::string& source) {
    if (token.content.empty() || token.id < 0) throw Error(source + ": an added token without content or id");
    impl->added.add(std::move(token));
  };
  const auto decoder = config.find("added_tokens_decoder");
  if (decoder != config.end() && decoder->is_object()) {
    for (const auto& [key, entry] : decoder->items()) {
      if (!entry.is_object() || !entry.contains("content") || !entry["content"].is_string()) {
        throw Error(config_path + ": added_tokens_decoder entry " + key + " has no content");
      }
      AddedToken token{entry["content"].get<std::string>(), -1, flag(entry, "lstrip", false), flag(entry, "rstrip", false),
                       flag(entry, "single_word", false)};
      try {
        token.id = std::stoll(key);
      } catch (const std::exception&) {
        throw Error(config_path + ": added_tokens_decoder key " + key + " is not an id");
      }
      add(std::move(token), config_path);
    }
  } else {
    const std::string added_path = folder + "/added_tokens.json";
    if (std::ifstream(added_path)) {
      for (const auto& [content, id] : read_json(added_path).items()) {
        if (!id.is_number_integer()) throw Error(added_path + ": the id of " + content + " is not an integer");
        add({content, id.get<int64_t>()}, added_path);
      }
    }
  }

  impl->size = impl->pieces.size();
  for (const auto& token : impl->added.all()) impl->size = std::max(impl->size, token.id + 1);
  auto named = [&](const std::string& key) {
    const std::string text = token_text(config, key);
    if (text.empty()) return int64_t{-1};
    const int64_t id = impl->id_of(text);
    if (id < 0) throw Error(config_path + ": " + key + " " + text + " is not a token");
    return id;
  };
  impl->bos = named("bos_token");
  if (impl->bos < 0) impl->bos = impl->pieces.bos_id();
  impl->eos = named("eos_token");
  if (impl->eos < 0) impl->eos = impl->pieces.eos_id();
  impl->pad = named("pad_token");
  impl->unknown = token_text(config, "unk_token");
  if (impl->unknown.empty()) impl->unknown = impl->pieces.piece(impl->pieces.unknown_id());
  return LlamaTokenizer(std::move(impl));
}

LlamaTokenizer::LlamaTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LlamaTokenizer::~LlamaTokenizer() = default;
LlamaTokenizer::LlamaTokenizer(LlamaTokenizer&&) noexcept = default;
LlamaTokenizer& LlamaTokenizer::operator=(LlamaTokenizer&&) noexcept = default;

std::vector<int64_t> LlamaTokenizer::encode(const std::string& text, bool add_special_tokens) const {
  const Impl& impl = *impl_;
  std::string input = text;
  if (!impl.legacy) {
    input = replace_all(input, kSentencePieceSpace, " ");
    if (impl.add_prefix_space) input = kSentencePieceSpace + input;
  }
  // PreTrainedTokenizer.tokenize: the added tokens split out first.
  auto chunks = impl.added.split(input);
  // Non-legacy: a lone word boundary before a leading added token is dropped.
  if (!impl.legacy && chunks.size() > 1 && chunks[0].text == kSentencePieceSpace) chunks[0].text.clear();

  std::vector<int64_t> ids;
  if (add_special_tokens && impl.add_bos && impl.bos >= 0) ids.push_back(impl.bos);
  for (const auto& chunk : chunks) {
    if (chunk.token) {
      ids.push_back(chunk.token->id);
    } else if (!chunk.text.empty()) {
      impl.legacy ? impl.append_pieces(chunk.text, ids) : impl.append_pieces_non_legacy(chunk.text, ids);
    }
  }
  if (add_special_tokens && impl.add_eos && impl.eos >= 0) ids.push_back(impl.eos);
  return ids;
}

int64_t LlamaTokenizer::token_id(const std::string& token) const { return impl_->id_of(token); }
int64_t LlamaTokenizer::bos_id() const { return impl_->bos; }
int64_t LlamaTokenizer::pad_id() const { return impl_->pad; }
int64_t LlamaTokenizer::size() const { return impl_->size; }

}  // namespace tokenflow::text
