// The public API (include/tokenflow/understanding.h) over LlavaQwenModel.
#include <tokenflow/understanding.h>
#include <tokenflow/runtime.h>

#include "io/image.h"
#include "io/safetensors.h"
#include "model/tokenizer/model_from_state.h"
#include "model/tokenizer/vision_tower_file.h"
#include "model/understanding/conversation.h"
#include "model/understanding/image_input.h"
#include "model/understanding/image_prompt.h"
#include "model/understanding/llava_qwen_model.h"
#include "model/understanding/prompt_cache.h"
#include "model/understanding/token_choice.h"
#include "text/byte_level_bpe.h"
#include "text/utf8.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

namespace tokenflow {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Where save_pretrained puts the tower's TokenFlow module (VQTower keeps it as a submodule).
constexpr const char* kTowerPrefix = "model.vision_tower.vision_tower.";

// The tower's tensors in the checkpoint, under their TokenFlow names; empty when it has none.
io::StateDict tower_in_checkpoint(const io::StateDict& weights) {
  io::StateDict tower;
  const std::string prefix = kTowerPrefix;
  for (const auto& name : weights.names) {
    if (name.compare(0, prefix.size(), prefix) == 0) tower.insert(name.substr(prefix.size()), weights.tensors.at(name));
  }
  return tower;
}

// The tower as the official loader ends with it: from_pretrained overwrites what VQTower read from
// mm_vision_tower with the checkpoint's copy, so that copy wins; a file given by the caller wins over
// both. It runs in float32, as the parity needs.
Model load_tower(const std::string& folder, const understanding::LlavaQwenConfig& config, const io::StateDict& weights,
                 const UnderstandingLoadOptions& options) {
  LoadOptions tower_options;
  tower_options.precision = Precision::Fp32;
  tower_options.device = options.device;
  if (!options.tokenizer.empty()) return Model::load(options.tokenizer, tower_options);
  const auto in_checkpoint = tower_in_checkpoint(weights);
  if (!in_checkpoint.names.empty()) {
    return model::ModelFromState::build(in_checkpoint, folder + " (" + kTowerPrefix + "*)", tower_options);
  }
  return Model::load(model::vision_tower_file(folder, config.vision_tower), tower_options);
}

// The checkpoint's precision, or the one asked for.
torch::ScalarType dense_dtype(Precision precision, const io::StateDict& weights) {
  switch (precision) {
    case Precision::Fp32: return torch::kFloat32;
    case Precision::Bf16: return torch::kBFloat16;
    case Precision::Mixed: throw Error("precision mixed is a tokenizer mode; the understanding model runs fp32 or bf16");
    case Precision::Auto: break;
  }
  return nn::stored_in_half(weights, "lm_head.weight") ? torch::kBFloat16 : torch::kFloat32;
}

constexpr int64_t kReserveBytes = int64_t{2} << 30;

double gib(int64_t bytes) { return static_cast<double>(bytes) / (1 << 30); }

std::string one_decimal(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

// The storage Auto resolves to, and why when it is Int8.
std::pair<WeightStorage, std::string> resolve_storage(WeightStorage asked, const io::StateDict& weights, torch::ScalarType dtype,
                                                      const std::string& device) {
  if (asked != WeightStorage::Auto) return {asked, ""};
  if (device.rfind("cpu", 0) != 0) return {WeightStorage::Dense, ""};
  int64_t elements = 0;
  const std::string tower = kTowerPrefix;
  for (const auto& name : weights.names) {
    if (name.compare(0, tower.size(), tower) != 0) elements += weights.tensors.at(name).numel();
  }
  const auto bytes = elements * static_cast<int64_t>(c10::elementSize(dtype));
  const auto available = available_memory();
  if (available == 0 || bytes + kReserveBytes <= available) return {WeightStorage::Dense, ""};
  return {WeightStorage::Int8, "int8 weights: the " + std::string(dtype == torch::kBFloat16 ? "bf16" : "fp32") + " ones take " +
                                   one_decimal(gib(bytes)) + " GiB and " + one_decimal(gib(available)) + " GiB are available"};
}

// The activations' dtype: the dense one, but float32 for int8 weights where bfloat16 is not native.
torch::ScalarType activation_dtype(Precision precision, torch::ScalarType dense, WeightStorage storage, const std::string& device) {
  if (storage == WeightStorage::Int8 && precision == Precision::Auto && !native_bf16(device)) return torch::kFloat32;
  return dense;
}

// Python's str.strip(), as cli.py applies it to the decoded answer.
std::string stripped(const std::string& text) { return std::string(text::strip_right(text::strip_left(text))); }

}  // namespace

struct Understanding::Impl {
  Model tower;
  text::ByteLevelBpe text;
  std::unique_ptr<understanding::LlavaQwenModel> model;
  understanding::GenerationDefaults defaults;
  std::vector<int64_t> end_ids;
  UnderstandingConfig config;

