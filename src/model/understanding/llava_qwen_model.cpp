#include "model/understanding/llava_qwen_model.h"

#include <tokenflow/error.h>


namespace tokenflow::understanding {

namespace {

// The decoder as the file holds it; its embedding rows are then cut to the tokenizer's vocabulary.
nn::DecoderConfig checked_vocabulary(nn::DecoderConfig config, int64_t vocabulary, const std::string& source) {
  if (vocabulary > config.vocabulary) {
    throw Error(source + ": the text tokenizer has " + std::to_string(vocabulary) + " tokens, more than vocab_size " +
                std::to_string(config.vocabulary));
  }
  return config;
}

}  // namespace

LlavaQwenModel::LlavaQwenModel(const LlavaQwenConfig& config, int64_t vocabulary, const nn::TensorTable& weights,
                               nn::WeightFormat format)
    : config(config), decoder(checked_vocabulary(config.qwen, vocabulary, weights.source()), weights.under("model."), format) {
  const auto hidden = config.qwen.hidden_size;
  lm_head = nn::LinearWeight::in_format(format, weights.take("lm_head.weight", {config.qwen.vocabulary, hidden}).narrow(0, 0, vocabulary),
                                        torch::Tensor());
  decoder.embed_tokens = decoder.embed_tokens.narrow(0, vocabulary);
  decoder.config.vocabulary = vocabulary;
  projector_ = nn::MlpProjector(config.projector_layers, config.vision_width, hidden, weights.under("model.mm_projector."));
}

torch::Tensor LlavaQwenModel::project(const torch::Tensor& features) const { return projector_(features); }

torch::Tensor LlavaQwenModel::embed(const std::vector<int64_t>& ids, const torch::Tensor& images) const {
  const int64_t vocabulary = lm_head.out_features();
  std::vector<torch::Tensor> pieces;
  std::vector<int64_t> text;
  int64_t image = 0;
  auto flush_text = [&] {
    if (text.empty()) return;
    pieces.push_back(decoder.embed(torch::tensor(text, torch::kInt64).to(options().device())));
    text.clear();
  };
  for (const auto id : ids) {
    if (id == kImageToken) {
      flush_text();
      if (!images.defined() || image >= images.size(0)) throw Error("the prompt has more images than were given");
      pieces.push_back(images[image++].to(options().dtype()));
    } else if (id < 0 || id >= vocabulary) {
      throw Error("token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(vocabulary));
    } else {
      text.push_back(id);
    }
  }
  flush_text();
  if (images.defined() && image != images.size(0)) {
    throw Error("the prompt has " + std::to_string(image) + " image markers for " + std::to_string(images.size(0)) + " images");
  }
  if (pieces.empty()) throw Error("the prompt is empty");
  return torch::cat(pieces, 0).unsqueeze(0);
}

torch::Tensor LlavaQwenModel::logits(const torch::Tensor& hidden) const { return lm_head(hidden).to(torch::kFloat32); }

}  // namespace tokenflow::understanding
