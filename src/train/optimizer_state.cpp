#include "train/optimizer_state.h"

#include <tokenflow/error.h>

#include "io/shape_string.h"
#include "nn/weights.h"

#include <type_traits>

namespace tokenflow::train {

namespace {

using io::pickle::SaveValue;
using io::pickle::Value;

template <typename Optimizer>
struct OptimizerTypes;
template <>
struct OptimizerTypes<torch::optim::Adam> {
  using State = torch::optim::AdamParamState;
  using Options = torch::optim::AdamOptions;
};
template <>
struct OptimizerTypes<torch::optim::AdamW> {
  using State = torch::optim::AdamWParamState;
  using Options = torch::optim::AdamWOptions;
};

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

// The parameters in group order, as Optimizer.state_dict() numbers them.
template <typename Optimizer>
std::vector<torch::Tensor> numbered_parameters(Optimizer& optimizer) {
  std::vector<torch::Tensor> parameters;
  for (auto& group : optimizer.param_groups()) {
    parameters.insert(parameters.end(), group.params().begin(), group.params().end());
  }
  return parameters;
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
    throw Error(path + ": optimizer state `" + key + "` has shape " + io::shape_string(tensor.sizes()) +
                " for a parameter of shape " + io::shape_string(parameter.sizes()));
  }
  return tensor;
}

}  // namespace

template <typename Optimizer>
SaveValue optimizer_state_dict(Optimizer& optimizer) {
  using State = typename OptimizerTypes<Optimizer>::State;
  using Options = typename OptimizerTypes<Optimizer>::Options;
  const auto parameters = numbered_parameters(optimizer);
  SaveValue state = SaveValue::dict();
  for (size_t i = 0; i < parameters.size(); ++i) {
    const auto found = optimizer.state().find(state_key(optimizer, parameters[i]));
    if (found == optimizer.state().end()) continue;  // no step taken yet
    const auto& moments = static_cast<const State&>(*found->second);
    state.set(static_cast<int64_t>(i), SaveValue::dict()
                                           .set("step", torch::tensor(static_cast<float>(moments.step())))
                                           .set("exp_avg", moments.exp_avg())
                                           .set("exp_avg_sq", moments.exp_avg_sq()));
  }
  SaveValue groups = SaveValue::list();
  int64_t next = 0;
  for (auto& group : optimizer.param_groups()) {
    const auto& options = static_cast<const Options&>(group.options());
    SaveValue indices = SaveValue::list();
    for (size_t i = 0; i < group.params().size(); ++i) indices.append(next++);
    groups.append(SaveValue::dict()
                      .set("lr", options.lr())
                      .set("betas", SaveValue::tuple({std::get<0>(options.betas()), std::get<1>(options.betas())}))
                      .set("eps", options.eps())
                      .set("weight_decay", options.weight_decay())
                      .set("amsgrad", options.amsgrad())
                      .set("maximize", false)
                      .set("foreach", nullptr)
                      .set("capturable", false)
                      .set("differentiable", false)
                      .set("fused", nullptr)
                      .set("params", std::move(indices)));
  }
  return SaveValue::dict().set("state", std::move(state)).set("param_groups", std::move(groups));
}

template <typename Optimizer>
void load_optimizer_state(io::TorchArchive& archive, const std::string& key, Optimizer& optimizer,
                          const std::string& path) {
  using State = typename OptimizerTypes<Optimizer>::State;
  const Value& saved = entry(archive.root(), key, "the checkpoint", path);
  const auto parameters = numbered_parameters(optimizer);
  size_t saved_count = 0;
  for (const Value* group : entry(saved, "param_groups", "`" + key + "`", path).items) {
    saved_count += entry(*group, "params", "a parameter group", path).items.size();
  }
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
    auto moments = std::make_unique<State>();
    moments->step(step_count(archive, entry(*state, "step", "an optimizer state", path), path));
    moments->exp_avg(state_tensor(archive, *state, "exp_avg", parameter, path));
    moments->exp_avg_sq(state_tensor(archive, *state, "exp_avg_sq", parameter, path));
    optimizer.state()[state_key(optimizer, parameter)] = std::move(moments);
  }
}

template SaveValue optimizer_state_dict(torch::optim::Adam&);
template SaveValue optimizer_state_dict(torch::optim::AdamW&);
template void load_optimizer_state(io::TorchArchive&, const std::string&, torch::optim::Adam&, const std::string&);
template void load_optimizer_state(io::TorchArchive&, const std::string&, torch::optim::AdamW&, const std::string&);

}  // namespace tokenflow::train
