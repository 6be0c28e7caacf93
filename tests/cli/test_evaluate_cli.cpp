// `tokenflow evaluate` as a user runs it: on a tiny tokenizer with its train-teacher teacher and
// captioned images (the JSON holds every number, the contact sheet has its size, the PSNR is the one
// `reconstruct` prints), the README's example, and bad inputs that must fail in one line.
#include "cli_fixture.h"
#include "parity_fixture.h"
#include "io/checkpoint.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "eval/evaluation_fixture.h"

#include <tokenflow/tokenflow.h>

#include <nlohmann/json.hpp>

#include <cstdio>

namespace {

using namespace tokenflow::testing;
using nlohmann::json;

const std::string kOpenAiLayoutTeacher = (fs::path(tokenflow::testing::parity_dir()) / "train_step" / "teacher_clip.pt").string();

// One tiny tokenizer, teacher and image set for the whole suite: making them trains the teacher a step.
class EvaluateCli : public Cli {
 protected:
  static void SetUpTestSuite() {
    shared_dir_ = new fs::path(fs::temp_directory_path() / ("tokenflow_cli_evaluate_" + std::to_string(::getpid())));
    fs::remove_all(*shared_dir_);
    data_ = new tokenflow::eval::test::EvaluationFixture(tokenflow::eval::test::make_evaluation_fixture(*shared_dir_, 7));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*shared_dir_);
    delete data_;
    delete shared_dir_;
  }

  std::vector<std::string> evaluate_args(const std::vector<std::string>& more) const {
    std::vector<std::string> args = {"evaluate", "-m", data_->model, "--list", data_->list};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  static fs::path* shared_dir_;
  static tokenflow::eval::test::EvaluationFixture* data_;
};

fs::path* EvaluateCli::shared_dir_ = nullptr;
tokenflow::eval::test::EvaluationFixture* EvaluateCli::data_ = nullptr;

TEST_F(EvaluateCli, WritesEveryNumberAndTheContactSheet) {
  const CommandResult run = run_tokenflow(evaluate_args({"--teacher", data_->teacher, "--captions", data_->captions,
                                                         "--contact-sheet", path("sheet.png"), "--sheet-images", "3",
                                                         "-o", path("metrics.json"), "--batch-size", "4", "-t", "2"}));
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.err, "");
  for (const char* line : {"7 images evaluated, 0 skipped", "PSNR ", "SSIM ", "codebook usage", "semantic fidelity",
                           "6 captioned images (1 without a caption)", "  teacher ", "  tokens ", "contact sheet"})
    EXPECT_NE(run.out.find(line), std::string::npos) << line << " not in:\n" << run.out;

  const json metrics = json::parse(read_file(path("metrics.json")));
  EXPECT_EQ(metrics.at("model"), data_->model);
  EXPECT_EQ(metrics.at("list"), data_->list);
  EXPECT_EQ(metrics.at("teacher"), data_->teacher);
  EXPECT_EQ(metrics.at("images"), 7);
  EXPECT_EQ(metrics.at("skipped"), 0);
  EXPECT_EQ(metrics.at("tokens_per_image"), 21);
  EXPECT_EQ(metrics.at("codebook_size"), 64);
  EXPECT_EQ(metrics.at("precision"), tokenflow::native_bf16("cpu") ? "mixed" : "fp32");  // the default, auto
  EXPECT_GT(metrics.at("psnr_db").at("mean").get<double>(), 0);
  const double ssim = metrics.at("ssim").at("mean").get<double>();
  EXPECT_TRUE(ssim > -1 && ssim <= 1) << ssim;
  const auto& usage = metrics.at("codebook_usage");
  EXPECT_EQ(usage.at("all_scales").at("tokens"), 7 * 21);
  EXPECT_EQ(usage.at("last_scale").at("tokens"), 7 * 16);
  EXPECT_LE(usage.at("all_scales").at("perplexity").get<double>(), 64);
  const double cosine = metrics.at("semantic_fidelity").at("mean_cosine").get<double>();
  EXPECT_TRUE(cosine >= -1 && cosine <= 1) << cosine;
  const auto& retrieval = metrics.at("retrieval");
  EXPECT_EQ(retrieval.at("images"), 6);
  EXPECT_EQ(retrieval.at("uncaptioned"), 1);
  EXPECT_EQ(retrieval.at("captions"), 6);
  for (const char* side : {"teacher", "tokens"})
    for (const char* key : {"image_to_caption_top1", "image_to_caption_top5", "caption_to_image_top1", "caption_to_image_top5"})
      EXPECT_TRUE(retrieval.at(side).contains(key)) << side << "." << key;
  for (const char* key : {"psnr", "ssim", "codebook_usage", "semantic_fidelity", "retrieval"})
    EXPECT_TRUE(metrics.at("definitions").contains(key)) << key;
  EXPECT_EQ(metrics.at("contact_sheet").at("images"), 3);

