#pragma once
// Training checkpoints in the layout of the official vq_train.py, written as torch.save writes them:
// `model`, `ema` (when EMA is on), `optimizer`, `discriminator`, `optimizer_disc` (Adam state dicts
// as PyTorch's Optimizer.state_dict() gives them), `steps` and `args` (an argparse.Namespace). The
// official script, `torch.load`, and `tokenflow encode` read them; `tokenflow train --resume` restores
// every part, so that the run continues exactly.
#include "io/torch_save.h"
#include "train/trainer.h"

#include <string>

namespace tokenflow::train {

void save_training_checkpoint(const std::string& path, Trainer& trainer, const io::pickle::SaveValue& args);

// Restores the model, EMA, discriminator, both optimizers and the step count from `path`. Throws
// tokenflow::Error("<path>: ...") when a part is missing or does not fit the trainer's model.
void resume_training_checkpoint(const std::string& path, Trainer& trainer);

}  // namespace tokenflow::train
