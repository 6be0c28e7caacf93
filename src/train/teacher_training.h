#pragma once
// A training run of tokenflow's own CLIP teacher, as `tokenflow train-teacher` starts it: captioned
// images, the word tokenizer built from their captions, the symmetric InfoNCE loss with the learnable
// temperature, AdamW with linear warmup and a cosine decay (open_clip's schedule), a progress line,
// a JSONL log, checkpoints every N steps and zero-shot retrieval on held-out images at each of them.
//
// A checkpoint is a torch.save dict: `state_dict` (the model, OpenAI's names, so io::load_state_dict
// and model::load_teacher read it), `vocabulary` (the tokenizer), `optimizer` (AdamW's
// Optimizer.state_dict()), `steps` and `args`. `--resume` restores all of it and the loader's
// position, so the run continues as if never interrupted.
#include <tokenflow/train.h>

#include "model/teacher/clip_model.h"
#include "eval/image_lists.h"
#include "eval/retrieval.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tokenflow::train {

// open_clip's cosine_lr at 0-based step `step`: linear warmup to `lr` over `warmup` steps, then a cosine
// decay to 0 at `steps`.
double teacher_learning_rate(int64_t step, double lr, int64_t warmup, int64_t steps);

}  // namespace tokenflow::train