  // 3 pairs of 64 x 64: 2 pairs a row, 2 rows, 8-pixel gaps and 2 between the images of a pair.
  const torch::Tensor sheet = tokenflow::io::load_image_raw(path("sheet.png"));
  EXPECT_EQ(sheet.sizes(), torch::IntArrayRef({3, 2 * 64 + 3 * 8, 2 * (2 * 64 + 2) + 3 * 8}));
  EXPECT_EQ(files(), (std::set<std::string>{"metrics.json", "sheet.png"}));
}

TEST_F(EvaluateCli, PsnrIsReconstructsAndUnreadableImagesAreSkipped) {
  const CommandResult reconstructed = run_tokenflow({"reconstruct", "-m", data_->model, data_->images[0], "-o", path("recon.png")});
  ASSERT_EQ(reconstructed.status, 0) << reconstructed.err;
  write_file(path("list.txt"), data_->images[0] + "\nmissing.png\n");
  const CommandResult run = run_tokenflow({"evaluate", "-m", data_->model, "--list", path("list.txt"), "-o", path("metrics.json")});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.err, "tokenflow: skipped " + path("missing.png") + ": cannot read image (No such file or directory)\n");
  const json metrics = json::parse(read_file(path("metrics.json")));
  EXPECT_EQ(metrics.at("images"), 1);
  EXPECT_EQ(metrics.at("skipped"), 1);
  EXPECT_EQ(metrics.at("teacher"), nullptr);
  EXPECT_EQ(metrics.at("semantic_fidelity"), nullptr);
  EXPECT_EQ(metrics.at("retrieval"), nullptr);
  char printed[64];
  std::snprintf(printed, sizeof(printed), ": PSNR %.2f dB", metrics.at("psnr_db").at("mean").get<double>());
  EXPECT_NE(reconstructed.out.find(printed), std::string::npos) << printed << " vs " << reconstructed.out;
  EXPECT_EQ(metrics.at("psnr_db").at("median"), metrics.at("psnr_db").at("mean"));
}

TEST_F(EvaluateCli, ReadmeExampleRuns) {
  TOKENFLOW_REQUIRE_PARITY_FIXTURES();
  const std::string script = readme_examples(TOKENFLOW_README, "<!-- evaluate examples: run by tests/cli/test_evaluate_cli.cpp -->");
  ASSERT_NE(script.find("tokenflow evaluate"), std::string::npos) << "no evaluate example in the README";
  const CommandResult run = run_examples(script);
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_TRUE(fs::exists(path("sheet.png")));
  EXPECT_EQ(json::parse(read_file(path("metrics.json"))).at("images"), 3);
}

TEST_F(EvaluateCli, BadInputsFailInOneLine) {
  TOKENFLOW_REQUIRE_PARITY_FIXTURES();
  expect_clean_failure({"evaluate", "-m", data_->model, "--list", path("none.txt")}, "none.txt: cannot open");
  write_file(path("empty.txt"), "# nothing\n");
  expect_clean_failure({"evaluate", "-m", data_->model, "--list", path("empty.txt")}, "empty.txt: no images listed");
  expect_clean_failure(evaluate_args({"--teacher", data_->teacher, "--captions", path("none.tsv"), "-o", path("m.json")}),
                       "none.tsv: cannot open");
  // The image tower alone, as a CLIP state dict without the text side.
  auto state = tokenflow::io::load_state_dict(data_->teacher);
  tokenflow::io::StateDict image_tower;
  for (const auto& name : state.names)
    if (name.rfind("visual.", 0) == 0) image_tower.insert(name, state.tensors.at(name));
  const std::string visual_only = (*shared_dir_ / "visual_only.safetensors").string();
  tokenflow::io::write_safetensors(visual_only, image_tower);
  expect_clean_failure(evaluate_args({"--teacher", visual_only, "--captions", data_->captions, "-o", path("m.json")}),
                       "visual_only.safetensors: no text tower (token_embedding.weight); captions need a train-teacher checkpoint");
  if (fs::exists(kOpenAiLayoutTeacher)) {
    // A text tower, but no word tokenizer: not from train-teacher.
    expect_clean_failure(evaluate_args({"--teacher", kOpenAiLayoutTeacher, "--captions", data_->captions}),
                         "teacher_clip.pt: no tokenizer vocabulary (not written by tokenflow train-teacher)");
    // Not the teacher this model was made from: other features.
    expect_clean_failure(evaluate_args({"--teacher", kOpenAiLayoutTeacher}), "semantic fidelity: the teacher's patch features are");
  }
  expect_clean_failure(evaluate_args({"--captions", data_->captions}), "--captions requires --teacher");
  expect_clean_failure(evaluate_args({"-o", path("metrics.txt")}), "metrics.txt: the output must end in .json");
  expect_clean_failure(evaluate_args({"--contact-sheet", path("sheet.jpg")}), "sheet.jpg: --contact-sheet must end in .png");
  expect_clean_failure(evaluate_args({"--batch-size", "0"}), "--batch-size");
  write_file(path("unreadable.txt"), "a.png\nb.png\n");
  expect_clean_failure({"evaluate", "-m", data_->model, "--list", path("unreadable.txt"), "-o", path("m.json")},
                       "none of the 2 images can be read");
}

}  // namespace
