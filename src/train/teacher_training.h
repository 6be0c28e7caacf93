#pragma once
// A training run of tokenflow's own CLIP teacher, as `tokenflow train-teacher` starts it: captioned
// images, the word tokenizer built from their captions, the symmetric InfoNCE loss with the learnable
// temperature, AdamW with linear warmup and a cosine decay (open_clip's schedule), a progress line,
// a JSONL log, checkpoints every N steps and zero-shot retrieval on held-out images at each of them.
//
// A checkpoint is a torch.save dict: `state_dict` (the model, OpenAI's names, so io::load_state_dict
// and train::load_teacher read it), `vocabulary` (the tokenizer), `optimizer` (AdamW's
// Optimizer.state_dict()), `steps` and `args`. `--resume` restores all of it and the loader's
// position, so the run continues as if never interrupted.
#include "train/clip_model.h"
#include "train/retrieval.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tokenflow::train {

// The images of a list file that captions.tsv describes.
struct CaptionedImages {
  std::vector<CaptionedImage> images;  // in list order; paths absolute
  int64_t uncaptioned = 0;             // listed images without a caption, left out
};

// `captions`: lines `path<TAB>caption`, paths relative to the file's folder; an image may have several
// lines. `list`: image paths one a line, relative to the list's folder (blank lines and lines starting
// with '#' skipped), as train::ImageDataset reads list files. Throws tokenflow::Error naming the file
// for a line without a tab, or a list none of whose images has a caption.
CaptionedImages read_captioned_images(const std::string& captions, const std::string& list);

// The images of a list file as read_captioned_images reads them: absolute, normalised paths (so that
// they match its CaptionedImage::path), each once, in list order. Throws tokenflow::Error naming the
// file when it cannot be read; an empty list is no error here.
std::vector<std::string> read_image_list(const std::string& list);

struct TeacherTrainingOptions {
  std::string captions;    // captions.tsv
  std::string train_list;  // the training images
  std::string val_list;    // held-out images for retrieval; empty: none
  std::string output;      // the run folder: checkpoints/, log.jsonl, config.json, train_images.txt
  std::string resume;      // a checkpoint to continue exactly (its sizes and vocabulary are used)
  ClipModelConfig model;   // vocabulary_size: the most tokens the tokenizer may have
  int64_t steps = 10000;   // the step count at which the run ends
  int64_t global_batch_size = 128;
  double lr = 5e-4;
  int64_t warmup = 500;
  double weight_decay = 0.1;  // AdamW's, on weights of two or more dimensions only (open_clip's rule)
  uint64_t seed = 0;          // weights, data order, crops and caption choice
  int64_t checkpoint_every = 1000;
  int64_t log_every = 10;
  int workers = 0;  // decoding threads; 0: the loader's default
  bool progress = true;
};

struct TeacherStepRecord {
  int64_t step = 0;
  double loss = 0;
  double logit_scale = 0;  // exp(logit_scale): the temperature's inverse, at most 100
  double lr = 0;
  double seconds = 0;
};

// open_clip's cosine_lr at 0-based step `step`: linear warmup to `lr` over `warmup` steps, then a cosine
// decay to 0 at `steps`.
double teacher_learning_rate(int64_t step, double lr, int64_t warmup, int64_t steps);

// Runs from the current step (0, or the resumed checkpoint's) to options.steps. Returns the records of
// the steps it ran, in order.
std::vector<TeacherStepRecord> run_teacher_training(const TeacherTrainingOptions& options);

}  // namespace tokenflow::train
