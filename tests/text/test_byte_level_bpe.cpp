// The Qwen2 byte-level BPE tokenizer against the i2t fixture (the official code's slow Qwen2Tokenizer:
// its tokenizer test strings, the prompt chunks, the generated ids and their decoded text), loaded
// both from vocab.json + merges.txt and from tokenizer.json alone; the regex's white space against
// Python `regex`'s (strings encoded by transformers' slow algorithm with `regex` 2026.5); decoding
// of ill-formed UTF-8 as Python's errors='replace'; streaming; files that must be refused.
#include "parity_fixture.h"

#include <tokenflow/error.h>

#include "text/byte_level_bpe.h"
#include "text/utf8.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>

namespace tokenflow::text {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using Ids = std::vector<int64_t>;

std::string model_folder() { return testing::parity_path("i2t", "model"); }

Json prompts() {
  std::ifstream in(testing::parity_path("i2t", "expected/prompts.json"));
  return Json::parse(in);
}

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write(const fs::path& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

// A scratch folder, removed with the object.
class Folder {
 public:
  Folder() : path_(fs::temp_directory_path() / ("tokenflow_bpe_" + std::to_string(::getpid()) + "_" + std::to_string(next_++))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~Folder() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  std::string string() const { return path_.string(); }
  void copy(const std::string& name) const { fs::copy_file(fs::path(model_folder()) / name, path_ / name); }

 private:
  static inline int next_ = 0;
  fs::path path_;
};

std::vector<std::string> tokens_of(const ByteLevelBpe& tokenizer, const Ids& ids) {
  std::vector<std::string> tokens;
  for (const auto id : ids) tokens.push_back(tokenizer.token(id));
  return tokens;
}

// The ids that spell `bytes` one byte-level token per byte.
Ids byte_ids(const ByteLevelBpe& tokenizer, const std::string& bytes) {
  std::map<unsigned char, int64_t> by_byte;
  for (int64_t id = 0; id < tokenizer.size(); ++id) {
    if (!tokenizer.is_special(id) && tokenizer.token_bytes(id).size() == 1) by_byte.emplace(tokenizer.token_bytes(id)[0], id);
  }
  Ids ids;
  for (unsigned char byte : bytes) ids.push_back(by_byte.at(byte));
  return ids;
}

// Streams `ids`; every piece must be whole characters, and all of them the whole decoding.
void expect_stream_is_decode(const ByteLevelBpe& tokenizer, const Ids& ids, bool skip_special, std::vector<std::string>* pieces = nullptr) {
  ByteLevelStreamDecoder stream(tokenizer, skip_special);
  std::string text;
  for (const auto id : ids) {
    const auto piece = stream.push(id);
    EXPECT_EQ(replace_invalid_utf8(piece), piece) << "a piece that is not whole characters";
    text += piece;
    if (pieces) pieces->push_back(piece);
  }
  text += stream.finish();
  EXPECT_EQ(text, tokenizer.decode(ids, skip_special));
}

void expect_error_naming(const std::function<void()>& call, const std::string& name) {
  try {
    call();
    ADD_FAILURE() << "no tokenflow::Error (expected one naming " << name << ")";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(name), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

class ByteLevelBpeFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    TOKENFLOW_REQUIRE_PARITY("i2t");
    tokenizer_ = std::make_unique<ByteLevelBpe>(ByteLevelBpe::load(model_folder()));
    prompts_ = prompts();
  }

  // Every fixture string and prompt chunk encodes as the official tokenizer encoded it.
  void expect_fixture_ids(const ByteLevelBpe& tokenizer) const {
    for (const auto& entry : prompts_["tokenizer_cases"]) {
      const auto text = entry["text"].get<std::string>();
      EXPECT_EQ(tokenizer.encode(text), entry["ids"].get<Ids>()) << text;
    }
    const auto& conversation = prompts_["conversation"];
    for (size_t i = 0; i < conversation["prompt_chunks"].size(); ++i) {
      EXPECT_EQ(tokenizer.encode(conversation["prompt_chunks"][i].get<std::string>()), conversation["chunk_ids"][i].get<Ids>())
          << "prompt chunk " << i;
    }
    EXPECT_EQ(tokenizer.size(), prompts_["len_tokenizer"].get<int64_t>());
  }

  std::unique_ptr<ByteLevelBpe> tokenizer_;
  Json prompts_;
};

TEST_F(ByteLevelBpeFixture, EncodesTheFixtureStringsAsTheOfficialTokenizer) {
  ASSERT_FALSE(prompts_["tokenizer_cases"].empty());
  for (const auto& entry : prompts_["tokenizer_cases"]) {
    const auto text = entry["text"].get<std::string>();
    const auto ids = tokenizer_->encode(text);
    EXPECT_EQ(tokenizer_->pre_tokenize(text), entry["pre_tokens"].get<std::vector<std::string>>()) << text;
    EXPECT_EQ(ids, entry["ids"].get<Ids>()) << text;
    EXPECT_EQ(tokens_of(*tokenizer_, ids), entry["tokens"].get<std::vector<std::string>>()) << text;
    EXPECT_EQ(tokenizer_->decode(ids), entry["decoded"].get<std::string>()) << text;
  }
  std::printf("  %zu tokenizer cases\n", prompts_["tokenizer_cases"].size());
}

TEST_F(ByteLevelBpeFixture, EncodesThePromptChunksAndKnowsTheSpecialTokens) {
  expect_fixture_ids(*tokenizer_);
  for (const auto& [token, id] : prompts_["special_tokens"].items()) {
    EXPECT_EQ(tokenizer_->token_id(token), id.get<int64_t>()) << token;
    EXPECT_TRUE(tokenizer_->is_special(id.get<int64_t>())) << token;
    EXPECT_EQ(tokenizer_->token(id.get<int64_t>()), token);
  }
  EXPECT_EQ(tokenizer_->token_id("Ġ"), 220);  // GPT-2's byte alphabet, as the README says
  EXPECT_FALSE(tokenizer_->token_id("<image>"));
  EXPECT_FALSE(tokenizer_->is_special(220));
  EXPECT_FALSE(tokenizer_->is_special(tokenizer_->size()));

  const auto& conversation = prompts_["conversation"];
  Ids input = tokenizer_->encode(conversation["prompt_chunks"][0].get<std::string>());
  input.push_back(prompts_["image_token_index"].get<int64_t>());
  for (const auto id : tokenizer_->encode(conversation["prompt_chunks"][1].get<std::string>())) input.push_back(id);
  EXPECT_EQ(input, prompts_["input_ids"].get<Ids>());
}

TEST_F(ByteLevelBpeFixture, LoadsFromTokenizerJsonAloneWithEitherFormOfMerges) {
  Folder strings;
  strings.copy("tokenizer.json");
  strings.copy("tokenizer_config.json");
  expect_fixture_ids(ByteLevelBpe::load(strings.string()));

  // Newer `tokenizers` write each merge as a pair; without tokenizer_config.json the added tokens come
  // from tokenizer.json only.
  Json tokenizer = Json::parse(read(strings.path() / "tokenizer.json"));
  for (auto& merge : tokenizer["model"]["merges"]) {
    const auto text = merge.get<std::string>();
    merge = Json::array({text.substr(0, text.find(' ')), text.substr(text.find(' ') + 1)});
  }
  Folder pairs;
  write(pairs.path() / "tokenizer.json", tokenizer.dump());
  const auto loaded = ByteLevelBpe::load(pairs.string());
  expect_fixture_ids(loaded);
  EXPECT_TRUE(loaded.is_special(503));
}

TEST_F(ByteLevelBpeFixture, DecodesTheGeneratedIdsAsTheOfficialCode) {
  int lists = 0;
  for (const char* run : {"greedy", "sampled"}) {
    for (const auto& generated : prompts_[run]["per_image"]) {
      const auto ids = generated["ids"].get<Ids>();
      EXPECT_EQ(tokenizer_->decode(ids), generated["text"].get<std::string>()) << run;
      EXPECT_EQ(tokenizer_->decode(ids, /*skip_special=*/true), generated["text_skip_special_tokens"].get<std::string>()) << run;
      EXPECT_EQ(tokens_of(*tokenizer_, ids), generated["tokens"].get<std::vector<std::string>>()) << run;
      ++lists;
    }
  }
  EXPECT_EQ(lists, 4);
}

TEST_F(ByteLevelBpeFixture, StreamsWhatItDecodes) {
  for (const char* run : {"greedy", "sampled"}) {
    for (const auto& generated : prompts_[run]["per_image"]) {
      for (const bool skip : {false, true}) expect_stream_is_decode(*tokenizer_, generated["ids"].get<Ids>(), skip);
    }
  }
  for (const auto& entry : prompts_["tokenizer_cases"]) expect_stream_is_decode(*tokenizer_, entry["ids"].get<Ids>(), false);

  // This vocabulary has no merges inside these characters: every byte is a token of its own.
  const std::string text = "\xc3\xa9\xe6\xbc\xa2\xe5\xad\x97\xf0\x9f\x99\x82";  // é漢字🙂
  const auto ids = tokenizer_->encode(text);
  EXPECT_EQ(ids.size(), text.size());
  std::vector<std::string> pieces;
  expect_stream_is_decode(*tokenizer_, ids, false, &pieces);
  EXPECT_EQ(std::count(pieces.begin(), pieces.end(), ""), static_cast<std::ptrdiff_t>(text.size() - 4)) << "held back";
  for (const auto& piece : pieces) EXPECT_EQ(piece.find("\xef\xbf\xbd"), std::string::npos);

  // Random ids, many of them bytes that are not UTF-8 on their own.
  std::mt19937 random(11);
  for (int round = 0; round < 500; ++round) {
    Ids sequence(1 + random() % 12);
    for (auto& id : sequence) id = static_cast<int64_t>(random() % static_cast<uint32_t>(tokenizer_->size()));
    expect_stream_is_decode(*tokenizer_, sequence, round % 2 == 1);
  }
}

TEST_F(ByteLevelBpeFixture, ReplacesIllFormedUtf8AsPython) {
  // bytes.decode('utf-8', errors='replace'), one U+FFFD per maximal ill-formed subsequence.
  const std::string r = "\xef\xbf\xbd";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"\xe6\xbc", r},
      {"\xe6\xbc" "a", r + "a"},
      {"\xf0\x80\x80", r + r + r},
      {"\xed\xa0\x80", r + r + r},  // a surrogate
      {"\xc0\xaf", r + r},          // overlong
      {"\xe0\x80\xaf", r + r + r},  // overlong
      {"\xe6\xbc\xa2", "\xe6\xbc\xa2"},
      {"\xf4\x90\x80\x80", r + r + r + r},  // past U+10FFFF
      {"\xf1\x80\x80", r},
      {"a\x80" "b", "a" + r + "b"},
      {"\xff\xfe", r + r},
      {"\xf0\x9f\x99", r},
      {"\xf0\x9f\x99\x82\x82", "\xf0\x9f\x99\x82" + r},
      {"\xc2", r},
  };
  for (const auto& [bytes, expected] : cases) {
    EXPECT_EQ(tokenizer_->decode(byte_ids(*tokenizer_, bytes)), expected);
    EXPECT_EQ(replace_invalid_utf8(bytes), expected);
    expect_stream_is_decode(*tokenizer_, byte_ids(*tokenizer_, bytes), false);
  }
  // Text that is not UTF-8 is read as Python would have received it: U+FFFD.
  EXPECT_EQ(tokenizer_->encode("a\xff" "b\xe6\xbc"), tokenizer_->encode("a" + r + "b" + r));
}

TEST_F(ByteLevelBpeFixture, SplitsWhiteSpaceAsPythonRegex) {
  // Pre-tokens and ids from transformers' slow algorithm (regex, NFC, bpe()) on this fixture's files.
  // U+180E is not white space for `regex` (nor since Unicode 6.3), though PCRE2's \s takes it; U+001C
  // is white space for Python's str but not for `regex`.
  struct Case {
    std::string text;
    std::vector<std::string> pre_tokens;
    Ids ids;
  };
  const std::vector<Case> cases = {
      {"a\u00a0b\u3000 c\u2028d\u0085e \u180ef\u001cg\x0bh\x0ci \u2003\u2003j\t\t\n k",
       {"a", "\u00a0b", "\u3000", " c", "\u2028d", "\u0085e", " \u180e", "f", "\u001cg", "\x0bh", "\x0ci", " \u2003", "\u2003j",
        "\t\t\n", " k"},
       {64, 126, 254, 65, 159, 222, 222, 269, 158, 222, 101, 67, 126, 227, 68, 220, 157, 254, 236, 69, 216, 70, 199, 71, 200,
        72, 220, 158, 222, 225, 158, 222, 225, 73, 197, 197, 198, 220, 74}},
      {"IT'S it\u2019s it'\u017f HE'LL",
       {"IT", "'S", " it", "\u2019s", " it", "'\u017f", " HE", "'LL"},
       {40, 51, 6, 50, 258, 83, 158, 222, 247, 82, 258, 83, 6, 129, 123, 220, 39, 36, 6, 43, 43}},
      {"x \u00a0\u00a0", {"x", " \u00a0\u00a0"}, {87, 220, 126, 254, 126, 254}},
      {"1\u0661\u00b2\u2167 abc123",
       {"1", "\u0661", "\u00b2", "\u2167", " abc", "1", "2", "3"},
       {16, 149, 94, 126, 110, 158, 227, 100, 256, 65, 66, 16, 17, 18}},
      {"  \n  ", {"  \n", "  "}, {220, 220, 198, 220, 220}},
      {"\r\n\r\n  \t", {"\r\n\r\n", "  \t"}, {201, 198, 201, 198, 220, 220, 197}},
      {std::string("a\0b", 3), {"a", std::string("\0b", 2)}, {64, 188, 65}},
      {"", {}, {}},
      {"\uff21\uff42\uff43 \ufb01 e\u0301\u0327",  // NFC composes e + cedilla, reorders the acute after it
       {"\uff21\uff42\uff43", " \ufb01", " \u0229", "\u0301"},
       {171, 120, 94, 171, 121, 224, 171, 121, 225, 220, 171, 105, 223, 220, 132, 102, 136, 223}},
      {"<|im_end|><|im_end|>x<|endoftext|> <|im_start", {"x", " <|", "im", "_start"}, {503, 503, 87, 501, 220, 27, 91, 72, 76, 62, 82, 285, 381}},
      {"!!!?? ...\n\n--- <tag>",
       {"!!!??", " ...\n\n", "---", " <", "tag", ">"},
       {0, 0, 0, 30, 30, 220, 13, 13, 264, 198, 12, 12, 12, 220, 27, 83, 273, 29}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(tokenizer_->pre_tokenize(c.text), c.pre_tokens) << c.text;
    EXPECT_EQ(tokenizer_->encode(c.text), c.ids) << c.text;
  }
}

TEST_F(ByteLevelBpeFixture, AppliesTheAddedTokensFlags) {
  Folder folder;
  for (const char* name : {"vocab.json", "merges.txt"}) folder.copy(name);
  Json config = {{"added_tokens_decoder",
                  {{"501", {{"content", "<|x|>"}, {"lstrip", true}, {"rstrip", true}, {"special", false}}},
                   {"502", {{"content", "<|y|>"}, {"special", false}}},
                   {"503", {{"content", "<|y|>z"}, {"special", true}}}}},
                 {"additional_special_tokens", {"<|y|>"}}};
  write(folder.path() / "tokenizer_config.json", config.dump());
  const auto tokenizer = ByteLevelBpe::load(folder.string());
  const auto ids = [&](const std::string& text) { return tokenizer.encode(text); };
  const auto join = [](std::initializer_list<Ids> parts) {
    Ids all;
    for (const auto& part : parts) all.insert(all.end(), part.begin(), part.end());
    return all;
  };
  // lstrip / rstrip take Python's white space (U+3000 included) on both sides; the longest added token
  // wins where two start.
  EXPECT_EQ(ids("a \u3000<|x|>\t b <|y|> c<|y|>z"), join({ids("a"), {501}, ids("b "), {502}, ids(" c"), {503}}));
  EXPECT_TRUE(tokenizer.is_special(502));  // named by additional_special_tokens
  EXPECT_TRUE(tokenizer.is_special(503));
  EXPECT_FALSE(tokenizer.is_special(501));
  EXPECT_EQ(tokenizer.decode({501, 64, 502, 503}, /*skip_special=*/true), "<|x|>a");
  EXPECT_EQ(tokenizer.size(), 504);
}

class ByteLevelBpeFiles : public ::testing::Test {
 protected:
  void SetUp() override { TOKENFLOW_REQUIRE_PARITY("i2t"); }

  // The fixture's vocab.json + merges.txt + tokenizer_config.json, `name` replaced by `bytes`.
  void expect_refused(const std::string& name, const std::string& bytes) const {
    Folder folder;
    for (const char* file : {"vocab.json", "merges.txt", "tokenizer_config.json"}) folder.copy(file);
    write(folder.path() / name, bytes);
    expect_error_naming([&] { ByteLevelBpe::load(folder.string()); }, name);
  }
};

TEST_F(ByteLevelBpeFiles, RefusesMissingFolders) {
  expect_error_naming([] { ByteLevelBpe::load("/nonexistent/tokenizer"); }, "/nonexistent/tokenizer");
  Folder folder;
  folder.copy("vocab.json");  // no merges.txt, no tokenizer.json
  expect_error_naming([&] { ByteLevelBpe::load(folder.string()); }, folder.string());
}

TEST_F(ByteLevelBpeFiles, RefusesMalformedVocabularies) {
  const auto vocab = read(fs::path(model_folder()) / "vocab.json");
  expect_refused("vocab.json", vocab.substr(0, vocab.size() / 2));
  expect_refused("vocab.json", "");
  expect_refused("vocab.json", "[\"a\", \"b\"]");
  Json json = Json::parse(vocab);
  Json duplicate = json, outside = json, not_integer = json, too_few = json;
  duplicate["extra"] = 3;
  outside["Q"] = 600;
  not_integer["Q"] = "16";
  too_few.erase("Q");  // a byte without a token, and the ids no longer 0..n-1
  for (const auto& bad : {duplicate, outside, not_integer, too_few}) expect_refused("vocab.json", bad.dump());
  Json negative = json;
  negative["Q"] = -1;
  expect_refused("vocab.json", negative.dump());
}

TEST_F(ByteLevelBpeFiles, RefusesMergesOutsideTheVocabulary) {
  const auto merges = read(fs::path(model_folder()) / "merges.txt");
  expect_refused("merges.txt", merges + "\xc4\xa0 zzzq\n");  // a part that is no token
  expect_refused("merges.txt", merges + "Q Q\n");            // QQ is no token
  expect_refused("merges.txt", merges + "a b c\n");
  expect_refused("merges.txt", merges + "lonely\n");
}

TEST_F(ByteLevelBpeFiles, RefusesInconsistentAddedTokens) {
  const auto config = [](int64_t id, const std::string& content) {
    return Json{{"added_tokens_decoder", {{std::to_string(id), {{"content", content}, {"special", true}}}}}}.dump();
  };
  expect_refused("tokenizer_config.json", config(10, "<|x|>"));          // would replace a vocabulary token
  expect_refused("tokenizer_config.json", config(9, "Ġ"));              // a vocabulary token under another id
  expect_refused("tokenizer_config.json", config(5'000'000, "<|x|>"));  // far past the vocabulary
  expect_refused("tokenizer_config.json", config(-1, "<|x|>"));
  expect_refused("tokenizer_config.json", R"({"added_tokens_decoder": {"501x": {"content": "<|x|>"}}})");
  expect_refused("tokenizer_config.json", R"({"added_tokens_decoder": {"501": {"content": ""}}})");
  expect_refused("tokenizer_config.json", R"({"eos_token": "<|nothing|>"})");
  expect_refused("tokenizer_config.json", "{");
}

TEST_F(ByteLevelBpeFiles, RefusesTokenizerJsonOfAnotherPipeline) {
  const Json original = Json::parse(read(fs::path(model_folder()) / "tokenizer.json"));
  Json gpt2 = original, wordpiece = original, added = original, merges = original;
  gpt2["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  wordpiece["model"]["type"] = "WordPiece";
  added["added_tokens"][0]["id"] = 7;
  merges["model"]["merges"][0] = 3;
  for (const auto& bad : {gpt2, wordpiece, added, merges}) {
    Folder folder;
    write(folder.path() / "tokenizer.json", bad.dump());
    expect_error_naming([&] { ByteLevelBpe::load(folder.string()); }, "tokenizer.json");
  }
}

TEST_F(ByteLevelBpeFiles, RefusesIdsWithoutAToken) {
  const auto tokenizer = ByteLevelBpe::load(model_folder());
  for (const int64_t id : {int64_t{504}, int64_t{-1}, int64_t{1} << 40}) {
    EXPECT_THROW(tokenizer.decode({13, id}), Error) << id;
    EXPECT_THROW(tokenizer.token(id), Error) << id;
    ByteLevelStreamDecoder stream(tokenizer);
    EXPECT_THROW(stream.push(id), Error) << id;
  }
}

}  // namespace
}  // namespace tokenflow::text