  Impl(Model tower, text::ByteLevelBpe text) : tower(std::move(tower)), text(std::move(text)) {}

  understanding::TokenChoice choice(const AnswerOptions& options) const {
    if (options.temperature < 0) throw Error("temperature must be 0 (greedy) or more");
    if (options.top_k && *options.top_k < 0) throw Error("top-k must be 0 (off) or more");
    if (options.top_p && (*options.top_p <= 0 || *options.top_p > 1)) throw Error("top-p must be in (0, 1]");
    if (options.repetition_penalty && *options.repetition_penalty <= 0) throw Error("the repetition penalty must be positive");
    return {options.temperature, options.top_k.value_or(defaults.top_k), options.top_p.value_or(defaults.top_p),
            options.repetition_penalty.value_or(defaults.repetition_penalty)};
  }

  bool is_end(int64_t id) const { return std::find(end_ids.begin(), end_ids.end(), id) != end_ids.end(); }
};

struct Chat::Impl {
  std::shared_ptr<const Understanding::Impl> model;
  understanding::Conversation conversation;
  understanding::PromptCache cache;
  bool image_asked = false;
  double image_seconds = 0;

  Impl(std::shared_ptr<const Understanding::Impl> model, understanding::Conversation conversation, torch::Tensor images,
       double image_seconds)
      : model(model), conversation(std::move(conversation)), cache(*model->model, std::move(images)), image_seconds(image_seconds) {}
};

Understanding Understanding::load(const std::string& folder, const UnderstandingLoadOptions& options) {
  if (!std::filesystem::is_directory(folder)) throw Error(folder + ": not a model folder");
  const auto config_path = folder + "/config.json";
  if (!std::filesystem::is_regular_file(config_path)) throw Error(folder + ": no config.json (not a Hugging Face model folder)");
  const auto config = understanding::LlavaQwenConfig::read(config_path);
  const auto weights = io::read_safetensors_folder(folder);
  auto tower = load_tower(folder, config, weights, options);
  auto impl = std::make_shared<Impl>(std::move(tower), text::ByteLevelBpe::load(folder));
  const auto& tc = impl->tower.config();
  if (config.vision_width != tc.code_dim()) {
    throw Error(config_path + ": mm_hidden_size " + std::to_string(config.vision_width) + " differs from the tower's feature width " +
                std::to_string(tc.code_dim()));
  }
  impl->defaults = understanding::GenerationDefaults::read(folder + "/generation_config.json");
  impl->end_ids = impl->defaults.end_ids;
  if (impl->end_ids.empty()) {
    const auto end = impl->text.token_id("<|im_end|>");
    if (!end) throw Error(folder + ": no eos_token_id in generation_config.json and no <|im_end|> token");
    impl->end_ids.push_back(*end);
  }

  const auto dense = dense_dtype(options.precision, weights);
  const auto [storage, reason] = resolve_storage(options.weights, weights, dense, options.device);
  const auto dtype = activation_dtype(options.precision, dense, storage, options.device);
  const nn::TensorTable table(weights, folder, torch::TensorOptions().dtype(dtype).device(torch::Device(options.device)));
  impl->model = std::make_unique<understanding::LlavaQwenModel>(
      config, impl->text.size(), table, storage == WeightStorage::Int8 ? nn::WeightFormat::Int8 : nn::WeightFormat::Dense);

  auto& c = impl->config;
  const auto& q = config.qwen;
  c.hidden_size = q.hidden_size;
  c.intermediate_size = q.intermediate_size;
  c.layers = q.layers;
  c.heads = q.heads;
  c.key_value_heads = q.key_value_heads;
  c.vocabulary = impl->text.size();
  c.context = config.context;
  c.image_tokens = static_cast<int64_t>(tc.grid()) * tc.grid();
  c.parameter_count = table.taken_elements();
  c.precision = dtype == torch::kBFloat16 ? Precision::Bf16 : Precision::Fp32;
  c.weights = storage;
  c.weights_reason = reason;
  c.system_prompt = understanding::kDefaultSystemMessage;
  return Understanding(std::move(impl));
}

WeightStorage parse_weight_storage(const std::string& name) {
  if (name == "auto") return WeightStorage::Auto;
  if (name == "dense") return WeightStorage::Dense;
  if (name == "int8") return WeightStorage::Int8;
  throw Error("unknown weight storage '" + name + "' (auto, dense or int8)");
}

std::string weight_storage_name(WeightStorage storage) {
  switch (storage) {
    case WeightStorage::Auto: return "auto";
    case WeightStorage::Dense: return "dense";
    case WeightStorage::Int8: return "int8";
  }
  return "auto";
}

Understanding::Understanding(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
Understanding::~Understanding() = default;
Understanding::Understanding(Understanding&&) noexcept = default;
Understanding& Understanding::operator=(Understanding&&) noexcept = default;

const UnderstandingConfig& Understanding::config() const { return impl_->config; }
const Model& Understanding::tokenizer() const { return impl_->tower; }

torch::Tensor Understanding::pixel_values(const std::string& image_path) const {
  return understanding::llava_pixel_values(io::read_rgb_image(image_path), impl_->tower.config().image_size,
                                           impl_->model->config.pad_to_square);
}

torch::Tensor Understanding::pixel_values(const uint8_t* data, size_t size, const std::string& name) const {
  return understanding::llava_pixel_values(io::decode_image(data, size, name), impl_->tower.config().image_size,
                                           impl_->model->config.pad_to_square);
}

Chat Understanding::chat(const torch::Tensor& pixel_values, const std::string& system) const {
  torch::NoGradGuard no_grad;
  const auto start = Clock::now();
  const auto features = impl_->tower.understanding_features(pixel_values);
  if (features.size(0) != 1) throw Error("a chat is about one image");
  const auto images = impl_->model->project(features.to(impl_->model->options()));
  understanding::Conversation conversation(system.empty() ? understanding::kDefaultSystemMessage : system);
  return Chat(std::make_unique<Chat::Impl>(impl_, std::move(conversation), images, seconds_since(start)));
}

Chat Understanding::chat(const std::string& image_path, const std::string& system) const {
  return chat(pixel_values(image_path), system);
}

Chat::Chat(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Chat::~Chat() = default;
Chat::Chat(Chat&&) noexcept = default;
Chat& Chat::operator=(Chat&&) noexcept = default;

std::string Chat::transcript() const { return impl_->conversation.prompt(); }

Answer Chat::ask(const std::string& question, const AnswerOptions& options, const TextCallback& on_text) {
  if (stripped(question).empty()) throw Error("the question is empty");
  if (options.max_tokens < 1) throw Error("max tokens must be at least 1");
  torch::NoGradGuard no_grad;
  const auto& m = *impl_->model;
  const auto choice = m.choice(options);
  Answer answer;
  answer.seed = options.seed ? *options.seed : std::random_device()();
  answer.image_seconds = impl_->image_asked ? 0 : impl_->image_seconds;

  auto conversation = impl_->conversation;
  conversation.ask(impl_->image_asked ? question : std::string(understanding::kImagePlaceholder) + "\n" + question);
  const auto ids = understanding::image_prompt_ids(m.text, conversation.prompt());
  auto start = Clock::now();
  auto logits = impl_->cache.prefill(ids, m.config.context);
  answer.prefill_seconds = seconds_since(start);
  answer.prompt_tokens = impl_->cache.positions();
  answer.computed_prompt_tokens = impl_->cache.computed_by_last_prefill();
  impl_->conversation = conversation;
  impl_->image_asked = true;

  start = Clock::now();
  nn::SamplingGenerator generator(answer.seed);
  text::ByteLevelStreamDecoder stream(m.text, /*skip_special=*/true);
  bool listening = true;
  while (static_cast<int64_t>(answer.ids.size()) < options.max_tokens) {
    const auto id = understanding::choose_token(logits, answer.ids, choice, generator);
    answer.ids.push_back(id);
    if (on_text && listening) {
      const auto piece = stream.push(id);
      if (!piece.empty()) listening = on_text(piece);
    }
    if (m.is_end(id)) {
      answer.ended = true;
      break;
    }
    if (!listening || impl_->cache.positions() >= m.config.context) break;
    logits = impl_->cache.step(id);
  }
  if (on_text && listening) {
    const auto rest = stream.finish();
    if (!rest.empty()) on_text(rest);
  }
  answer.decode_seconds = seconds_since(start);
  answer.text = stripped(m.text.decode(answer.ids, /*skip_special=*/true));
  impl_->conversation.answer(stripped(m.text.decode(answer.ids, /*skip_special=*/false)));
  return answer;
}

}  // namespace tokenflow
