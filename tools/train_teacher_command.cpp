#include "train_teacher_command.h"

#include <tokenflow/tokenflow.h>

#include "train/teacher_training.h"

#include <algorithm>
#include <cstdio>

namespace tokenflow::cli {

struct TeacherCommands::Options {
  train::TeacherTrainingOptions run;
  int threads = 0;
  bool no_progress = false;

  std::string model;  // eval-teacher
  std::string captions;
  std::string list;
  int64_t batch_size = 64;
};

TeacherCommands::TeacherCommands(CLI::App& app) : options_(std::make_unique<Options>()) {
  auto& o = *options_;
  auto& r = o.run;
  auto& m = r.model;
  m.vocabulary_size = 8192;
  train_ = app.add_subcommand("train-teacher", "train a small CLIP (the semantic teacher) on captioned images");
  auto* c = train_;
  c->add_option("--captions", r.captions, "captions.tsv: path<TAB>caption a line, paths relative to its folder")
      ->required();
  c->add_option("--train-list", r.train_list, "training images, one path a line (relative to the list's folder)")
      ->required();
  c->add_option("--val-list", r.val_list, "held-out images: zero-shot retrieval at every checkpoint");
  c->add_option("-o,--output", r.output, "run folder: checkpoints/, log.jsonl, config.json")->required();
  c->add_option("--resume", r.resume, "continue this checkpoint exactly (its sizes and vocabulary win)");
  c->add_option("--image-size", m.image_size, "training resolution")->capture_default_str();
  c->add_option("--patch", m.patch, "ViT patch size")->capture_default_str();
  c->add_option("--width", m.width, "image tower width (a multiple of 64: width/64 heads)")->capture_default_str();
  c->add_option("--layers", m.layers, "image tower depth")->capture_default_str();
  c->add_option("--text-width", m.text_width, "text tower width (a multiple of 64)")->capture_default_str();
  c->add_option("--text-layers", m.text_layers, "text tower depth")->capture_default_str();
  c->add_option("--context", m.context, "tokens per caption, <start> and <end> included")->capture_default_str();
  c->add_option("--embed-dim", m.embed_dim, "joint embedding width (the teacher's feature width)")->capture_default_str();
  c->add_option("--vocab-size", m.vocabulary_size, "most tokens of the word vocabulary")->capture_default_str();
  c->add_option("--steps", r.steps, "train until this step")->capture_default_str();
  c->add_option("--global-batch-size", r.global_batch_size, "image-caption pairs per step")->capture_default_str();
  c->add_option("--lr", r.lr, "AdamW peak learning rate")->capture_default_str();
  c->add_option("--warmup", r.warmup, "linear warmup steps before the cosine decay")->capture_default_str();
  c->add_option("--weight-decay", r.weight_decay, "AdamW weight decay (matrices only)")->capture_default_str();
  c->add_option("--global-seed", r.seed, "seed of the weights, data order, crops and caption choice")
      ->capture_default_str();
  c->add_option("--ckpt-every", r.checkpoint_every, "write a checkpoint (and evaluate) every N steps")
      ->capture_default_str();
  c->add_option("--log-every", r.log_every, "log a line every N steps")->capture_default_str();
  c->add_option("--num-workers", r.workers, "image decoding threads (0: cores - 1)");
  c->add_option("-t,--threads", o.threads, "CPU threads (0: all cores)");
  c->add_flag("--no-progress", o.no_progress, "no live progress line (log lines only)");

  evaluate_ = app.add_subcommand("eval-teacher", "zero-shot caption retrieval of a train-teacher checkpoint");
  auto* e = evaluate_;
  e->add_option("-m,--model", o.model, "checkpoint written by train-teacher")->required();
  e->add_option("--captions", o.captions, "captions.tsv: path<TAB>caption a line")->required();
  e->add_option("--list", o.list, "held-out images, one path a line")->required();
  e->add_option("--batch-size", o.batch_size, "images or captions embedded at a time")->capture_default_str();
  e->add_option("-t,--threads", o.threads, "CPU threads (0: all cores)");
}

TeacherCommands::~TeacherCommands() = default;

bool TeacherCommands::parsed() const { return train_->parsed() || evaluate_->parsed(); }

int TeacherCommands::run() {
  auto& o = *options_;
  set_num_threads(o.threads);
  if (train_->parsed()) {
    o.run.progress = !o.no_progress;
    train::run_teacher_training(o.run);
    return 0;
  }
  const auto images = train::read_captioned_images(o.captions, o.list);
  auto trained = train::load_clip(o.model);
  const auto accuracy = train::evaluate_retrieval(*trained.model, trained.tokenizer, images.images, o.batch_size);
  std::printf("%s: %ld held-out images (%ld unreadable, %ld without a caption), %ld distinct captions\n",
              o.model.c_str(), static_cast<long>(accuracy.images), static_cast<long>(accuracy.unreadable.size()),
              static_cast<long>(images.uncaptioned), static_cast<long>(accuracy.captions));
  std::printf("image->caption top-1 %.1f%% top-5 %.1f%%\n", 100 * accuracy.image_to_caption_top1,
              100 * accuracy.image_to_caption_top5);
  std::printf("caption->image top-1 %.1f%% top-5 %.1f%%\n", 100 * accuracy.caption_to_image_top1,
              100 * accuracy.caption_to_image_top5);
  return 0;
}

}  // namespace tokenflow::cli
