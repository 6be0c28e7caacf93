#pragma once
// A whole training run, as `tokenflow train` starts it: the tokenizer (new from a teacher, or from a
// checkpoint), the loss networks, the data, the loop with its progress line and JSONL log, and
// checkpoints in the official layout every N steps. With several processes (c10d), every rank runs
// this and only rank 0 writes.
#include "train/distributed.h"
#include "train/new_tokenizer.h"
#include "train/run_folder.h"
#include "train/trainer.h"

#include <string>
#include <vector>

namespace tokenflow::train {

struct TrainingRunOptions {
  std::vector<std::string> data;        // folders, list files, tar shards
  std::string output;                   // the run folder: checkpoints/, log.jsonl, config.json
  std::string teacher;                  // CLIP (visual.*) or SigLIP (vision_model.*) weights
  std::string init;                     // a tokenizer checkpoint to start from; empty: a new one
  std::string resume;                   // a training checkpoint to continue exactly
  std::vector<std::string> perceptual;  // LPIPS weight files; empty: no perceptual term
  NewTokenizerOptions new_tokenizer;
  int discriminator_channels = 64, discriminator_layers = 3;
  TrainSettings settings;
  int64_t global_batch_size = 8;
  int64_t steps = 1000;  // the step count at which the run ends
  int workers = 0;       // decoding threads; 0: the loader's default
  int64_t log_every = 10;
  int64_t checkpoint_every = 500;
  bool progress = true;  // the live progress line on stderr (rank 0)
  std::string device = "cpu";  // or "cuda[:N]" with a CUDA build of LibTorch (then NCCL between ranks)
};

// The step's numbers averaged over the ranks, as the log records them.
struct StepRecord {
  int64_t step = 0;
  double total = 0, reconstruction = 0, perceptual = 0, vq = 0, commit = 0, entropy = 0, semantic = 0,
         adversarial = 0, discriminator = 0, codebook_usage = 0, grad_norm = 0;
  double seconds = 0;  // this step's wall time
};

// Runs from the current step (0, or the resumed checkpoint's) to options.steps. Returns the records
// of the steps it ran, in order.
std::vector<StepRecord> run_training(const TrainingRunOptions& options, DataParallelGroup& group);

}  // namespace tokenflow::train
