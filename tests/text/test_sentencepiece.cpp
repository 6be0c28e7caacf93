// Our sentencepiece BPE encoder against the library's own programs (Debian's `sentencepiece`
// package: spm_train, spm_encode), which run in their own processes: a model trained with Llama-2's
// settings, and the t2i fixture's tokenizer.model when the fixtures are there, on texts meant to
// reach every rule (spaces, digits, accents, CJK, emoji, characters outside the vocabulary, malformed
// UTF-8, user-defined pieces).
#include "parity_fixture.h"

#include <tokenflow/error.h>

#include "text/sentencepiece_model.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace tokenflow::text {
namespace {

namespace fs = std::filesystem;

bool have_program(const std::string& name) { return std::system(("command -v " + name + " > /dev/null 2>&1").c_str()) == 0; }

std::string run(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return output;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof(buffer), pipe)) output.append(buffer, n);
  ::pclose(pipe);
  return output;
}

std::vector<std::string> sample_texts() {
  std::vector<std::string> texts = {
      "A red fox sitting in the snow at dawn, 3 pine trees behind it.",
      "  leading spaces and   inner runs   ",
      "digits 1234567890 and 3.14159",
      "Caf\xc3\xa9 na\xc3\xafve r\xc3\xa9sum\xc3\xa9 \xc3\x9c" "ber",
      "\xe4\xb8\x80\xe5\x8f\xaa\xe7\x8c\xab \xf0\x9f\xa6\x8a fox emoji",
      "malformed \xff\xfe bytes \xc3 here",
      "<s> </s> <unk> <0x41> look like pieces",
      "an <img> marker beside a fox<img>fox",
      "tab\tseparated\tvalues",
      "\xe2\x96\x81already escaped",
      "x",
      "",
  };
  std::mt19937 random(7);
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyz     ,.!?0123456789ABCXYZ";
  for (int i = 0; i < 200; ++i) {
    std::string text;
    const int length = 1 + static_cast<int>(random() % 60);
    for (int j = 0; j < length; ++j) text += alphabet[random() % alphabet.size()];
    texts.push_back(text);
  }
  return texts;
}

// Every text through spm_encode, as ids.
std::vector<std::vector<int64_t>> library_ids(const std::string& model, const std::vector<std::string>& texts, const fs::path& dir) {
  const auto input = dir / "texts.txt";
  {
    std::ofstream out(input, std::ios::binary);
    for (const auto& text : texts) out << text << '\n';
  }
  std::istringstream lines(run("spm_encode --model=" + model + " --output_format=id < " + input.string()));
  std::vector<std::vector<int64_t>> ids;
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream numbers(line);
    std::vector<int64_t> row;
    for (int64_t id; numbers >> id;) row.push_back(id);
    ids.push_back(row);
  }
  return ids;
}

void expect_library_encoding(const std::string& model_path, const fs::path& dir) {
  const auto model = SentencePieceModel::load(model_path);
  const auto texts = sample_texts();
  const auto expected = library_ids(model_path, texts, dir);
  ASSERT_EQ(expected.size(), texts.size()) << "spm_encode gave another number of lines";
  int same = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto ours = model.encode(texts[i]);
    EXPECT_EQ(ours, expected[i]) << "text " << i << ": " << texts[i];
    same += ours == expected[i];
  }
  std::printf("  %s: %d of %zu texts encoded as spm_encode does\n", model_path.c_str(), same, texts.size());
}

class SentencePiece : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_program("spm_train") || !have_program("spm_encode")) {
      FAIL() << "spm_train/spm_encode not found: scripts/setup.sh installs Debian's sentencepiece";
    }
    dir_ = fs::temp_directory_path() / ("tokenflow_spm_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A BPE model trained with Llama-2's settings on a small corpus.
  std::string train(const std::string& extra) {
    const auto corpus = dir_ / "corpus.txt";
    {
      std::ofstream out(corpus);
      std::mt19937 random(3);
      const std::vector<std::string> words = {"the", "fox", "red", "snow", "dawn", "pine", "trees", "boat", "lake", "calm",
                                              "blue", "mountain", "caf\xc3\xa9", "3", "14", "2024", "A", "Two", "small"};
      for (int line = 0; line < 400; ++line) {
        for (int w = 0; w < 8; ++w) out << words[random() % words.size()] << (w < 7 ? " " : "\n");
      }
    }
    const auto prefix = (dir_ / "model").string();
    run("spm_train --input=" + corpus.string() + " --model_prefix=" + prefix +
        " --vocab_size=320 --model_type=bpe --byte_fallback=true --split_digits=true --character_coverage=1.0"
        " --normalization_rule_name=identity --remove_extra_whitespaces=false --add_dummy_prefix=true " +
        extra + " > /dev/null 2>&1");
    return prefix + ".model";
  }

  fs::path dir_;
};

TEST_F(SentencePiece, EncodesAsTheLibraryWithLlamaSettings) { expect_library_encoding(train(""), dir_); }

TEST_F(SentencePiece, EncodesAsTheLibraryWithUserDefinedPiecesAndWithoutByteFallback) {
  const auto model = train("--user_defined_symbols='<img>,fox' --byte_fallback=false --vocab_size=60");
  expect_library_encoding(model, dir_);
}

TEST_F(SentencePiece, EncodesTheT2iFixtureTokenizerAsTheLibrary) {
  TOKENFLOW_REQUIRE_PARITY("t2i");
  expect_library_encoding(testing::parity_path("t2i", "model/tokenizer.model"), dir_);
}

TEST_F(SentencePiece, RejectsFilesThatAreNotModels) {
  const auto path = (dir_ / "bad.model").string();
  for (const std::string bytes : {std::string(), std::string("\x0a\xff\xff\xff\xff\x0f", 6), std::string("not a model at all")}) {
    std::ofstream(path, std::ios::binary) << bytes;
    EXPECT_THROW(SentencePieceModel::load(path), Error);
  }
  EXPECT_THROW(SentencePieceModel::load((dir_ / "missing.model").string()), Error);
  const auto unigram = (dir_ / "unigram").string();
  std::ofstream(dir_ / "c.txt") << "a b c d e f g\nh i j k\n";
  run("spm_train --input=" + (dir_ / "c.txt").string() + " --model_prefix=" + unigram + " --vocab_size=20 > /dev/null 2>&1");
  EXPECT_THROW(SentencePieceModel::load(unigram + ".model"), Error) << "a unigram model";
}

}  // namespace
}  // namespace tokenflow::text
