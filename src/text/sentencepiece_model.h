#pragma once
// A sentencepiece model file (`tokenizer.model`, the ModelProto of google/sentencepiece) and its BPE
// encoding, as the library's bpe_model.cc encodes: the text normalised (spaces escaped as U+2581, the
// dummy prefix, extra spaces removed where the model says so), split into characters and
// user-defined pieces, adjacent symbols merged highest score first (leftmost among equals), and
// symbols outside the vocabulary spelt as byte pieces (byte fallback) or the unknown piece.
//
// Implemented here rather than linked: Debian's libsentencepiece carries its own protobuf 3.14 with
// exported symbols, which take over LibTorch's protobuf 3.21 at load time and crash the process
// before main (docs/generation.md). tests/text checks the encoding against the spm_encode program.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace tokenflow::text {

class SentencePieceModel {
 public:
  // Throws tokenflow::Error naming the file for a missing or malformed model, or one this encoder does
  // not implement (a unigram model, a normalisation other than identity).
  static SentencePieceModel load(const std::string& path);
  // From the file's bytes; `source` names it in errors.
  static SentencePieceModel parse(const std::string& bytes, const std::string& source);

  std::vector<int64_t> encode(const std::string& text) const;

  // The id of a piece, or -1.
  int64_t piece_id(const std::string& piece) const;
  const std::string& piece(int64_t id) const { return pieces_.at(static_cast<size_t>(id)).text; }
  int64_t size() const { return static_cast<int64_t>(pieces_.size()); }
  int64_t unknown_id() const { return unknown_id_; }
  int64_t bos_id() const { return bos_id_; }
  int64_t eos_id() const { return eos_id_; }

  enum class PieceType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

 private:
  struct Piece {
    std::string text;
    float score = 0;
    PieceType type = PieceType::Normal;
  };

  std::string normalize(const std::string& text) const;
  std::vector<std::string> initial_symbols(const std::string& normalized) const;
  // The id of a piece BPE may produce by merging (normal, user-defined, unused), or -1.
  int64_t mergeable_id(const std::string& piece) const;

  std::vector<Piece> pieces_;
  std::unordered_map<std::string, int64_t> ids_;
  std::vector<std::string> user_defined_;  // longest first
  int64_t unknown_id_ = 0, bos_id_ = 1, eos_id_ = 2;
  int64_t byte_ids_[256] = {};
  bool byte_fallback_ = false, add_dummy_prefix_ = true, remove_extra_whitespaces_ = true, escape_whitespaces_ = true;
};

}  // namespace tokenflow::text
