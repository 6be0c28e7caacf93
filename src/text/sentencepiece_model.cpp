#include "text/sentencepiece_model.h"

#include <tokenflow/error.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <queue>

namespace tokenflow::text {

namespace {

const std::string kSpace = "\xe2\x96\x81";        // U+2581, sentencepiece's escaped space
const std::string kReplacement = "\xef\xbf\xbd";  // U+FFFD, for malformed UTF-8

// The protobuf wire format, as far as ModelProto needs it.
class WireReader {
 public:
  WireReader(const std::string& bytes, size_t begin, size_t end, const std::string& source)
      : bytes_(bytes), at_(begin), end_(end), source_(source) {}

  bool done() const { return at_ >= end_; }

  uint64_t varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at_ >= end_) fail();
      const auto byte = static_cast<uint8_t>(bytes_[at_++]);
      value |= uint64_t{byte & 0x7fu} << shift;
      if (!(byte & 0x80)) return value;
    }
    fail();
  }

  struct Field {
    uint32_t number = 0, wire = 0;
    uint64_t value = 0;          // varint or fixed
    size_t begin = 0, end = 0;   // length-delimited
  };

  Field next() {
    Field field;
    const uint64_t tag = varint();
    field.number = static_cast<uint32_t>(tag >> 3);
    field.wire = static_cast<uint32_t>(tag & 7);
    switch (field.wire) {
      case 0: field.value = varint(); break;
      case 1: field.value = fixed(8); break;
      case 5: field.value = fixed(4); break;
      case 2: {
        const uint64_t length = varint();
        if (length > end_ - at_) fail();
        field.begin = at_;
        field.end = at_ + length;
        at_ = field.end;
        break;
      }
      default: fail();
    }
    return field;
  }

  [[noreturn]] void fail() const { throw Error(source_ + ": not a sentencepiece model (malformed protobuf)"); }

 private:
  uint64_t fixed(size_t size) {
    if (size > end_ - at_) fail();
    uint64_t value = 0;
    std::memcpy(&value, bytes_.data() + at_, size);
    at_ += size;
    return value;
  }

  const std::string& bytes_;
  size_t at_, end_;
  const std::string& source_;
};

// The length of the UTF-8 character at `at`, or 0 when the bytes there are not one.
size_t utf8_length(const std::string& text, size_t at) {
  const auto lead = static_cast<uint8_t>(text[at]);
  size_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xe ? 3 : (lead >> 3) == 0x1e ? 4 : 0;
  if (length == 0 || at + length > text.size()) return 0;
  uint32_t code = length == 1 ? lead : lead & (0x7f >> length);
  for (size_t i = 1; i < length; ++i) {
    const auto next = static_cast<uint8_t>(text[at + i]);
    if ((next >> 6) != 0x2) return 0;
    code = (code << 6) | (next & 0x3f);
  }
  const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < smallest[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
  return length;
}

}  // namespace

SentencePieceModel SentencePieceModel::load(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error(path + ": cannot open");
  std::ostringstream bytes;
  bytes << file.rdbuf();
  return parse(bytes.str(), path);
}

