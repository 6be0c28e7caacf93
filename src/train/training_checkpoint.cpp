#include "train/training_checkpoint.h"

#include <tokenflow/error.h>

#include "io/checkpoint.h"
#include "io/torch_archive.h"
#include "nn/weights.h"

#include <type_traits>

namespace tokenflow::train {

namespace {

using io::pickle::SaveValue;
using io::pickle::Value;

// LibTorch keys its optimizer state by the parameter's TensorImpl: as a string in 1.x, as the
// pointer itself in later versions.
template <typename Optimizer>
auto state_key(Optimizer& optimizer, const torch::Tensor& parameter) {
  using Key = typename std::decay_t<decltype(optimizer.state())>::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    return c10::guts::to_string(parameter.unsafeGetTensorImpl());
  } else {
    return static_cast<Key>(parameter.unsafeGetTensorImpl());
  }
}

// torch.optim.Adam.state_dict(): per-parameter state keyed by the parameter's position, and one
// parameter group.
SaveValue adam_state_dict(torch::optim::Adam& optimizer, const std::vector<torch::Tensor>& parameters) {
  SaveValue state = SaveValue::dict();
  for (size_t i = 0; i < parameters.size(); ++i) {
    auto found = optimizer.state().find(state_key(optimizer, parameters[i]));
    if (found == optimizer.state().end()) continue;  // no step taken yet
    const auto& adam = static_cast<const torch::optim::AdamParamState&>(*found->second);
    SaveValue entry = SaveValue::dict();
    entry.set("step", torch::tensor(static_cast<float>(adam.step())));
    entry.set("exp_avg", adam.exp_avg());
    entry.set("exp_avg_sq", adam.exp_avg_sq());
    state.set(static_cast<int64_t>(i), std::move(entry));
  }
  const auto& options = static_cast<const torch::optim::AdamOptions&>(optimizer.param_groups().at(0).options());
  SaveValue indices = SaveValue::list();
  for (size_t i = 0; i < parameters.size(); ++i) indices.append(static_cast<int64_t>(i));
  SaveValue group = SaveValue::dict();
  group.set("lr", options.lr())
      .set("betas", SaveValue::tuple({std::get<0>(options.betas()), std::get<1>(options.betas())}))
      .set("eps", options.eps())
      .set("weight_decay", options.weight_decay())
      .set("amsgrad", options.amsgrad())
      .set("maximize", false)
      .set("foreach", nullptr)
      .set("capturable", false)
      .set("differentiable", false)
      .set("fused", nullptr)
      .set("params", std::move(indices));
  return SaveValue::dict().set("state", std::move(state)).set("param_groups", SaveValue::list({std::move(group)}));
}

const Value& entry(const Value& dict, const std::string& key, const std::string& where, const std::string& path) {
  const Value* found = dict.kind == Value::Kind::Dict ? dict.get(key) : nullptr;
  if (!found) throw Error(path + ": " + where + " has no entry `" + key + "`");
  return *found;
}

int64_t step_count(io::TorchArchive& archive, const Value& step, const std::string& path) {
  if (step.kind == Value::Kind::Int) return step.integer;
  if (step.kind == Value::Kind::Float) return static_cast<int64_t>(step.real);
  if (step.kind == Value::Kind::Tensor) return static_cast<int64_t>(archive.read_tensor(*step.tensor).item<double>());
  throw Error(path + ": an optimizer step count is " + step.describe());
}

torch::Tensor state_tensor(io::TorchArchive& archive, const Value& dict, const std::string& key,
                           const torch::Tensor& parameter, const std::string& path) {
  const Value& value = entry(dict, key, "an optimizer state", path);
  if (value.kind != Value::Kind::Tensor) throw Error(path + ": optimizer state `" + key + "` is not a tensor");
  auto tensor = archive.read_tensor(*value.tensor).to(parameter.device(), parameter.scalar_type());
  if (tensor.sizes() != parameter.sizes()) {
    throw Error(path + ": optimizer state `" + key + "` has shape " + nn::shape_string(tensor.sizes()) +
                " for a parameter of shape " + nn::shape_string(parameter.sizes()));
  }
  return tensor;
}

void load_adam_state(io::TorchArchive& archive, const std::string& key, torch::optim::Adam& optimizer,
                     const std::vector<torch::Tensor>& parameters, const std::string& path) {
  const Value& saved = entry(archive.root(), key, "the checkpoint", path);
  const Value& groups = entry(saved, "param_groups", "`" + key + "`", path);
  size_t saved_count = 0;
  for (const Value* group : groups.items) saved_count += entry(*group, "params", "a parameter group", path).items.size();
  if (saved_count != parameters.size()) {
    throw Error(path + ": `" + key + "` holds " + std::to_string(saved_count) + " parameters, the model trains " +
                std::to_string(parameters.size()));
  }
  optimizer.state().clear();
  for (const auto& [index, state] : entry(saved, "state", "`" + key + "`", path).entries) {
    if (index->kind != Value::Kind::Int || index->integer < 0 || index->integer >= static_cast<int64_t>(parameters.size())) {
      throw Error(path + ": `" + key + "` has state for a parameter that does not exist");
    }
    const auto& parameter = parameters[static_cast<size_t>(index->integer)];
    auto adam = std::make_unique<torch::optim::AdamParamState>();
    adam->step(step_count(archive, entry(*state, "step", "an optimizer state", path), path));
    adam->exp_avg(state_tensor(archive, *state, "exp_avg", parameter, path));
    adam->exp_avg_sq(state_tensor(archive, *state, "exp_avg_sq", parameter, path));
    optimizer.state()[state_key(optimizer, parameter)] = std::move(adam);
  }
}

}  // namespace

void save_training_checkpoint(const std::string& path, Trainer& trainer, const SaveValue& args) {
  SaveValue checkpoint = SaveValue::dict();
  checkpoint.set("model", SaveValue::ordered_dict(nn::collect_weights(trainer.net())));
  if (trainer.ema()) checkpoint.set("ema", SaveValue::ordered_dict(nn::collect_weights(*trainer.ema())));
  checkpoint.set("optimizer", adam_state_dict(trainer.optimizer(), trainer.trained_parameters()));
  checkpoint.set("discriminator", SaveValue::ordered_dict(nn::collect_weights(trainer.discriminator())));
  checkpoint.set("optimizer_disc",
                 adam_state_dict(trainer.discriminator_optimizer(), trainer.discriminator().parameters()));
  checkpoint.set("steps", trainer.steps());
  checkpoint.set("args", args);
  io::save_torch_archive(path, checkpoint);
}

void resume_training_checkpoint(const std::string& path, Trainer& trainer) {
  nn::load_weights(trainer.net(), io::load_state_dict(path, "model"), path);
  if (trainer.ema()) nn::load_weights(*trainer.ema(), io::load_state_dict(path, "ema"), path);
  nn::load_weights(trainer.discriminator(), io::load_state_dict(path, "discriminator"), path);
  io::TorchArchive archive(path);
  load_adam_state(archive, "optimizer", trainer.optimizer(), trainer.trained_parameters(), path);
  load_adam_state(archive, "optimizer_disc", trainer.discriminator_optimizer(), trainer.discriminator().parameters(),
                  path);
  const Value& steps = entry(archive.root(), "steps", "the checkpoint", path);
  if (steps.kind != Value::Kind::Int) throw Error(path + ": `steps` is " + steps.describe() + ", not an int");
  trainer.set_steps(steps.integer);
}

}  // namespace tokenflow::train
