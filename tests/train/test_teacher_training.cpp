// tokenflow's own CLIP teacher: the word tokenizer, the model's causal text tower and OpenAI names,
// the retrieval measure, the caption data, and short training runs on generated images whose captions
// name their colour and pattern (the loss falls, retrieval beats chance, the checkpoint serves as a
// `tokenflow train` teacher, and a resumed run repeats the uninterrupted one).
#include "io/image.h"
#include "io/io_test_util.h"
#include "nn/weights.h"
#include "model/teacher/clip_model.h"
#include "eval/retrieval.h"
#include "model/teacher/teacher.h"
#include "train/run_folder.h"
#include "train/teacher_training.h"
#include "text/text_tokenizer.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <filesystem>

namespace tokenflow::train {
namespace {

using io::test::contains;
using io::test::error_of;
using io::test::ScratchDir;
using io::test::write_bytes;
using eval::caption_candidates;
using eval::CaptionedImage;
using eval::evaluate_retrieval;
using eval::read_captioned_images;
using eval::retrieval_accuracy;

TEST(TextTokenizer, RoundTripsCaptionsAsLowerCasedWords) {
  const auto tokenizer = text::TextTokenizer::build({"A red Circle!", "a blue circle", "Red, red stripes"}, 100);
  // <pad> <unk>, then by count: red (3), a (2), circle (2), blue, stripes, then <start> <end>.
  EXPECT_EQ(tokenizer.size(), 9);
  const auto ids = tokenizer.encode({"The RED circle...", "blue"}, 8);
  ASSERT_EQ(ids.sizes(), torch::IntArrayRef({2, 8}));
  const std::vector<int64_t> first(ids[0].data_ptr<int64_t>(), ids[0].data_ptr<int64_t>() + 8);
  EXPECT_EQ(first, (std::vector<int64_t>{tokenizer.start(), text::TextTokenizer::kUnknown, 2, 4, tokenizer.end(), 0, 0, 0}));
  EXPECT_EQ(tokenizer.decode(ids[0]), "<unk> red circle");
  EXPECT_EQ(tokenizer.decode(ids[1]), "blue");
  EXPECT_EQ(text::TextTokenizer::words("Crème-brûlée, 2x"), (std::vector<std::string>{"crème", "brûlée", "2x"}));

  // Too long: cut so that <end>, the largest id (OpenAI's EOT pooling takes the argmax), stays last.
  const auto cut = tokenizer.encode({"red red red red red red"}, 4);
  EXPECT_EQ(cut[0][3].item<int64_t>(), tokenizer.end());
  EXPECT_EQ(cut.argmax(-1).item<int64_t>(), 3);

  const auto restored = text::TextTokenizer::from_tensor(tokenizer.to_tensor(), "saved");
  EXPECT_TRUE(torch::equal(restored.encode({"a red circle", "stripes blue"}, 8), tokenizer.encode({"a red circle", "stripes blue"}, 8)));
}

TEST(TextTokenizer, VocabularyDependsOnlyOnTheCaptions) {
  const std::vector<std::string> captions = {"b a", "c d", "a c", "e"};
  const auto once = text::TextTokenizer::build(captions, 6).to_tensor();
  const auto again = text::TextTokenizer::build({"e", "a c", "c d", "b a"}, 6).to_tensor();
  EXPECT_TRUE(torch::equal(once, again));
  // a and c (2 each) fit; ties beyond them are not kept.
  const auto tokenizer = text::TextTokenizer::from_tensor(once, "saved");
  EXPECT_EQ(tokenizer.decode(tokenizer.encode({"a b c d e"}, 8)[0]), "a <unk> c <unk> <unk>");
  EXPECT_EQ(error_of([] { text::TextTokenizer::from_tensor(torch::zeros({3}, torch::kUInt8), "x.pt"); }, "x.pt"),
            "x.pt: the tokenizer vocabulary is malformed (expected <pad>, <unk>, distinct words, <start>, <end>)");
}

model::ClipModelConfig tiny_config() {
  model::ClipModelConfig config;
  config.image_size = 32;
  config.patch = 8;
  config.width = 64;
  config.layers = 2;
  config.text_width = 64;
  config.text_layers = 2;
  config.context = 8;
  config.embed_dim = 32;
  config.vocabulary_size = 20;
  return config;
}

TEST(ClipModel, TextTowerIsCausal) {
  torch::manual_seed(3);
  model::ClipModel model(tiny_config());
  torch::NoGradGuard no_grad;
  auto tokens = torch::tensor({{18, 5, 6, 7, 8, 9, 19, 0}}, torch::kInt64);
  const auto before = model.text_states(tokens);
  tokens[0][3] = 11;
  const auto after = model.text_states(tokens);
  EXPECT_TRUE(torch::equal(before.slice(1, 0, 3), after.slice(1, 0, 3)));
  for (int position = 3; position < 8; ++position) {
    EXPECT_FALSE(torch::allclose(before[0][position], after[0][position])) << "position " << position;
  }
  // The embedding is the end token's state (position 6, the largest id), projected.
  EXPECT_TRUE(torch::allclose(model.encode_text(tokens), torch::matmul(after.select(1, 6), model.text_projection), 1e-5, 1e-6));
}

TEST(ClipModel, HasOpenAINames) {
  torch::manual_seed(3);
  model::ClipModel model(tiny_config());
  const auto state = nn::collect_weights(model);
  for (const char* name : {"visual.conv1.weight", "visual.class_embedding", "visual.positional_embedding", "visual.proj",
                           "visual.transformer.resblocks.1.attn.in_proj_weight", "visual.ln_post.bias",
                           "token_embedding.weight", "positional_embedding", "transformer.resblocks.1.mlp.c_proj.weight",
                           "ln_final.weight", "text_projection", "logit_scale"}) {
    EXPECT_TRUE(state.contains(name)) << name;
  }
  for (const auto& name : state.names) EXPECT_FALSE(contains(name, "scal") && name != "logit_scale") << name;
  EXPECT_EQ(state.tensors.at("logit_scale").dim(), 0);
  EXPECT_NEAR(state.tensors.at("logit_scale").item<double>(), std::log(1 / 0.07), 1e-6);
  const auto config = model::clip_config_of(state, "model");
  EXPECT_EQ(config.image_size, 32);
  EXPECT_EQ(config.text_layers, 2);
  EXPECT_EQ(config.vocabulary_size, 20);

  auto wrong = tiny_config();
  wrong.width = 96;
  EXPECT_TRUE(contains(error_of([&] { model::ClipModel{wrong}; }), "image width 96 is not a positive multiple of 64"));
}

TEST(ContrastiveLoss, IsSymmetricCrossEntropy) {
  // Orthogonal unit embeddings, scale e^0 = 1: each row's logits are 1 at its match and 0 elsewhere.
  const auto features = torch::eye(3);
  const double expected = -std::log(std::exp(1.0) / (std::exp(1.0) + 2));
  EXPECT_NEAR(model::contrastive_loss(features * 2, features, torch::zeros({})).item<double>(), expected, 1e-6);
}

TEST(Retrieval, CountsHitsOverDistinctCaptions) {
  // Images 0 and 1 share caption "x"; image 2 has "y" and "z".
  const auto candidates = caption_candidates({{"0.png", {"x"}}, {"1.png", {"x"}}, {"2.png", {"y", "z"}}});
  EXPECT_EQ(candidates.captions, (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_TRUE(torch::equal(candidates.relevant, torch::tensor({{true, false, false}, {true, false, false}, {false, true, true}})));
  const auto similarity = torch::tensor({{0.9, 0.1, 0.0},    // image 0: x first (hit)
                                         {0.2, 0.8, 0.5},    // image 1: x third (miss at 1, hit at 5)
                                         {0.1, 0.3, 0.7}});  // image 2: z first (hit)
  const auto accuracy = retrieval_accuracy(similarity, candidates.relevant);
  EXPECT_NEAR(accuracy.image_to_caption_top1, 2.0 / 3, 1e-9);
  EXPECT_NEAR(accuracy.image_to_caption_top5, 1.0, 1e-9);
  // Captions: x -> image 0 (hit); y -> image 1 (miss); z -> image 2 (hit).
  EXPECT_NEAR(accuracy.caption_to_image_top1, 2.0 / 3, 1e-9);
  EXPECT_NEAR(accuracy.caption_to_image_top5, 1.0, 1e-9);
  EXPECT_EQ(accuracy.images, 3);
  EXPECT_EQ(accuracy.captions, 3);
  // Features: cosine similarity, whatever their norms.
  const auto from_features = retrieval_accuracy(torch::eye(3) * 5, torch::eye(3), torch::eye(3).to(torch::kBool));
  EXPECT_EQ(from_features.image_to_caption_top1, 1.0);
  EXPECT_TRUE(contains(error_of([] { retrieval_accuracy(torch::zeros({2, 3}), torch::zeros({3, 2}, torch::kBool)); }),
                       "does not match"));
}

TEST(TeacherTraining, LearningRateWarmsUpThenDecays) {
  EXPECT_DOUBLE_EQ(teacher_learning_rate(0, 1.0, 4, 14), 0.25);
  EXPECT_DOUBLE_EQ(teacher_learning_rate(3, 1.0, 4, 14), 1.0);
  EXPECT_DOUBLE_EQ(teacher_learning_rate(4, 1.0, 4, 14), 1.0);
  EXPECT_NEAR(teacher_learning_rate(9, 1.0, 4, 14), 0.5, 1e-12);
  EXPECT_NEAR(teacher_learning_rate(14, 1.0, 4, 14), 0.0, 1e-12);
}

// Images whose captions name their colour and pattern: 8 kinds, `per_kind` of each with a random
// shade, in `dir`/images, with captions.tsv and train.txt (plus an uncaptioned image in the list).
struct GeneratedData {
  std::string captions, list;
  std::vector<CaptionedImage> images;
};

GeneratedData generate_data(const ScratchDir& dir, int per_kind) {
  const std::vector<std::pair<std::string, std::array<float, 3>>> colours = {
      {"red", {0.8f, -0.8f, -0.8f}}, {"green", {-0.8f, 0.8f, -0.8f}}, {"blue", {-0.8f, -0.8f, 0.8f}}, {"yellow", {0.8f, 0.8f, -0.8f}}};
  std::filesystem::create_directories(dir.file("data/images"));
  torch::manual_seed(7);
  GeneratedData data{dir.file("data/captions.tsv"), dir.file("data/train.txt"), {}};
  std::string tsv, list;
  for (int kind = 0; kind < 8; ++kind) {
    const auto& [colour, rgb] = colours[kind % 4];
    const bool stripes = kind >= 4;
    for (int i = 0; i < per_kind; ++i) {
      auto image = torch::tensor({rgb[0], rgb[1], rgb[2]}).view({3, 1, 1}).expand({3, 40, 40}).clone();
      image += torch::rand({3, 1, 1}) * 0.3 - 0.15;
      auto ys = torch::arange(40).view({40, 1}).expand({40, 40});
      auto xs = torch::arange(40).view({1, 40}).expand({40, 40});
      const auto marks = stripes ? (ys % 10) < 5 : ((ys % 10) < 4).logical_and((xs % 10) < 4);
      image = torch::where(marks.unsqueeze(0), torch::full_like(image, 1.0), image);
      const std::string name = "images/" + colour + (stripes ? "_stripes_" : "_dots_") + std::to_string(i) + ".png";
      io::save_image(dir.file("data/" + name), image.clamp(-1, 1));
      const std::string caption = "a " + colour + " square with " + (stripes ? "white stripes" : "white dots");
      tsv += name + "\t" + caption + "\n";
      list += name + "\n";
      data.images.push_back({dir.file("data/" + name), {caption}});
    }
  }
  io::save_image(dir.file("data/images/uncaptioned.png"), torch::zeros({3, 8, 8}));
  write_bytes(data.captions, tsv);
  write_bytes(data.list, "# generated\n" + list + "images/uncaptioned.png\n");
  return data;
}

TeacherTrainingOptions tiny_run(const GeneratedData& data, const std::string& output) {
  TeacherTrainingOptions options;
  options.captions = data.captions;
  options.train_list = data.list;
  options.output = output;
  options.model = tiny_config();
  options.model.vocabulary_size = 64;
  options.global_batch_size = 16;
  options.lr = 2e-3;
  options.warmup = 3;
  options.weight_decay = 0.1;
  options.workers = 1;
  options.log_every = 5;
  options.progress = false;
  return options;
}

TEST(TeacherTraining, ReadsCaptionedImagesOfAList) {
  ScratchDir dir;
  const auto data = generate_data(dir, 1);
  write_bytes(dir.file("data/more.tsv"), "images/red_dots_0.png\tanother caption\n\n" + std::string("elsewhere.png\tnot listed\n"));
  const auto read = read_captioned_images(data.captions, data.list);
  EXPECT_EQ(read.images.size(), 8u);
  EXPECT_EQ(read.uncaptioned, 1);
  EXPECT_EQ(read.images[0].path, std::filesystem::path(dir.file("data/images/red_dots_0.png")).lexically_normal().string());
  EXPECT_EQ(read.images[0].captions, (std::vector<std::string>{"a red square with white dots"}));
  EXPECT_EQ(read_captioned_images(dir.file("data/more.tsv"), data.list).images.size(), 1u);

  write_bytes(dir.file("bad.tsv"), "a.png\tfine\nno tab here\n");
  EXPECT_EQ(error_of([&] { read_captioned_images(dir.file("bad.tsv"), data.list); }, dir.file("bad.tsv")),
            dir.file("bad.tsv") + ": line 2 is not `path<TAB>caption`");
  EXPECT_TRUE(contains(error_of([&] { read_captioned_images(data.captions, dir.file("data/none.txt")); }, dir.file("data/none.txt")),
                       ": cannot open"));
  write_bytes(dir.file("data/other.txt"), "images/uncaptioned.png\n");
  EXPECT_EQ(error_of([&] { read_captioned_images(data.captions, dir.file("data/other.txt")); }, dir.file("data/other.txt")),
            dir.file("data/other.txt") + ": none of its 1 images has a caption in " + data.captions);
}

TEST(TeacherTraining, LearnsColoursAndPatternsAndServesAsTeacher) {
  ScratchDir dir;
  const auto data = generate_data(dir, 4);
  auto options = tiny_run(data, dir.file("run"));
  options.steps = 40;
  options.checkpoint_every = 40;
  const auto records = run_teacher_training(options);
  ASSERT_EQ(records.size(), 40u);
  double late = 0;
  for (size_t i = 35; i < 40; ++i) late += records[i].loss / 5;
  EXPECT_LT(late, records.front().loss - 0.5) << "first " << records.front().loss << ", last five " << late;

  const auto checkpoint = checkpoint_path(options.output, 40);
  auto trained = model::load_clip(checkpoint);
  const auto accuracy = evaluate_retrieval(*trained.model, trained.tokenizer, data.images);
  EXPECT_EQ(accuracy.captions, 8);
  // Chance: 1/8 at top-1.
  EXPECT_GE(accuracy.image_to_caption_top1, 0.5);
  EXPECT_GE(accuracy.caption_to_image_top1, 0.5);

  // The image tower, as `tokenflow train --teacher` loads it: width 64 gives 1 head by OpenAI's rule.
  auto teacher = model::load_teacher(checkpoint);
  EXPECT_EQ(teacher->feature_width, 32);
  const auto images = torch::rand({2, 3, 32, 32}) * 2 - 1;
  const auto targets = teacher->targets(images);
  EXPECT_EQ(targets.sizes(), torch::IntArrayRef({2, 16, 32}));
  // The teacher's patch features are the CLIP model's, and their mean is its image embedding.
  torch::NoGradGuard no_grad;
  const auto tokens = trained.model->visual->all_tokens(trained.model->scaling->forward(images));
  EXPECT_TRUE(torch::allclose(targets, torch::matmul(tokens.slice(1, 1), trained.model->visual_projection), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(targets.mean(1), trained.model->encode_image(images), 1e-5, 1e-6));
}

TEST(TeacherTraining, ResumeRepeatsTheUninterruptedRun) {
  ScratchDir dir;
  const auto data = generate_data(dir, 2);
  auto whole = tiny_run(data, dir.file("whole"));
  whole.global_batch_size = 4;
  whole.steps = 6;
  whole.checkpoint_every = 3;
  const auto uninterrupted = run_teacher_training(whole);

  // Continued from the uninterrupted run's checkpoint at step 3, in a run folder of its own.
  auto second = whole;
  second.output = dir.file("resumed");
  second.resume = checkpoint_path(whole.output, 3);
  const auto resumed = run_teacher_training(second);
  ASSERT_EQ(resumed.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(resumed[i].step, uninterrupted[i + 3].step);
    EXPECT_EQ(resumed[i].loss, uninterrupted[i + 3].loss) << "step " << resumed[i].step;
    EXPECT_EQ(resumed[i].logit_scale, uninterrupted[i + 3].logit_scale);
  }
}

}  // namespace
}  // namespace tokenflow::train
