#pragma once
// Training, as `tokenflow train` and `tokenflow train-teacher` run it: a TokenFlow tokenizer with the
// official vq_train.py recipe (options named as its flags), and tokenflow's own small CLIP teacher.
// Both write a run folder (checkpoints/, log.jsonl, config.json), resume exactly from a checkpoint,
// and report progress on stderr.
#include <cstdint>
#include <string>
#include <vector>

namespace tokenflow::model {

// The sizes of tokenflow's own CLIP teacher.
struct ClipModelConfig {
  int image_size = 128;
  int patch = 16;
  int width = 256;  // image tower; heads = width / 64, OpenAI's rule, which model::load_teacher follows
  int layers = 6;
  int text_width = 256;  // text tower; heads = text_width / 64
  int text_layers = 4;
  int context = 32;  // tokens per caption, <start> and <end> included
  int embed_dim = 256;
  int64_t vocabulary_size = 0;  // the tokenizer's
};

}  // namespace tokenflow::model

namespace tokenflow::train {

// A new tokenizer, shaped as the official TokenFlow class builds it from a teacher.
struct NewTokenizerOptions {
  int image_size = 0;           // 0: the teacher's native resolution (CLIP: its position table)
  int codebook_size = 32768;    // --codebook-size
  int semantic_code_dim = 32;   // --semantic-code-dim
  int pixel_code_dim = 8;       // --codebook-embed-dim
  int pixel_channels = 128;     // the VQGAN's ch
  std::vector<int> channel_multipliers = {1, 1, 2, 2, 4};
  int res_blocks = 2;
  int z_channels = 256;
  bool enhanced_decoder = false;  // twice the channels and res blocks in the decoder (official: ch 256, 4)
  int semantic_decoder_layers = 3;
  int semantic_decoder_heads = 12;  // the official VisionTransformer default
  int teacher_heads = 0;            // 0: the teacher family's rule (see train/teacher.h)
  // w in argmin(w * d_sem + d_pix): 1 is TokenFlow's shared mapping, 0 the pixel-only baseline
  // (nn/quantizer.h). Stored in the checkpoint only when it is not 1.
  double semantic_distance_weight = 1.0;
};

// The weights and switches of the official VQLoss and quantizer (vq_loss.py, vq_train.py flags).
struct LossSettings {
  double commit_beta = 0.25;           // --commit-loss-beta
  double entropy_ratio = 0.0;          // --entropy-loss-ratio
  std::string reconstruction = "l2";   // --reconstruction-loss: l1 | l2
  double reconstruction_weight = 1.0;  // --reconstruction-weight
  double perceptual_weight = 1.0;      // --perceptual-weight (LPIPS)
  double disc_weight = 0.5;            // --disc-weight
  int64_t disc_start = 20000;          // --disc-start: adversarial terms are weighted 0 before this step
  bool disc_adaptive_weight = false;   // VQLoss(disc_adaptive_weight=...)
  std::string disc_loss = "hinge";     // --disc-loss: hinge | vanilla | non-saturating
  std::string gen_loss = "hinge";      // --gen-loss: hinge | non-saturating
  double scale_drop_probability = 0.1; // TokenFlow.random_scale_drop_ratio

  // adopt_weight: the discriminator weight at `global_step` (the official loop passes steps + 1).
  double disc_weight_at(int64_t global_step) const { return global_step < disc_start ? 0.0 : disc_weight; }
  // Whether the run trains adversarially at all. With disc_weight 0 the discriminator is never run
  // (the official loop would still run and update it on a loss of zero), which saves its cost.
  bool adversarial() const { return disc_weight != 0.0; }
};

struct OptimizerSettings {
  double lr = 1e-4;
  double beta1 = 0.9, beta2 = 0.95;
  double max_grad_norm = 1.0;  // 0 switches clipping off, as in the official script
  bool ema = false;
  double ema_decay = 0.9999;
  bool finetune_decoder = false;  // only decoder.* is trained (the official decoder-only stage)
};

struct TrainSettings {
  LossSettings loss;
  OptimizerSettings optimizer;
  uint64_t seed = 0;  // drives the random scale drop: step s uses a generator seeded from (seed, s)
};

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

// Runs the training in this process, as one rank of the data-parallel group that torchrun's
// environment variables describe (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), or alone
// when WORLD_SIZE is unset or 1. A CUDA device without an index becomes cuda:LOCAL_RANK. `threads`:
// LibTorch's intra-op threads, 0 for the cores divided among the ranks on this machine. Runs from the
// current step (0, or the resumed checkpoint's) to options.steps and returns the records of the steps
// it ran, in order. Throws tokenflow::Error naming the file or option at fault.
std::vector<StepRecord> train_tokenizer(TrainingRunOptions options, int threads = 0);

// tokenflow's own CLIP teacher on captioned images.
struct TeacherTrainingOptions {
  std::string captions;    // captions.tsv
  std::string train_list;  // the training images
  std::string val_list;    // held-out images for retrieval; empty: none
  std::string output;      // the run folder: checkpoints/, log.jsonl, config.json, train_images.txt
  std::string resume;      // a checkpoint to continue exactly (its sizes and vocabulary are used)
  model::ClipModelConfig model;  // vocabulary_size: the most tokens the tokenizer may have
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

// Runs from the current step (0, or the resumed checkpoint's) to options.steps. Returns the records of
// the steps it ran, in order.
std::vector<TeacherStepRecord> run_teacher_training(const TeacherTrainingOptions& options);

}  // namespace tokenflow::train
