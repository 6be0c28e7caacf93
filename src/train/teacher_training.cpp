#include "train/teacher_training.h"

#include "eval/image_lists.h"

#include <tokenflow/error.h>

#include "io/files.h"
#include "io/torch_archive.h"
#include "io/torch_save.h"
#include "nn/weights.h"
#include "train/augment.h"
#include "train/data_loader.h"
#include "train/dataset.h"
#include "train/optimizer_state.h"
#include "train/progress.h"
#include "train/run_folder.h"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <type_traits>

namespace tokenflow::train {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using io::pickle::SaveValue;

// Keeps the draws that pick one of an image's captions apart from those of its crop.
constexpr uint64_t kCaptionKey = 0x63617074696f6e21ULL;
// open_clip's AdamW settings for ViT CLIP models.
constexpr double kBeta1 = 0.9, kBeta2 = 0.98, kEpsilon = 1e-6;

// What a run's numbers are recorded under: the checkpoint's `args` and config.json.
nlohmann::ordered_json model_json(const model::ClipModelConfig& c) {
  return {{"image_size", c.image_size}, {"patch", c.patch},           {"width", c.width},
          {"layers", c.layers},         {"text_width", c.text_width}, {"text_layers", c.text_layers},
          {"context", c.context},       {"embed_dim", c.embed_dim},   {"vocab_size", c.vocabulary_size}};
}

SaveValue run_args(const TeacherTrainingOptions& o, const model::ClipModelConfig& c) {
  auto args = SaveValue::dict();
  const auto sizes = model_json(c);
  for (const auto& [key, value] : sizes.items()) args.set(key, value.get<int64_t>());
  args.set("captions", o.captions)
      .set("train_list", o.train_list)
      .set("val_list", o.val_list)
      .set("steps", o.steps)
      .set("global_batch_size", o.global_batch_size)
      .set("lr", o.lr)
      .set("warmup", o.warmup)
      .set("weight_decay", o.weight_decay)
      .set("beta1", kBeta1)
      .set("beta2", kBeta2)
      .set("eps", kEpsilon)
      .set("global_seed", static_cast<int64_t>(o.seed));
  return args;
}

// Weight decay on matrices and embeddings, none on gains, biases and logit_scale (open_clip's rule).
std::unique_ptr<torch::optim::AdamW> make_optimizer(model::ClipModel& model, const TeacherTrainingOptions& o) {
  std::vector<torch::Tensor> decayed, kept;
  for (auto& parameter : model.parameters()) (parameter.dim() >= 2 ? decayed : kept).push_back(parameter);
  const auto options = torch::optim::AdamWOptions(o.lr).betas({kBeta1, kBeta2}).eps(kEpsilon);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decayed, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(options).weight_decay(o.weight_decay)));
  groups.emplace_back(kept, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(options).weight_decay(0)));
  return std::make_unique<torch::optim::AdamW>(std::move(groups), options);
}

void save_checkpoint(const std::string& path, model::ClipModel& model, const text::TextTokenizer& tokenizer,
                     torch::optim::AdamW& optimizer, int64_t steps, const SaveValue& args) {
  SaveValue checkpoint = SaveValue::dict();
  checkpoint.set("state_dict", SaveValue::ordered_dict(nn::collect_weights(model)))
      .set(model::kVocabularyEntry, tokenizer.to_tensor())
      .set("optimizer", optimizer_state_dict(optimizer))
      .set("steps", steps)
      .set("args", args);
  io::save_torch_archive(path, checkpoint);
}

// Restores the optimizer's moments and step counts, and returns the checkpoint's step.
int64_t resume_optimizer(const std::string& path, torch::optim::AdamW& optimizer) {
  io::TorchArchive archive(path);
  load_optimizer_state(archive, "optimizer", optimizer, path);
  return io::checkpoint_steps(archive, path);
}

std::string progress_line(const TeacherStepRecord& r, int64_t last_step, double steps_per_second, int64_t pairs_per_step) {
  std::ostringstream line;
  line << std::fixed << "step " << r.step << "/" << last_step << std::setprecision(4) << "  loss " << r.loss
       << std::setprecision(2) << "  scale " << r.logit_scale << std::scientific << "  lr " << r.lr << std::fixed << "  "
       << steps_per_second << " it/s " << steps_per_second * pairs_per_step << " pairs/s  ETA "
       << format_duration((last_step - r.step) / std::max(steps_per_second, 1e-9));
  return line.str();
}

