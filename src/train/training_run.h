#pragma once
// A whole training run, as `tokenflow train` starts it: the tokenizer (new from a teacher, or from a
// checkpoint), the loss networks, the data, the loop with its progress line and JSONL log, and
// checkpoints in the official layout every N steps. With several processes (c10d), every rank runs
// this and only rank 0 writes.
#include <tokenflow/train.h>

#include "train/distributed.h"
#include "train/new_tokenizer.h"
#include "train/run_folder.h"
#include "train/trainer.h"

#include <string>
#include <vector>

namespace tokenflow::train {

// Runs from the current step (0, or the resumed checkpoint's) to options.steps. Returns the records
// of the steps it ran, in order.
std::vector<StepRecord> run_training(const TrainingRunOptions& options, DataParallelGroup& group);

}  // namespace tokenflow::train
