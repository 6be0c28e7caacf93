#include "model/teacher/clip_model.h"

#include <tokenflow/error.h>

#include "io/checkpoint.h"
#include "io/torch_archive.h"
#include "nn/weights.h"

#include <cmath>
#include <limits>

namespace tokenflow::model {

namespace {

// OpenAI's heads rule; model::load_teacher applies it to the image tower of a saved model.
int heads_for(int width, const std::string& tower) {
  if (width <= 0 || width % 64 != 0) {
    throw Error("CLIP model: the " + tower + " width " + std::to_string(width) +
                " is not a positive multiple of 64 (OpenAI's rule of width / 64 attention heads)");
  }
  return width / 64;
}

torch::Tensor normal(torch::IntArrayRef sizes, double std) { return torch::randn(sizes) * std; }

int64_t dim(const io::StateDict& state, const std::string& name, int64_t axis, const std::string& source) {
  const auto found = state.tensors.find(name);
  if (found == state.tensors.end()) throw Error(source + ": missing tensor " + name + " (not a CLIP state dict?)");
  return found->second.size(axis);
}

int count_blocks(const io::StateDict& state, const std::string& prefix) {
  int count = 0;
  while (state.contains(prefix + std::to_string(count) + ".attn.in_proj_weight")) ++count;
  return count;
}

}  // namespace

ClipModel::ClipModel(const ClipModelConfig& c) : config(c) {
  const int image_heads = heads_for(c.width, "image");
  const int text_heads = heads_for(c.text_width, "text");
  if (c.patch <= 0 || c.image_size <= 0 || c.image_size % c.patch != 0) {
    throw Error("CLIP model: the image size " + std::to_string(c.image_size) + " is not a multiple of the patch " +
                std::to_string(c.patch));
  }
  if (c.layers < 1 || c.text_layers < 1 || c.context < 2 || c.embed_dim < 1 || c.vocabulary_size <= text::TextTokenizer::kSpecialTokens) {
    throw Error("CLIP model: need at least one layer per tower, a context of 2 tokens, an embedding and a vocabulary");
  }
  const int grid = c.image_size / c.patch;
  scaling = nn::ScalingLayer::clip();
  visual = register_module("visual", std::make_shared<nn::ClipVision>(c.width, c.layers, image_heads, c.patch, grid * grid + 1));
  visual_projection = visual->register_parameter("proj", normal({c.width, c.embed_dim}, std::pow(c.width, -0.5)));

  // OpenAI's CLIP.initialize_parameters for the text side.
  token_embedding = register_module("token_embedding", torch::nn::Embedding(c.vocabulary_size, c.text_width));
  {
    torch::NoGradGuard no_grad;
    token_embedding->weight.normal_(0, 0.02);
  }
  positional_embedding = register_parameter("positional_embedding", normal({c.context, c.text_width}, 0.01));
  auto transformer = register_module("transformer", std::make_shared<torch::nn::Module>());
  auto resblocks = transformer->register_module("resblocks", torch::nn::ModuleList());
  const double attention_std = std::pow(c.text_width, -0.5);
  const double projection_std = attention_std * std::pow(2.0 * c.text_layers, -0.5);
  const double mlp_std = std::pow(2.0 * c.text_width, -0.5);
  for (int i = 0; i < c.text_layers; ++i) {
    auto block = std::make_shared<nn::ClipBlock>(c.text_width, text_heads);
    torch::NoGradGuard no_grad;
    block->in_proj_weight.normal_(0, attention_std);
    block->out_proj->weight.normal_(0, projection_std);
    block->c_fc->weight.normal_(0, mlp_std);
    block->c_proj->weight.normal_(0, projection_std);
    text_blocks.push_back(block);
    resblocks->push_back(block);
  }
  ln_final = register_module("ln_final", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.text_width}).eps(1e-5)));
  text_projection = register_parameter("text_projection", normal({c.text_width, c.embed_dim}, attention_std));
  logit_scale = register_parameter("logit_scale", torch::full({}, std::log(1 / 0.07)));
}

