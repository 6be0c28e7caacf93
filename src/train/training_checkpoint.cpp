#include "train/training_checkpoint.h"

#include <tokenflow/error.h>

#include "io/torch_archive.h"
#include "nn/weights.h"
#include "train/optimizer_state.h"

namespace tokenflow::train {

using io::pickle::SaveValue;

namespace {

// A state dict stored under `key` of the checkpoint.
io::StateDict stored_weights(io::TorchArchive& archive, const std::string& key, const std::string& path) {
  const io::pickle::Value* found = archive.root().get(key);
  if (!found || found->kind != io::pickle::Value::Kind::Dict) throw Error(path + ": no state dict `" + key + "`");
  return archive.read_tensors(*found);
}

}  // namespace

void save_training_checkpoint(const std::string& path, Trainer& trainer, const SaveValue& args) {
  SaveValue checkpoint = SaveValue::dict();
  checkpoint.set("model", SaveValue::ordered_dict(nn::collect_weights(trainer.net())));
  if (trainer.ema()) checkpoint.set("ema", SaveValue::ordered_dict(nn::collect_weights(*trainer.ema())));
  checkpoint.set("optimizer", optimizer_state_dict(trainer.optimizer()));
  checkpoint.set("discriminator", SaveValue::ordered_dict(nn::collect_weights(trainer.discriminator())));
  checkpoint.set("optimizer_disc", optimizer_state_dict(trainer.discriminator_optimizer()));
  checkpoint.set("steps", trainer.steps());
  checkpoint.set("args", args);
  io::save_torch_archive(path, checkpoint);
}

void resume_training_checkpoint(const std::string& path, Trainer& trainer) {
  io::TorchArchive archive(path);
  nn::load_weights(trainer.net(), stored_weights(archive, "model", path), path);
  if (trainer.ema()) nn::load_weights(*trainer.ema(), stored_weights(archive, "ema", path), path);
  nn::load_weights(trainer.discriminator(), stored_weights(archive, "discriminator", path), path);
  load_optimizer_state(archive, "optimizer", trainer.optimizer(), path);
  load_optimizer_state(archive, "optimizer_disc", trainer.discriminator_optimizer(), path);
  trainer.set_steps(io::checkpoint_steps(archive, path));
}

}  // namespace tokenflow::train
