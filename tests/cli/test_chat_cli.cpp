// `tokenflow chat` and `tokenflow describe` on the i2t parity fixture's model folder: the official
// greedy and seeded answers from the command line, a conversation read from the input, --json, the
// README's example, and bad inputs that must fail in one line.
#include "cli_fixture.h"

#include <nlohmann/json.hpp>

namespace tokenflow::testing {
namespace {

class ChatCli : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    TOKENFLOW_REQUIRE_PARITY("i2t");
    std::ifstream in(parity_path("i2t", "expected/prompts.json"));
    prompts_ = nlohmann::json::parse(in);
  }
  std::string folder() const { return parity_path("i2t", "model"); }
  std::string image(int i) const { return parity_path("i2t", "expected/image" + std::to_string(i) + ".png"); }
  std::string greedy_text(int i) const {
    return prompts_["greedy"]["per_image"][i]["text_skip_special_tokens"].get<std::string>();
  }
  nlohmann::json prompts_;
};

TEST_F(ChatCli, GreedyAnswerIsTheOfficialOne) {
  for (int i = 0; i < 2; ++i) {
    const auto run = run_tokenflow({"chat", "-m", folder(), "--image", image(i), "Describe this image.", "--temperature", "0",
                                    "--max-tokens", "24"});
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_EQ(run.out, greedy_text(i) + "\n");
  }
  const auto described = run_tokenflow({"describe", "-m", folder(), image(1), "--temperature", "0"});
  ASSERT_EQ(described.status, 0) << described.err;
  EXPECT_EQ(described.out, greedy_text(1) + "\n");
}

TEST_F(ChatCli, SeededAnswerAsJson) {
  const auto& sampled = prompts_["sampled"];
  const auto run = run_tokenflow({"describe", "-m", folder(), image(0), "--temperature", "0.7", "--top-p", "0.9",
                                  "--top-k", "0", "--seed", "0", "--max-tokens", "24", "--json"});
  ASSERT_EQ(run.status, 0) << run.err;
  const auto answer = nlohmann::json::parse(run.out);
  EXPECT_EQ(answer["ids"], sampled["per_image"][0]["ids"]);
  EXPECT_EQ(answer["text"], sampled["per_image"][0]["text_skip_special_tokens"]);
  EXPECT_EQ(answer["seed"], 0);
  EXPECT_EQ(answer["prompt_tokens"], prompts_["spliced_sequence_length"]);
  EXPECT_FALSE(answer["ended"].get<bool>());
}

// No question: serve/cli.py's loop, a question a line, until an empty line.
TEST_F(ChatCli, ConversationFromTheInput) {
  write_file(path("questions.txt"), "Describe this image.\nWhat colour is it?\n\nnever asked\n");
  const auto run = run_shell(quoted(TOKENFLOW_CLI) + " chat -m " + quoted(folder()) + " --image " + quoted(image(1)) +
                             " --temperature 0 --max-tokens 24 --json < " + quoted(path("questions.txt")));
  ASSERT_EQ(run.status, 0) << run.err;
  std::istringstream lines(run.out);
  std::string first, second, third;
  ASSERT_TRUE(std::getline(lines, first) && std::getline(lines, second)) << run.out;
  EXPECT_FALSE(std::getline(lines, third)) << "answered past the empty line: " << run.out;
  const auto one = nlohmann::json::parse(first), two = nlohmann::json::parse(second);
  EXPECT_EQ(one["text"], greedy_text(1));
  // The second turn computes only its own positions: the image and the first turn are cached.
  EXPECT_GT(two["prompt_tokens"].get<int64_t>(), one["prompt_tokens"].get<int64_t>());
  EXPECT_LT(two["computed_prompt_tokens"].get<int64_t>(), 64);
}

TEST_F(ChatCli, ReadmeExampleRuns) {
  const std::string script = readme_examples(TOKENFLOW_README, "<!-- chat examples: run by tests/cli/test_chat_cli.cpp -->");
  ASSERT_NE(script.find("tokenflow chat"), std::string::npos) << "no chat example in the README";
  ASSERT_NE(script.find("tokenflow describe"), std::string::npos) << "no describe example in the README";
  const auto run = run_examples(script);
  EXPECT_EQ(run.status, 0) << run.err;
}

TEST_F(ChatCli, BadInputsFailInOneLine) {
  expect_clean_failure({"chat", "-m", folder(), "Describe this image."}, "--image");
  expect_clean_failure({"chat", "-m", folder(), "--image", path("missing.png"), "Hi"}, "missing.png");
  write_file(path("broken.png"), "\x89PNG not really");
  expect_clean_failure({"chat", "-m", folder(), "--image", path("broken.png"), "Hi"}, "broken.png");
  expect_clean_failure({"chat", "-m", path("nowhere"), "--image", image(0), "Hi"}, "not a model folder");
  expect_clean_failure({"chat", "-m", folder(), "--image", image(0), "Hi", "--top-p", "2"}, "--top-p");
  expect_clean_failure({"chat", "-m", folder(), "--image", image(0), "Hi", "--temperature", "-1"}, "--temperature");
  expect_clean_failure({"chat", "-m", folder(), "--image", image(0), "Hi", "--max-tokens", "0"}, "--max-tokens");
  expect_clean_failure({"chat", "-m", folder(), "--image", image(0), "Hi", "--tokenizer", path("none.pt")}, "none.pt");
  expect_clean_failure({"describe", "-m", folder()}, "IMAGE");
  // A folder without a text tokenizer.
  fs::create_directories(dir_ / "no_tokenizer");
  for (const auto& entry : fs::directory_iterator(folder())) {
    const auto name = entry.path().filename().string();
    if (name != "vocab.json" && name != "merges.txt" && name != "tokenizer.json") {
      fs::create_symlink(entry.path(), dir_ / "no_tokenizer" / name);
    }
  }
  expect_clean_failure({"chat", "-m", path("no_tokenizer"), "--image", image(0), "Hi"}, "tokenizer");
  // A question beyond the context of 2048 positions.
  std::string long_question;
  for (int i = 0; i < 1500; ++i) long_question += " astronaut";
  expect_clean_failure({"chat", "-m", folder(), "--image", image(0), long_question}, "context");
}

}  // namespace
}  // namespace tokenflow::testing
