#pragma once
// What `tokenflow evaluate` needs, tiny: captioned images with a list and captions.tsv, a CLIP teacher
// from one step of train-teacher (64 x 64, patch 16: 4 x 4 patches), and a new tokenizer made from it
// (scales 1, 2, 4; 64 codes), saved as .safetensors. Shared by the library and the CLI tests.
#include "io/checkpoint.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "nn/weights.h"
#include "train/new_tokenizer.h"
#include "train/run_folder.h"
#include "train/teacher_training.h"

#include <torch/torch.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace tokenflow::eval::test {

struct EvaluationFixture {
  std::string list;      // data/val.txt: a comment line, then every image
  std::string captions;  // data/captions.tsv: every image but the last
  std::string teacher;   // a train-teacher checkpoint
  std::string model;     // the tokenizer, .safetensors
  std::vector<std::string> images;  // as read_image_list gives them, in list order
};

// Squares of four colours with dots or stripes, of varied sizes (the centre crop has work to do),
// captioned by colour and pattern; image `count - 1` has no caption.
inline EvaluationFixture make_evaluation_fixture(const std::filesystem::path& folder, int count) {
  namespace fs = std::filesystem;
  const std::vector<std::pair<std::string, std::array<float, 3>>> colours = {
      {"red", {0.8f, -0.8f, -0.8f}}, {"green", {-0.8f, 0.8f, -0.8f}}, {"blue", {-0.8f, -0.8f, 0.8f}}, {"yellow", {0.8f, 0.8f, -0.8f}}};
  const fs::path data = folder / "data";
  fs::create_directories(data / "images");
  torch::manual_seed(11);
  std::string list = "# held out\n", tsv;
  for (int i = 0; i < count; ++i) {
    const auto& [colour, rgb] = colours[i % 4];
    const bool stripes = (i / 4) % 2 == 1;
    const int height = 72 + 8 * (i % 3), width = 80 + 8 * (i % 2);
    auto image = torch::tensor({rgb[0], rgb[1], rgb[2]}).view({3, 1, 1}).expand({3, height, width}).clone();
    image += torch::rand({3, 1, 1}) * 0.3 - 0.15;
    const auto ys = torch::arange(height).view({height, 1}).expand({height, width});
    const auto xs = torch::arange(width).view({1, width}).expand({height, width});
    const auto marks = stripes ? (ys % 12) < 6 : ((ys % 12) < 5).logical_and((xs % 12) < 5);
    image = torch::where(marks.unsqueeze(0), torch::full_like(image, 1.0), image);
    const std::string name = "images/" + std::to_string(i) + "_" + colour + (stripes ? "_stripes" : "_dots") + ".png";
    io::save_image((data / name).string(), image.clamp(-1, 1));
    list += name + "\n";
    if (i + 1 < count) tsv += name + "\ta " + colour + " square with white " + (stripes ? "stripes" : "dots") + "\n";
  }
  EvaluationFixture fixture;
  fixture.list = (data / "val.txt").string();
  fixture.captions = (data / "captions.tsv").string();
  std::ofstream(fixture.list) << list;
  std::ofstream(fixture.captions) << tsv;
  fixture.images = eval::read_image_list(fixture.list);

  train::TeacherTrainingOptions run;
  run.captions = fixture.captions;
  run.train_list = fixture.list;
  run.output = (folder / "teacher").string();
  run.model.image_size = 64;
  run.model.patch = 16;
  run.model.width = 64;
  run.model.layers = 1;
  run.model.text_width = 64;
  run.model.text_layers = 1;
  run.model.context = 8;
  run.model.embed_dim = 32;
  run.model.vocabulary_size = 32;
  run.steps = 1;
  run.global_batch_size = 4;
  run.checkpoint_every = 1;
  run.workers = 1;
  run.progress = false;
  train::run_teacher_training(run);
  fixture.teacher = train::checkpoint_path(run.output, 1);

  train::NewTokenizerOptions shape;
  shape.codebook_size = 64;
  shape.pixel_channels = 32;
  shape.z_channels = 64;
  shape.semantic_decoder_layers = 1;
  shape.semantic_decoder_heads = 2;
  const auto tokenizer = train::new_tokenizer(io::load_state_dict(fixture.teacher), fixture.teacher, shape);
  fixture.model = (folder / "tokenizer.safetensors").string();
  io::write_safetensors(fixture.model, nn::collect_weights(*tokenizer.net));
  return fixture;
}

}  // namespace tokenflow::eval::test
