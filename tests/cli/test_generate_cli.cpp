// `tokenflow generate` on the t2i parity fixture's model folder: the official images and codes from
// the command line, the README's example, and bad inputs that must fail in one line with no file left.
#include "cli_fixture.h"

#include <tokenflow/image.h>
#include <tokenflow/npy.h>

#include <nlohmann/json.hpp>

namespace tokenflow::testing {
namespace {

class GenerateCli : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    TOKENFLOW_REQUIRE_PARITY("t2i");
    std::ifstream in(parity_path("t2i", "expected/prompts.json"));
    prompts_ = nlohmann::json::parse(in);
  }
  std::string folder() const { return parity_path("t2i", "model"); }

  // The fixture folder with one edit to config.json (the other files linked).
  std::string folder_with_config(const std::string& name, const std::string& from, const std::string& to) const {
    const auto copy = dir_ / name;
    fs::create_directories(copy);
    for (const auto& entry : fs::directory_iterator(folder())) {
      if (entry.path().filename() != "config.json") fs::create_symlink(entry.path(), copy / entry.path().filename());
    }
    auto config = read_file(fs::path(folder()) / "config.json");
    EXPECT_NE(config.find(from), std::string::npos) << from;
    replace_all(config, from, to);
    write_file(copy / "config.json", config);
    return copy.string();
  }
  nlohmann::json prompts_;
};

TEST_F(GenerateCli, WritesTheOfficialImagesAndCodes) {
  const auto texts = prompts_["prompts"].get<std::vector<std::string>>();
  const auto run = run_tokenflow({"generate", "-m", folder(), texts[0], texts[1], "--batch", "2", "--seed", "0",
                                  "--negative", prompts_["negative_prompt"].get<std::string>(), "--precision", "fp32",
                                  "-o", path("out_%d.png"), "--tokens", path("codes.json")});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_NE(run.out.find("seed 0"), std::string::npos) << run.out;
  const auto images = io::load_npy(parity_path("t2i", "expected/loop1_images.npy"));
  for (int i = 0; i < 2; ++i) {
    // The PNG's pixels, read back exactly (load_image at the image's own size keeps them).
    const auto ours = ((io::load_image(path("out_" + std::to_string(i) + ".png"), 256)[0] + 1) * 127.5).round().permute({1, 2, 0});
    EXPECT_LE(max_abs_difference(ours, images[i]), 1.0) << "image " << i;
  }
  const auto codes = nlohmann::json::parse(read_file(path("codes.json")));
  EXPECT_NE(codes.dump().find("A red fox"), std::string::npos) << "the prompts name the images";
  const auto decoded = run_tokenflow({"decode", "-m", folder() + "/tokenflow.pt", path("codes.json"), "-o", path("decoded.npy")});
  EXPECT_EQ(decoded.status, 0) << decoded.err;
}

TEST_F(GenerateCli, ReadmeExampleRuns) {
  const std::string script = readme_examples(TOKENFLOW_README, "<!-- generate examples: run by tests/cli/test_generate_cli.cpp -->");
  ASSERT_NE(script.find("tokenflow generate"), std::string::npos) << "no generate example in the README";
  const auto run = run_examples(script);
  EXPECT_EQ(run.status, 0) << run.err;
}

TEST_F(GenerateCli, BadInputsFailInOneLine) {
  expect_clean_failure({"generate", "-m", path("missing"), "a fox", "-o", path("x.png")}, "not a model folder");
  expect_clean_failure({"generate", "-m", folder(), "", "-o", path("x.png")}, "empty prompt");
  expect_clean_failure({"generate", "-m", folder(), "a fox", "-o", path("x.gif")}, "must end in");
  expect_clean_failure({"generate", "-m", folder(), "a fox", "-o", path("x.png"), "--loop", "4"}, "--loop");
  expect_clean_failure({"generate", "-m", folder(), "a fox", "-o", path("x.png"), "--top-p", "1.5"}, "--top-p");
  expect_clean_failure({"generate", "-m", folder(), "a fox", "-o", path("x.png"), "--tokenizer", path("none.pt")}, "none.pt");
  // A folder missing its weights, and one whose tokenizer has another codebook size.
  fs::create_directories(dir_ / "incomplete");
  for (const auto* name : {"config.json", "tokenizer.model", "tokenizer_config.json", "tokenflow.pt"}) {
    fs::copy_file(fs::path(folder()) / name, dir_ / "incomplete" / name);
  }
  expect_clean_failure({"generate", "-m", path("incomplete"), "a fox", "-o", path("x.png")}, "model.safetensors");
  expect_clean_failure({"generate", "-m", folder(), "a fox", "-o", path("x.png"), "--tokenizer",
                        parity_path("clipb224", "model.pt")},
                       "the tokenizer has");
  const auto other_codebook = folder_with_config("other_codebook", "\"vq_codebook_size\": 1024", "\"vq_codebook_size\": 512");
  const auto short_context =
      folder_with_config("short_context", "\"tokenizer_model_max_length\": 960", "\"tokenizer_model_max_length\": 900");
  expect_clean_failure({"generate", "-m", short_context, "a fox", "-o", path("x.png")}, "context");
  expect_clean_failure({"generate", "-m", other_codebook, "a fox", "-o", path("x.png")}, "vq_codebook_size");
}

}  // namespace
}  // namespace tokenflow::testing