std::string percent(double fraction) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(1) << 100 * fraction << "%";
  return text.str();
}

}  // namespace

double teacher_learning_rate(int64_t step, double lr, int64_t warmup, int64_t steps) {
  if (step < warmup) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const auto decay_steps = std::max<int64_t>(1, steps - warmup);
  constexpr double kPi = 3.14159265358979323846;
  return 0.5 * (1 + std::cos(kPi * static_cast<double>(step - warmup) / static_cast<double>(decay_steps))) * lr;
}

std::vector<TeacherStepRecord> run_teacher_training(const TeacherTrainingOptions& options) {
  if (options.output.empty()) throw Error("teacher training needs a run folder (--output)");
  if (options.log_every < 1 || options.checkpoint_every < 1 || options.warmup < 0) {
    throw Error("teacher training: --log-every and --ckpt-every must be positive, --warmup not negative");
  }
  const auto train = eval::read_captioned_images(options.captions, options.train_list);
  const auto held_out = options.val_list.empty() ? eval::CaptionedImages() : eval::read_captioned_images(options.captions, options.val_list);
  if (options.global_batch_size < 1 || options.global_batch_size > static_cast<int64_t>(train.images.size())) {
    throw Error(options.train_list + ": " + std::to_string(train.images.size()) + " captioned images make no batch of " +
                std::to_string(options.global_batch_size));
  }

  // New weights are drawn from the seed, so a run is reproducible.
  torch::manual_seed(options.seed);
  std::shared_ptr<model::ClipModel> model;
  std::optional<text::TextTokenizer> tokenizer;
  if (options.resume.empty()) {
    std::vector<std::string> captions;
    for (const auto& image : train.images) captions.insert(captions.end(), image.captions.begin(), image.captions.end());
    tokenizer = text::TextTokenizer::build(captions, options.model.vocabulary_size);
    auto config = options.model;
    config.vocabulary_size = tokenizer->size();
    model = std::make_shared<model::ClipModel>(config);
  } else {
    auto trained = model::load_clip(options.resume);
    model = trained.model;
    tokenizer = std::move(trained.tokenizer);
  }
  model->train();
  const auto& config = model->config;
  auto optimizer = make_optimizer(*model, options);
  int64_t steps = options.resume.empty() ? 0 : resume_optimizer(options.resume, *optimizer);

  // train::ImageDataset reads its images from list files: this one holds exactly the captioned ones,
  // in order, so that dataset index i is train.images[i] (and the run records what it trained on).
  fs::create_directories(fs::path(options.output) / "checkpoints");
  const auto image_list = (fs::path(options.output) / "train_images.txt").string();
  std::string listed;
  for (const auto& image : train.images) listed += image.path + "\n";
  io::write_text_file(image_list, listed);
  const ImageDataset dataset({image_list});
  DataLoaderOptions loader_options;
  loader_options.image_size = config.image_size;
  loader_options.global_batch_size = options.global_batch_size;
  loader_options.seed = options.seed;
  loader_options.workers = options.workers;
  // Probe the epoch length, then start where the checkpoint left off.
  const int64_t steps_per_epoch = DataLoader(dataset, loader_options).steps_per_epoch();
  DataLoader loader(dataset, loader_options, steps / steps_per_epoch, steps % steps_per_epoch);

  nlohmann::ordered_json run_config = {{"tokenflow_train_teacher", true},
                                       {"pairs", train.images.size()},
                                       {"uncaptioned_images", train.uncaptioned},
                                       {"held_out_images", held_out.images.size()},
                                       {"steps_per_epoch", steps_per_epoch},
                                       {"model", model_json(config)}};
  io::write_text_file((fs::path(options.output) / "config.json").string(), run_config.dump(2) + "\n");
  std::ofstream log((fs::path(options.output) / "log.jsonl").string(), std::ios::app);
  const bool live = options.progress && isatty(STDERR_FILENO);
  const auto args = run_args(options, config);

  const auto evaluate = [&](int64_t step) {
    if (held_out.images.empty()) return;
    const auto accuracy = eval::evaluate_retrieval(*model, *tokenizer, held_out.images);
    const std::string unreadable = accuracy.unreadable.empty() ? std::string()
                                   : " (" + std::to_string(accuracy.unreadable.size()) +
                                         " unreadable, first: " + accuracy.unreadable.front() + ")";
    std::fprintf(stderr, "step %ld retrieval on %ld held-out images, %ld captions: image->caption top-1 %s top-5 %s, "
                 "caption->image top-1 %s top-5 %s%s\n",
                 static_cast<long>(step), static_cast<long>(accuracy.images), static_cast<long>(accuracy.captions),
                 percent(accuracy.image_to_caption_top1).c_str(), percent(accuracy.image_to_caption_top5).c_str(),
                 percent(accuracy.caption_to_image_top1).c_str(), percent(accuracy.caption_to_image_top5).c_str(),
                 unreadable.c_str());
    log << nlohmann::ordered_json{{"step", step},
                                  {"val_image_to_caption_top1", accuracy.image_to_caption_top1},
                                  {"val_image_to_caption_top5", accuracy.image_to_caption_top5},
                                  {"val_caption_to_image_top1", accuracy.caption_to_image_top1},
                                  {"val_caption_to_image_top5", accuracy.caption_to_image_top5},
                                  {"val_images", accuracy.images},
                                  {"val_captions", accuracy.captions}}
                .dump()
        << "\n"
        << std::flush;
  };

  std::vector<TeacherStepRecord> records;
  const auto start = Clock::now();
  const int64_t first_step = steps;
  int64_t reported_skips = 0;
  while (steps < options.steps) {
    const auto step_start = Clock::now();
    const auto batch = loader.next();
    std::vector<std::string> captions;
    for (const int64_t index : batch.indices) {
      const auto& choices = train.images[static_cast<size_t>(index)].captions;
      SampleRandom random({options.seed, static_cast<uint64_t>(batch.epoch), static_cast<uint64_t>(index), kCaptionKey});
      captions.push_back(choices[static_cast<size_t>(random.below(static_cast<int64_t>(choices.size())))]);
    }
    const double lr = teacher_learning_rate(steps, options.lr, options.warmup, options.steps);
    for (auto& group : optimizer->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    optimizer->zero_grad();
    const auto loss = model::contrastive_loss(model->encode_image(batch.images),
                                       model->encode_text(tokenizer->encode(captions, config.context)), model->logit_scale);
    loss.backward();
    optimizer->step();
    model->clamp_logit_scale();
    ++steps;

    TeacherStepRecord record;
    record.step = steps;
    record.loss = loss.item<double>();
    record.logit_scale = model->logit_scale.exp().item<double>();
    record.lr = lr;
    record.seconds = std::chrono::duration<double>(Clock::now() - step_start).count();
    records.push_back(record);

    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const double rate = (steps - first_step) / std::max(elapsed, 1e-9);
    const std::string line = progress_line(record, options.steps, rate, options.global_batch_size);
    if (live) std::fprintf(stderr, "\r\033[K%s", line.c_str());
    if (steps % options.log_every == 0 || steps == options.steps) {
      if (!live) std::fprintf(stderr, "%s\n", line.c_str());
      log << nlohmann::ordered_json{{"step", record.step},
                                    {"loss", record.loss},
                                    {"logit_scale", record.logit_scale},
                                    {"lr", record.lr},
                                    {"seconds", record.seconds},
                                    {"pairs_per_second", options.global_batch_size / std::max(record.seconds, 1e-9)},
                                    {"data_wait_seconds", loader.wait_seconds()}}
                 .dump()
          << "\n"
          << std::flush;
    }
    const auto skipped = loader.skipped();
    if (skipped.count > reported_skips) {
      std::fprintf(stderr, "%s%ld unreadable images skipped so far (first: %s)\n", live ? "\n" : "",
                   static_cast<long>(skipped.count), skipped.first_errors.empty() ? "?" : skipped.first_errors.front().c_str());
      reported_skips = skipped.count;
    }
    if (steps % options.checkpoint_every == 0 || steps == options.steps) {
      const auto path = checkpoint_path(options.output, steps);
      save_checkpoint(path, *model, *tokenizer, *optimizer, steps, args);
      std::fprintf(stderr, "%ssaved %s\n", live ? "\n" : "", path.c_str());
      evaluate(steps);
    }
  }
  if (live) std::fprintf(stderr, "\n");
  return records;
}

}  // namespace tokenflow::train
