// train-teacher, eval-teacher: tokenflow's own small CLIP teacher, trained on captioned images and
// measured by zero-shot caption retrieval.
#include "commands.h"

#include <tokenflow/evaluate.h>
#include <tokenflow/runtime.h>
#include <tokenflow/train.h>

#include <cstdio>
#include <memory>

namespace tokenflow::cli {

namespace {

struct TeacherTrainOptions {
  train::TeacherTrainingOptions run;
  int threads = 0;
  bool no_progress = false;
};

int run_train_teacher(TeacherTrainOptions& o) {
  set_num_threads(o.threads);
  o.run.progress = !o.no_progress;
  train::run_teacher_training(o.run);
  return 0;
}

struct TeacherEvalOptions {
  std::string model;
  std::string captions;
  std::string list;
  int64_t batch_size = 64;
  int threads = 0;
};

int run_eval_teacher(const TeacherEvalOptions& o) {
  set_num_threads(o.threads);
  const auto result = eval::evaluate_teacher(o.model, o.captions, o.list, o.batch_size);
  const auto& accuracy = result.accuracy;
  std::printf("%s: %ld held-out images (%ld unreadable, %ld without a caption), %ld distinct captions\n",
              o.model.c_str(), static_cast<long>(accuracy.images), static_cast<long>(accuracy.unreadable.size()),
              static_cast<long>(result.uncaptioned), static_cast<long>(accuracy.captions));
  std::printf("image->caption top-1 %.1f%% top-5 %.1f%%\n", 100 * accuracy.image_to_caption_top1,
              100 * accuracy.image_to_caption_top5);
  std::printf("caption->image top-1 %.1f%% top-5 %.1f%%\n", 100 * accuracy.caption_to_image_top1,
              100 * accuracy.caption_to_image_top5);
  return 0;
}

CLI::App* add_train_teacher(CLI::App& app, TeacherTrainOptions& o) {
  auto& r = o.run;
  auto& m = r.model;
  m.vocabulary_size = 8192;
  CLI::App* c =
      app.add_subcommand("train-teacher", "train a small CLIP (the semantic teacher) on captioned images")->group("Training");
  const char* data = "Data and run";
  const char* model = "Networks";
  const char* optimizer = "Optimizer";
  c->add_option("--captions", r.captions, "captions.tsv: path<TAB>caption a line, paths relative to its folder")
      ->required()
      ->group(data);
  c->add_option("--train-list", r.train_list, "training images, one path a line (relative to the list's folder)")
      ->required()
      ->group(data);
  c->add_option("--val-list", r.val_list, "held-out images: zero-shot retrieval at every checkpoint")->group(data);
  add_output_option(c, r.output, "run folder: checkpoints/, log.jsonl, config.json")->required();
  c->add_option("--resume", r.resume, "continue this checkpoint exactly (its sizes and vocabulary win)")->group(data);
  add_training_loop_options(c, r.steps, r.workers, r.log_every, data);
  c->add_option("--global-batch-size", r.global_batch_size, "image-caption pairs per step")->capture_default_str()->group(data);
  c->add_option("--global-seed", r.seed, "seed of the weights, data order, crops and caption choice")
      ->capture_default_str()
      ->group(data);
  c->add_option("--image-size", m.image_size, "training resolution")->capture_default_str()->group(model);
  c->add_option("--patch", m.patch, "ViT patch size")->capture_default_str()->group(model);
  c->add_option("--width", m.width, "image tower width (a multiple of 64: width/64 heads)")->capture_default_str()->group(model);
  c->add_option("--layers", m.layers, "image tower depth")->capture_default_str()->group(model);
  c->add_option("--text-width", m.text_width, "text tower width (a multiple of 64)")->capture_default_str()->group(model);
  c->add_option("--text-layers", m.text_layers, "text tower depth")->capture_default_str()->group(model);
  c->add_option("--context", m.context, "tokens per caption, <start> and <end> included")->capture_default_str()->group(model);
  c->add_option("--embed-dim", m.embed_dim, "joint embedding width (the teacher's feature width)")
      ->capture_default_str()
      ->group(model);
  c->add_option("--vocab-size", m.vocabulary_size, "most tokens of the word vocabulary")->capture_default_str()->group(model);
  c->add_option("--lr", r.lr, "AdamW peak learning rate")->capture_default_str()->group(optimizer);
  c->add_option("--warmup", r.warmup, "linear warmup steps before the cosine decay")->capture_default_str()->group(optimizer);
  c->add_option("--weight-decay", r.weight_decay, "AdamW weight decay (matrices only)")->capture_default_str()->group(optimizer);
  c->add_option("--ckpt-every", r.checkpoint_every, "write a checkpoint (and evaluate) every N steps")
      ->capture_default_str()
      ->group(kOutputGroup);
  add_no_progress_flag(c, o.no_progress);
  add_threads_option(c, o.threads);
  return c;
}

CLI::App* add_eval_teacher(CLI::App& app, TeacherEvalOptions& o) {
  CLI::App* c =
      app.add_subcommand("eval-teacher", "zero-shot caption retrieval of a train-teacher checkpoint")->group("Evaluation");
  c->add_option("-m,--model", o.model, "checkpoint written by train-teacher")->required()->group(kModelGroup);
  c->add_option("--captions", o.captions, "captions.tsv: path<TAB>caption a line")->required();
  c->add_option("--list", o.list, "held-out images, one path a line")->required();
  c->add_option("--batch-size", o.batch_size, "images or captions embedded at a time")->capture_default_str()->group(kComputeGroup);
  add_threads_option(c, o.threads);
  return c;
}

}  // namespace

std::vector<Command> add_teacher_commands(CLI::App& app) {
  auto train = std::make_shared<TeacherTrainOptions>();
  auto evaluate = std::make_shared<TeacherEvalOptions>();
  return {{add_train_teacher(app, *train), [train](const std::vector<std::string>&) { return run_train_teacher(*train); }},
          {add_eval_teacher(app, *evaluate), [evaluate](const std::vector<std::string>&) { return run_eval_teacher(*evaluate); }}};
}

}  // namespace tokenflow::cli