torch::Tensor ClipModel::encode_image(const torch::Tensor& images) {
  const auto patch_tokens = visual->all_tokens(scaling->forward(images)).slice(1, 1);
  return torch::matmul(patch_tokens.mean(1), visual_projection);
}

torch::Tensor ClipModel::text_states(const torch::Tensor& tokens) {
  const auto length = tokens.size(1);
  auto x = token_embedding(tokens) + positional_embedding.slice(0, 0, length);
  const auto causal = torch::full({length, length}, -std::numeric_limits<float>::infinity(), x.options()).triu(1);
  for (auto& block : text_blocks) x = block->forward(x, causal);
  return ln_final(x);
}

torch::Tensor ClipModel::encode_text(const torch::Tensor& tokens) {
  const auto ends = tokens.argmax(-1);
  // Under the causal mask nothing after the last end token reaches an end token's state, so the
  // padding beyond it is left out (captions are mostly far shorter than the context).
  const auto states = text_states(tokens.slice(1, 0, ends.max().item<int64_t>() + 1));
  const auto rows = torch::arange(tokens.size(0), tokens.options());
  return torch::matmul(states.index({rows, ends}), text_projection);
}

void ClipModel::clamp_logit_scale() {
  torch::NoGradGuard no_grad;
  logit_scale.clamp_(0, std::log(100.0));
}

torch::Tensor contrastive_loss(const torch::Tensor& image_embeddings, const torch::Tensor& text_embeddings,
                               const torch::Tensor& logit_scale) {
  namespace F = torch::nn::functional;
  const auto images = F::normalize(image_embeddings, F::NormalizeFuncOptions().dim(-1));
  const auto texts = F::normalize(text_embeddings, F::NormalizeFuncOptions().dim(-1));
  const auto logits = logit_scale.exp() * torch::matmul(images, texts.t());
  const auto labels = torch::arange(logits.size(0), torch::TensorOptions().dtype(torch::kInt64).device(logits.device()));
  return (F::cross_entropy(logits, labels) + F::cross_entropy(logits.t(), labels)) / 2;
}

ClipModelConfig clip_config_of(const io::StateDict& state, const std::string& source) {
  ClipModelConfig c;
  c.width = static_cast<int>(dim(state, "visual.conv1.weight", 0, source));
  c.patch = static_cast<int>(dim(state, "visual.conv1.weight", -1, source));
  const auto positions = dim(state, "visual.positional_embedding", 0, source) - 1;
  const auto grid = static_cast<int>(std::lround(std::sqrt(static_cast<double>(positions))));
  if (static_cast<int64_t>(grid) * grid != positions) throw Error(source + ": visual.positional_embedding is not a square grid plus one");
  c.image_size = grid * c.patch;
  c.layers = count_blocks(state, "visual.transformer.resblocks.");
  c.embed_dim = static_cast<int>(dim(state, "visual.proj", 1, source));
  c.vocabulary_size = dim(state, "token_embedding.weight", 0, source);
  c.text_width = static_cast<int>(dim(state, "token_embedding.weight", 1, source));
  c.context = static_cast<int>(dim(state, "positional_embedding", 0, source));
  c.text_layers = count_blocks(state, "transformer.resblocks.");
  return c;
}

TrainedClip load_clip(const std::string& path) {
  const auto state = io::load_state_dict(path);
  io::TorchArchive archive(path);
  const auto* saved = archive.root().get(kVocabularyEntry);
  if (!saved || saved->kind != io::pickle::Value::Kind::Tensor) {
    throw Error(path + ": no tokenizer vocabulary (not written by tokenflow train-teacher)");
  }
  auto tokenizer = text::TextTokenizer::from_tensor(archive.read_tensor(*saved->tensor), path);
  const auto config = clip_config_of(state, path);
  if (config.vocabulary_size != tokenizer.size()) {
    throw Error(path + ": the tokenizer has " + std::to_string(tokenizer.size()) + " tokens, token_embedding " +
                std::to_string(config.vocabulary_size));
  }
  std::shared_ptr<ClipModel> model;
  try {
    model = std::make_shared<ClipModel>(config);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  nn::load_weights(*model, state, path);
  model->eval();
  return {model, std::move(tokenizer)};
}

}  // namespace tokenflow::model
