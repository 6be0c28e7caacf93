// `tokenflow train` as a user runs it, on generated images with the tiny teacher and LPIPS of
// ../shared/parity/train_step: the loss falls, checkpoints have the official layout and load for
// encoding, a resumed run repeats the uninterrupted one exactly, two processes equal one with the
// whole batch, and bad data or flags fail cleanly.
#include "cli_fixture.h"
#include "parity_fixture.h"
#include "io/checkpoint.h"
#include "io/image.h"
#include <tokenflow/npy.h>
#include "io/safetensors.h"
#include "io/torch_archive.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <map>

namespace {

using namespace tokenflow::testing;
using nlohmann::json;

const fs::path kTrainStep = fs::path(tokenflow::testing::parity_dir()) / "train_step";

// Smooth colour patterns of varied sizes, as PNG files.
void write_images(const fs::path& folder, int count) {
  fs::create_directories(folder);
  torch::manual_seed(1);
  for (int i = 0; i < count; ++i) {
    const int height = 72 + 8 * (i % 3), width = 88 + 8 * (i % 4);
    auto y = torch::linspace(0, 1, height).view({1, height, 1});
    auto x = torch::linspace(0, 1, width).view({1, 1, width});
    auto phase = torch::rand({3, 1, 1}) * 6.28, fx = torch::rand({3, 1, 1}) * 8, fy = torch::rand({3, 1, 1}) * 8;
    auto image = torch::sin(fx * x * 6.28 + fy * y * 6.28 + phase);
    char name[32];
    std::snprintf(name, sizeof(name), "image%02d.png", i);
    tokenflow::io::save_image((folder / name).string(), image);
  }
}

std::vector<json> read_log(const fs::path& run) {
  std::vector<json> lines;
  std::ifstream in(run / "log.jsonl");
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  return lines;
}

class TrainCli : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    TOKENFLOW_REQUIRE_PARITY_FIXTURES();
    write_images(path("images"), 16);
  }

  // A tiny tokenizer at 64 x 64 (scales 1, 2, 4) from the fixture's tiny CLIP teacher.
  std::vector<std::string> train_args(const std::string& run, int steps) const {
    return {"train",        "--data",           path("images"),    "--teacher",
            (kTrainStep / "teacher_clip.pt").string(), "--perceptual", (kTrainStep / "lpips_vgg16.pt").string(),
            "-o",           path(run),          "--steps",         std::to_string(steps),
            "--image-size", "64",               "--codebook-size", "1024",
            "--pixel-channels", "32",           "--z-channels",    "64",
            "--semantic-decoder-heads", "2",    "--disc-dim",      "16",
            "--global-batch-size", "4",         "--log-every",     "1",
            "--scale-drop", "0.5",              "--no-progress",   "--num-workers", "1"};
  }

  // `args` with the value of `flag` changed.
  static std::vector<std::string> replaced(std::vector<std::string> args, const std::string& flag, const std::string& value) {
    *(std::find(args.begin(), args.end(), flag) + 1) = value;
    return args;
  }

  static std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }
};