SentencePieceModel SentencePieceModel::parse(const std::string& bytes, const std::string& source) {
  SentencePieceModel model;
  int64_t model_type = 1;  // UNIGRAM, the proto's default
  bool suffix_whitespace = false;
  std::string normalizer;
  bool has_charsmap = false;
  WireReader reader(bytes, 0, bytes.size(), source);
  while (!reader.done()) {
    const auto field = reader.next();
    if (field.wire != 2) continue;
    WireReader inner(bytes, field.begin, field.end, source);
    if (field.number == 1) {  // SentencePiece
      Piece piece;
      while (!inner.done()) {
        const auto f = inner.next();
        if (f.number == 1 && f.wire == 2) piece.text = bytes.substr(f.begin, f.end - f.begin);
        if (f.number == 2 && f.wire == 5) {
          const auto bits = static_cast<uint32_t>(f.value);
          std::memcpy(&piece.score, &bits, sizeof(bits));
        }
        if (f.number == 3 && f.wire == 0) {
          if (f.value < 1 || f.value > 6) reader.fail();
          piece.type = static_cast<PieceType>(f.value);
        }
      }
      model.pieces_.push_back(std::move(piece));
    } else if (field.number == 2) {  // TrainerSpec
      while (!inner.done()) {
        const auto f = inner.next();
        if (f.wire != 0) continue;
        const auto value = static_cast<int64_t>(f.value);
        if (f.number == 3) model_type = value;
        if (f.number == 24) suffix_whitespace = value != 0;
        if (f.number == 35) model.byte_fallback_ = value != 0;
      }
    } else if (field.number == 3) {  // NormalizerSpec
      while (!inner.done()) {
        const auto f = inner.next();
        if (f.number == 1 && f.wire == 2) normalizer = bytes.substr(f.begin, f.end - f.begin);
        if (f.number == 2 && f.wire == 2) has_charsmap = f.end > f.begin;
        if (f.wire != 0) continue;
        if (f.number == 3) model.add_dummy_prefix_ = f.value != 0;
        if (f.number == 4) model.remove_extra_whitespaces_ = f.value != 0;
        if (f.number == 5) model.escape_whitespaces_ = f.value != 0;
      }
    }
  }
  if (model.pieces_.empty()) throw Error(source + ": not a sentencepiece model (no pieces)");
  if (model_type != 2) throw Error(source + ": a sentencepiece model of type " + std::to_string(model_type) + ", not BPE (2)");
  if (suffix_whitespace) throw Error(source + ": sentencepiece treat_whitespace_as_suffix is not supported");
  if (has_charsmap || (!normalizer.empty() && normalizer != "identity")) {
    throw Error(source + ": sentencepiece normalizer " + normalizer + " is not supported (only identity)");
  }

  model.unknown_id_ = model.bos_id_ = model.eos_id_ = -1;
  std::fill(std::begin(model.byte_ids_), std::end(model.byte_ids_), -1);
  for (size_t i = 0; i < model.pieces_.size(); ++i) {
    const auto& piece = model.pieces_[i];
    const auto id = static_cast<int64_t>(i);
    if (piece.text.empty()) throw Error(source + ": sentencepiece piece " + std::to_string(i) + " is empty");
    if (!model.ids_.emplace(piece.text, id).second) throw Error(source + ": sentencepiece piece " + piece.text + " is listed twice");
    if (piece.type == PieceType::Unknown) model.unknown_id_ = id;
    if (piece.type == PieceType::UserDefined) model.user_defined_.push_back(piece.text);
    if (piece.type == PieceType::Byte) {
      unsigned value = 0;
      if (piece.text.size() != 6 || std::sscanf(piece.text.c_str(), "<0x%02X>", &value) != 1) {
        throw Error(source + ": sentencepiece byte piece " + piece.text + " is not <0xXX>");
      }
      model.byte_ids_[value] = id;
    }
    if (piece.type == PieceType::Control && piece.text == "<s>") model.bos_id_ = id;
    if (piece.type == PieceType::Control && piece.text == "</s>") model.eos_id_ = id;
  }
  if (model.unknown_id_ < 0) throw Error(source + ": the sentencepiece model has no unknown piece");
  std::sort(model.user_defined_.begin(), model.user_defined_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return model;
}

int64_t SentencePieceModel::piece_id(const std::string& piece) const {
  const auto found = ids_.find(piece);
  return found == ids_.end() ? -1 : found->second;
}

int64_t SentencePieceModel::mergeable_id(const std::string& piece) const {
  const auto id = piece_id(piece);
  if (id < 0) return -1;
  const auto type = pieces_[static_cast<size_t>(id)].type;
  return type == PieceType::Normal || type == PieceType::UserDefined || type == PieceType::Unused ? id : -1;
}

std::string SentencePieceModel::normalize(const std::string& text) const {
  std::string characters;  // valid UTF-8, malformed bytes replaced
  for (size_t at = 0; at < text.size();) {
    const auto length = utf8_length(text, at);
    characters += length ? text.substr(at, length) : kReplacement;
    at += length ? length : 1;
  }
  if (remove_extra_whitespaces_) {
    std::string collapsed;
    for (char c : characters) {
      if (c == ' ' && (collapsed.empty() || collapsed.back() == ' ')) continue;
      collapsed += c;
    }
    while (!collapsed.empty() && collapsed.back() == ' ') collapsed.pop_back();
    characters = collapsed;
  }
  if (characters.empty()) return "";
  if (add_dummy_prefix_) characters = " " + characters;
  if (!escape_whitespaces_) return characters;
  std::string escaped;
  for (char c : characters) c == ' ' ? escaped += kSpace : escaped += c;
  return escaped;
}

std::vector<std::string> SentencePieceModel::initial_symbols(const std::string& normalized) const {
  std::vector<std::string> symbols;
  for (size_t at = 0; at < normalized.size();) {
    size_t length = 0;
    for (const auto& piece : user_defined_) {
      if (normalized.compare(at, piece.size(), piece) == 0) {
        length = piece.size();
        break;
      }
    }
    if (length == 0) length = std::max<size_t>(1, utf8_length(normalized, at));
    symbols.push_back(normalized.substr(at, length));
    at += length;
  }
  return symbols;
}

std::vector<int64_t> SentencePieceModel::encode(const std::string& text) const {
  auto symbols = initial_symbols(normalize(text));
  const auto count = symbols.size();
  // A doubly linked list over the symbols; a merged-away symbol becomes empty.
  std::vector<int64_t> previous(count), next(count);
  for (size_t i = 0; i < count; ++i) {
    previous[i] = static_cast<int64_t>(i) - 1;
    next[i] = i + 1 < count ? static_cast<int64_t>(i) + 1 : -1;
  }
  struct Pair {
    float score;
    int64_t left, right;
    size_t size;  // bytes of the merged piece, to recognise stale pairs
  };
  const auto lower = [](const Pair& a, const Pair& b) { return a.score < b.score || (a.score == b.score && a.left > b.left); };
  std::priority_queue<Pair, std::vector<Pair>, decltype(lower)> agenda(lower);
  const auto consider = [&](int64_t left, int64_t right) {
    if (left < 0 || right < 0) return;
    const auto merged = symbols[left] + symbols[right];
    const auto id = mergeable_id(merged);
    if (id >= 0) agenda.push({pieces_[static_cast<size_t>(id)].score, left, right, merged.size()});
  };
  for (size_t i = 1; i < count; ++i) consider(static_cast<int64_t>(i) - 1, static_cast<int64_t>(i));
  // What each unused piece was merged from: the output spells it as those parts.
  std::unordered_map<std::string, std::pair<std::string, std::string>> merged_from;
  while (!agenda.empty()) {
    const auto pair = agenda.top();
    agenda.pop();
    auto& left = symbols[pair.left];
    auto& right = symbols[pair.right];
    if (left.empty() || right.empty() || left.size() + right.size() != pair.size) continue;
    const auto id = mergeable_id(left + right);
    if (pieces_[static_cast<size_t>(id)].type == PieceType::Unused) merged_from.emplace(left + right, std::make_pair(left, right));
    left += right;
    right.clear();
    next[pair.left] = next[pair.right];
    if (next[pair.right] >= 0) previous[next[pair.right]] = pair.left;
    consider(previous[pair.left], pair.left);
    consider(pair.left, next[pair.left]);
  }

  std::vector<int64_t> ids;
  bool after_unknown = false;
  std::function<void(const std::string&)> emit = [&](const std::string& symbol) {
    const auto id = mergeable_id(symbol);
    const auto type = id >= 0 ? pieces_[static_cast<size_t>(id)].type : PieceType::Unknown;
    if (type == PieceType::Unused && merged_from.count(symbol)) {
      const auto& [left, right] = merged_from.at(symbol);
      emit(left);
      emit(right);
    } else if (type == PieceType::Normal || type == PieceType::UserDefined) {
      ids.push_back(id);
      after_unknown = false;
    } else if (byte_fallback_) {
      for (unsigned char byte : symbol) ids.push_back(byte_ids_[byte] >= 0 ? byte_ids_[byte] : unknown_id_);
      after_unknown = false;
    } else if (!after_unknown) {  // a run of unknown symbols is one unknown piece
      ids.push_back(unknown_id_);
      after_unknown = true;
    }
  };
  for (int64_t i = count ? 0 : -1; i >= 0; i = next[i]) emit(symbols[static_cast<size_t>(i)]);
  return ids;
}

}  // namespace tokenflow::text