TEST_F(TrainCli, LossFallsAndCheckpointsHaveTheOfficialLayout) {
  const auto run = run_tokenflow(with(train_args("run", 12), {"--lr", "1e-3", "--disc-start", "100", "--ckpt-every", "6", "--ema"}));
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_NE(run.err.find("step 12/12"), std::string::npos) << run.err;
  const auto log = read_log(path("run"));
  ASSERT_EQ(log.size(), 12u);
  double first = 0, last = 0;
  for (int i = 0; i < 3; ++i) first += log[i]["loss"].get<double>() / 3;
  for (int i = 9; i < 12; ++i) last += log[i]["loss"].get<double>() / 3;
  std::printf("  mean loss, steps 1-3: %.4f, steps 10-12: %.4f\n", first, last);
  EXPECT_LT(last, first);

  const std::string checkpoint = path("run/checkpoints/0000012.pt");
  ASSERT_TRUE(fs::exists(path("run/checkpoints/0000006.pt")));
  tokenflow::io::TorchArchive archive(checkpoint);
  for (const char* key : {"model", "ema", "optimizer", "discriminator", "optimizer_disc", "steps", "args"}) {
    EXPECT_NE(archive.root().get(key), nullptr) << key;
  }
  EXPECT_EQ(archive.root().get("steps")->integer, 12);
  EXPECT_EQ(archive.root().get("args")->describe(), "argparse.Namespace");
  const auto* optimizer = archive.root().get("optimizer");
  ASSERT_NE(optimizer, nullptr);
  EXPECT_EQ(optimizer->get("param_groups")->items.size(), 1u);

  // The official TokenFlow state dict of the same widths (the fixture's clipb224 model) has the
  // same tensor names, and the same shapes except the position tables, which follow the resolution.
  const auto ours = tokenflow::io::load_state_dict(checkpoint, "model");
  const auto official = tokenflow::io::load_state_dict((kTrainStep / "model.pt").string(), "model");
  EXPECT_EQ(std::set<std::string>(ours.names.begin(), ours.names.end()),
            std::set<std::string>(official.names.begin(), official.names.end()));
  for (const auto& name : official.names) {
    if (!ours.contains(name) || name.find("pos") != std::string::npos) continue;
    EXPECT_EQ(ours.tensors.at(name).sizes(), official.tensors.at(name).sizes()) << name;
  }

  const auto encode = run_tokenflow({"encode", "-m", checkpoint, path("images/image00.png"), "-o", path("tokens.npy")});
  ASSERT_EQ(encode.status, 0) << encode.err;
  EXPECT_EQ(tokenflow::io::load_npy(path("tokens.npy")).sizes(), torch::IntArrayRef({1, 1 + 4 + 16}));

  // The decoder-only stage with the enhanced decoder swapped in: everything but the (new, wider)
  // decoder stays as it was.
  const auto finetune = run_tokenflow(with(replaced(train_args("decoder", 2), "--steps", "2"),
                                           {"--init", checkpoint, "--finetune-decoder", "--enhanced-decoder"}));
  ASSERT_EQ(finetune.status, 0) << finetune.err;
  const auto tuned = tokenflow::io::load_state_dict(path("decoder/checkpoints/0000002.pt"), "model");
  EXPECT_EQ(tuned.tensors.at("decoder.conv_out.weight").size(1), 64);  // 2 x the encoder's 32 channels
  for (const auto& name : ours.names) {
    if (name.rfind("decoder.", 0) == 0 || name == "quantize.codebook_used") continue;
    EXPECT_TRUE(torch::equal(tuned.tensors.at(name), ours.tensors.at(name))) << "changed: " << name;
  }
}

// Shipping a run's result: `convert` writes the EMA weights (or with --weights the trained ones), in
// bf16 if asked, with the checkpoint's step count beside the given provenance, ready for `encode`.
TEST_F(TrainCli, ConvertExportsACheckpointWithItsStepCount) {
  const auto run = run_tokenflow(with(replaced(train_args("run", 2), "--perceptual", "none"), {"--ema", "--ckpt-every", "100"}));
  ASSERT_EQ(run.status, 0) << run.err;
  const std::string checkpoint = path("run/checkpoints/0000002.pt");
  const auto ema = run_tokenflow({"convert", checkpoint, path("ema.safetensors"), "--dtype", "bf16", "--metadata", "data=patterns"});
  ASSERT_EQ(ema.status, 0) << ema.err;
  const auto trained = run_tokenflow({"convert", checkpoint, path("model.safetensors"), "--weights", "model",
                                      "--metadata", "steps=2 of 2"});
  ASSERT_EQ(trained.status, 0) << trained.err;

  const auto ema_file = tokenflow::io::read_safetensors(path("ema.safetensors"));
  const auto model_file = tokenflow::io::read_safetensors(path("model.safetensors"));
  // The heads, which no tensor shows, travel from the checkpoint's args: the teacher's 1 (width 64,
  // OpenAI's width / 64) and --semantic-decoder-heads 2.
  const std::map<std::string, std::string> heads = {{"tokenflow.semantic_heads", "1"},
                                                    {"tokenflow.semantic_decoder_heads", "2"}};
  auto expected = heads;
  expected.insert({{"data", "patterns"}, {"steps", "2"}});
  EXPECT_EQ(ema_file.metadata, expected);
  expected = heads;
  expected.insert({"steps", "2 of 2"});
  EXPECT_EQ(model_file.metadata, expected);
  for (const auto& file : {checkpoint, path("ema.safetensors")}) {
    const auto json = run_tokenflow({"info", "-m", file, "--json"});
    ASSERT_EQ(json.status, 0) << json.err;
    const auto config = nlohmann::json::parse(json.out);
    EXPECT_EQ(config["semantic_encoder"]["heads"], 1) << file;
    EXPECT_EQ(config["semantic_decoder"]["heads"], 2) << file;
  }
  const auto stored_ema = tokenflow::io::load_state_dict(checkpoint, "ema");
  const auto stored_model = tokenflow::io::load_state_dict(checkpoint, "model");
  ASSERT_EQ(model_file.names, stored_model.names);
  for (const auto& name : stored_model.names)
    EXPECT_TRUE(torch::equal(model_file.tensors.at(name), stored_model.tensors.at(name))) << name;
  const std::string weight = "decoder.conv_out.weight";
  EXPECT_FALSE(torch::equal(stored_ema.tensors.at(weight), stored_model.tensors.at(weight)));
  EXPECT_TRUE(torch::equal(ema_file.tensors.at(weight), stored_ema.tensors.at(weight).to(torch::kBFloat16)));
  EXPECT_EQ(ema_file.tensors.at("quantize.codebook_used").scalar_type(), torch::kFloat32);

  const auto info = run_tokenflow({"info", "-m", path("ema.safetensors")});
  ASSERT_EQ(info.status, 0) << info.err;
  EXPECT_NE(info.out.find("provenance:\n  data:           patterns\n  steps:          2\n"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("  tokenflow.semantic_heads: 1\n"), std::string::npos) << info.out;
  const auto encode = run_tokenflow({"encode", "-m", path("ema.safetensors"), path("images/image00.png"), "-o", path("tokens.npy")});
  ASSERT_EQ(encode.status, 0) << encode.err;
  EXPECT_EQ(tokenflow::io::load_npy(path("tokens.npy")).sizes(), torch::IntArrayRef({1, 1 + 4 + 16}));
}

TEST_F(TrainCli, ResumeRepeatsTheUninterruptedRun) {
  const std::vector<std::string> common = {"--disc-start", "2", "--ckpt-every", "2", "--ema"};
  ASSERT_EQ(run_tokenflow(with(train_args("whole", 4), common)).status, 0);
  ASSERT_EQ(run_tokenflow(with(train_args("parts", 2), common)).status, 0);
  const auto resumed = run_tokenflow(with(train_args("parts", 4), with(common, {"--resume", path("parts/checkpoints/0000002.pt")})));
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  const auto whole = read_log(path("whole")), parts = read_log(path("parts"));
  ASSERT_EQ(whole.size(), 4u);
  ASSERT_EQ(parts.size(), 4u);
  for (size_t i = 0; i < whole.size(); ++i) {
    for (const char* key : {"step", "loss", "rec_loss", "p_loss", "vq_loss", "commit_loss", "vqkd_loss",
                            "generator_adv_loss", "discriminator_adv_loss", "codebook_usage", "grad_norm"}) {
      EXPECT_EQ(whole[i][key], parts[i][key]) << "step " << i + 1 << " " << key;
    }
  }
}

// DistributedDataParallel's promise: 2 processes with 2 images each take the steps of 1 process with
// 4. The discriminator starts after these steps: its BatchNorm normalises each process's half-batch
// on its own (as DDP without SyncBatchNorm does), which changes its logits but, with the adversarial
// weight still 0, not the tokenizer's losses or gradients.
TEST_F(TrainCli, TwoProcessesEqualOneWithTheWholeBatch) {
  const std::vector<std::string> common = {"--disc-start", "100", "--ckpt-every", "100", "--threads", "1"};
  const auto one = run_tokenflow(with(train_args("one", 3), common));
  ASSERT_EQ(one.status, 0) << one.err;
  const auto two = run_tokenflow(with(train_args("two", 3), with(common, {"--nproc", "2"})));
  ASSERT_EQ(two.status, 0) << two.err;
  const auto a = read_log(path("one")), b = read_log(path("two"));
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  for (size_t i = 0; i < a.size(); ++i) {
    // Sums over the batch in another order: the losses agree to 1e-4, the gradient norm (which the
    // pixel branch's nearly cancelling sums dominate) to 1e-3.
    for (const char* key : {"loss", "rec_loss", "p_loss", "vq_loss", "commit_loss", "vqkd_loss", "grad_norm"}) {
      const double x = a[i][key].get<double>(), y = b[i][key].get<double>();
      const double limit = std::string(key) == "grad_norm" ? 1e-3 : 1e-4;
      EXPECT_LE(std::abs(x - y), limit * std::max(std::abs(x), 1e-3)) << "step " << i + 1 << " " << key << ": " << x << " vs " << y;
    }
  }
}

TEST_F(TrainCli, UnreadableImagesAreSkippedAndReported) {
  write_file(path("images/broken.png"), "not a png");
  write_file(path("images/empty.png"), "");
  const auto run = run_tokenflow(with(replaced(train_args("run", 4), "--perceptual", "none"), {"--ckpt-every", "100"}));
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_NE(run.err.find("unreadable images skipped"), std::string::npos) << run.err;
  EXPECT_EQ(read_log(path("run")).size(), 4u);
}

TEST_F(TrainCli, AConfigFileGivesOptionsAndTheCommandLineWins) {
  write_file(path("run.toml"), "steps = 3\nlog-every = 1\nperceptual = \"none\"\nema = true\n");
  auto args = train_args("run", 2);
  // Drop --perceptual from the command line: the config file gives it.
  const auto at = std::find(args.begin(), args.end(), "--perceptual");
  args.erase(at, at + 2);
  const auto run = run_tokenflow(with(args, {"--config", path("run.toml")}));
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(read_log(path("run")).size(), 2u);  // --steps 2 on the command line beats steps = 3
  tokenflow::io::TorchArchive archive(path("run/checkpoints/0000002.pt"));
  EXPECT_NE(archive.root().get("ema"), nullptr);
}

TEST_F(TrainCli, BadDataAndFlagsFailWithOneLine) {
  fs::create_directories(path("empty"));
  const auto empty = run_tokenflow(replaced(train_args("run", 2), "--data", path("empty")));
  EXPECT_EQ(empty.status, 1);
  EXPECT_NE(empty.err.find("empty"), std::string::npos) << empty.err;
  EXPECT_EQ(std::count(empty.err.begin(), empty.err.end(), '\n'), 1) << empty.err;

  const auto bad_flag = run_tokenflow(with(train_args("run", 2), {"--scale-drop", "2"}));
  EXPECT_EQ(bad_flag.status, 2);
  EXPECT_EQ(bad_flag.err.rfind("tokenflow: error: ", 0), 0u) << bad_flag.err;

  write_file(path("bad.toml"), "no-such-option = 1\n");
  const auto bad_config = run_tokenflow(with(train_args("run", 2), {"--config", path("bad.toml")}));
  EXPECT_EQ(bad_config.status, 2);
  EXPECT_NE(bad_config.err.find("no-such-option"), std::string::npos) << bad_config.err;

  const auto bad_teacher = run_tokenflow(replaced(train_args("run", 2), "--teacher", path("images/image00.png")));
  EXPECT_EQ(bad_teacher.status, 1);
  EXPECT_EQ(std::count(bad_teacher.err.begin(), bad_teacher.err.end(), '\n'), 1) << bad_teacher.err;
}

TEST_F(TrainCli, ReadmeTrainingExamplesRun) {
  const std::string script = readme_examples(TOKENFLOW_README, "<!-- training examples: run by tests/cli/test_train_cli.cpp -->");
  for (const char* command : {"train", "plot", "encode"})
    EXPECT_NE(script.find("build/tokenflow " + std::string(command)), std::string::npos) << command;
  const CommandResult run = run_examples(script);
  EXPECT_EQ(run.status, 0) << script << "\nstdout:\n" << run.out << "\nstderr:\n" << run.err;
  const auto log = read_log(path("run"));  // every 10 steps and at the end of each run: steps 4 and 6
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log.back()["step"], 6);
  EXPECT_TRUE(fs::exists(path("run/loss.png")));
}

}  // namespace
