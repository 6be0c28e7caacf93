#include "model/generator/next_scale_sampler.h"

#include <tokenflow/error.h>

#include "model/generator/attention_mask.h"

#include <limits>
#include <numeric>

namespace tokenflow::generator {

torch::Tensor text_inputs(const TextToImageModel& model, const torch::Tensor& ids) {
  auto inputs = model.decoder.embed(ids) + model.scale_embeddings[0];
  const auto last = inputs.size(1) - 1;
  inputs.narrow(1, last, 1).add_(model.positions.narrow(0, 0, 1));
  return inputs;
}

torch::Tensor scale_inputs(const TextToImageModel& model, int64_t s, int64_t start, const torch::Tensor& features) {
  const auto projected = model.project(features.to(model.positions.scalar_type()));
  return (projected + model.scale_embeddings[s + 1]) + model.positions.narrow(0, start, features.size(1));
}

namespace {

class Sampler {
 public:
  Sampler(const TextToImageModel& model, const torch::Tensor& codebook, const std::vector<int64_t>& scales,
          const std::vector<std::vector<int64_t>>& prefixes, const ImageVocabulary& vocabulary, const SamplingSettings& settings)
      : model_(model),
        scales_(scales),
        vocabulary_(vocabulary),
        settings_(settings),
        rows_(static_cast<int64_t>(prefixes.size())),
        batch_(rows_ / 2),
        features_(codebook.to(model.positions.device(), torch::kFloat32), scales, rows_) {
    prefix_length_ = static_cast<int64_t>(prefixes.front().size());
    first_ = prefix_length_ - 1;
    for (auto side : scales) starts_.push_back(tokens_), tokens_ += side * side;
    const auto length = first_ + tokens_;  // the last scale's first pass

    std::vector<int64_t> flat;
    for (const auto& row : prefixes) flat.insert(flat.end(), row.begin(), row.end());
    const auto ids = torch::tensor(flat).view({rows_, prefix_length_}).to(model.positions.device());
    auto key_not_pad = torch::ones({rows_, length}, torch::kBool);
    key_not_pad.narrow(1, 0, prefix_length_).copy_(ids.ne(vocabulary.pad).cpu());
    allowed_ = attention_allowed(key_not_pad, first_, scales).to(ids.device());
    skipped_ = settings.mode == PassMode::Cached ? common_leading_padding(ids) : 0;

    const auto text = text_inputs(model, ids);
    text_ = text.narrow(1, 0, first_);
    inputs_.push_back(text.narrow(1, first_, 1));
  }

  SampledCodes run(const PassObserver& on_pass, const ScaleObserver& on_scale) {
    codes_ = torch::empty({batch_, tokens_}, torch::kInt64);
    if (settings_.mode == PassMode::Cached) prefill();
    const auto scale_count = static_cast<int64_t>(scales_.size());
    for (int64_t s = 0; s < scale_count; ++s) {
      if (on_scale) on_scale(s, scale_count);
      const double ratio = scale_count > 1 ? static_cast<double>(s) / static_cast<double>(scale_count - 1) : 0.0;
      const double t = settings_.cfg * ratio;
      torch::Tensor codes;
      const auto passes = s == 0 ? 1 : static_cast<int64_t>(settings_.passes.size());
      for (int64_t pass = 0; pass < passes; ++pass) {
        // The negative rows always hold the positive rows' codes.
        const auto input = pass == 0 ? inputs_[s] : scale_input(s, features_.with_codes(torch::cat({codes, codes})));
        auto logits = run_pass(s, input, /*first=*/pass == 0);
        auto mixed = logits.narrow(0, 0, batch_) * (1 + t) - logits.narrow(0, batch_, batch_) * t;
        mixed.narrow(-1, 0, vocabulary_.image_token_start).fill_(-std::numeric_limits<float>::infinity());
        if (on_pass) on_pass(s, pass, mixed);
        codes = nn::sample_top_k_top_p(mixed, settings_.passes[pass], generator_) - vocabulary_.image_token_start;
        if (codes.min().item<int64_t>() < 0) throw Error("the generator's logits are not finite (scale " + std::to_string(s) + ")");
      }
      codes_.narrow(1, starts_[s], codes.size(1)).copy_(codes);
      features_.finish(torch::cat({codes, codes}));
      if (s + 1 < scale_count) inputs_.push_back(scale_input(s + 1, features_.input()));
    }
    return {codes_, work_};
  }

 private:
  // Leading positions that are padding in every row: no query needs them.
  int64_t common_leading_padding(const torch::Tensor& ids) const {
    const auto is_pad = ids.narrow(1, 0, first_).eq(vocabulary_.pad).all(0).cpu();
    int64_t count = 0;
    while (count < first_ && is_pad[count].item<bool>()) ++count;
    return count;
  }

  torch::Tensor scale_input(int64_t s, const torch::Tensor& features) const {
    return scale_inputs(model_, s, starts_[s], features);
  }

  torch::Tensor positions(int64_t begin, int64_t count) const {
    return torch::arange(begin, begin + count, torch::TensorOptions().dtype(torch::kInt64).device(text_.device()))
        .unsqueeze(0)
        .expand({rows_, count});
  }

  torch::Tensor mask(int64_t query_begin, int64_t queries, int64_t key_begin, int64_t keys) const {
    return additive_mask(allowed_.narrow(1, query_begin, queries).narrow(2, key_begin, keys));
  }

  void count(int64_t new_positions, int64_t keys, int64_t logit_rows) {
    const auto& c = model_.config.llama;
    const double hidden = static_cast<double>(c.hidden_size), kv = static_cast<double>(c.key_value_heads * c.head_dim());
    const double per_position = 2 * (2 * hidden * hidden + 2 * hidden * kv + 3 * hidden * static_cast<double>(c.intermediate_size));
    const double rows = static_cast<double>(rows_);
    work_.passes += 1;
    work_.positions += rows_ * new_positions;
    work_.flops += static_cast<double>(c.layers) * rows *
                   (static_cast<double>(new_positions) * per_position + 4.0 * static_cast<double>(new_positions) * static_cast<double>(keys) * hidden);
    work_.flops += rows * static_cast<double>(logit_rows) * 2 * hidden * static_cast<double>(c.vocabulary);
  }

  void prefill() {
    const auto count_new = first_ - skipped_;
    model_.decoder.forward(text_.narrow(1, skipped_, count_new), mask(skipped_, count_new, skipped_, count_new),
                           positions(skipped_, count_new), cache_, /*extend=*/true);
    count(count_new, count_new, 0);
  }

  // The logits (rows x side^2 x V) of scale s's positions, its inputs being `input`.
  torch::Tensor run_pass(int64_t s, const torch::Tensor& input, bool first) {
    const auto begin = first_ + starts_[s], size = input.size(1);
    if (settings_.mode == PassMode::Cached) {
      const auto keys = begin + size - skipped_;
      const auto m = mask(begin, size, skipped_, keys);
      const auto p = positions(begin, size);
      torch::Tensor hidden;
      if (first) {
        hidden = model_.decoder.forward(input, m, p, cache_, /*extend=*/true).last;
      } else {
        auto earlier = cache_.prefix(begin - skipped_);
        hidden = model_.decoder.forward(input, m, p, earlier, /*extend=*/false).last;
      }
      count(size, keys, size);
      return model_.logits(hidden);
    }
    std::vector<torch::Tensor> sequence = {text_};
    for (int64_t earlier = 0; earlier < s; ++earlier) sequence.push_back(inputs_[earlier]);
    sequence.push_back(input);
    const auto embeddings = torch::cat(sequence, 1);
    const auto length = embeddings.size(1);
    const auto hidden = model_.decoder.forward(embeddings, mask(0, length, 0, length), positions(0, length)).last;
    count(length, length, length);
    return model_.logits(hidden).narrow(1, begin, size);
  }

  const TextToImageModel& model_;
  const std::vector<int64_t>& scales_;
  ImageVocabulary vocabulary_;
  const SamplingSettings& settings_;
  int64_t rows_, batch_;
  NextScaleFeatures features_;
  nn::SamplingGenerator generator_{settings_.seed};
  int64_t prefix_length_ = 0, first_ = 0, tokens_ = 0, skipped_ = 0;
  std::vector<int64_t> starts_;
  torch::Tensor allowed_, text_, codes_;
  std::vector<torch::Tensor> inputs_;  // the decoder inputs of each scale reached so far
  nn::KeyValueCache cache_;
  TransformerWork work_;
};

}  // namespace

SampledCodes sample_codes(const TextToImageModel& model, const torch::Tensor& codebook, const std::vector<int64_t>& scales,
                          const std::vector<std::vector<int64_t>>& prefixes, const ImageVocabulary& vocabulary,
                          const SamplingSettings& settings, const PassObserver& on_pass, const ScaleObserver& on_scale) {
  if (prefixes.empty() || prefixes.size() % 2 != 0) throw Error("generation takes B prompts and B negative prompts");
  for (const auto& row : prefixes) {
    if (row.size() != prefixes.front().size() || row.empty()) throw Error("generation prefixes differ in length");
    for (auto id : row) {
      if (id < 0 || id >= model.config.llama.vocabulary) throw Error("token id " + std::to_string(id) + " is outside the vocabulary");
    }
  }
  if (settings.passes.empty()) throw Error("a sampling strategy needs at least one pass");
  const auto tokens = std::accumulate(scales.begin(), scales.end(), int64_t{0}, [](int64_t sum, int64_t side) { return sum + side * side; });
  if (tokens != model.image_tokens() || static_cast<int64_t>(scales.size()) != model.scale_count()) {
    throw Error("the tokenizer's scales (" + std::to_string(scales.size()) + ", " + std::to_string(tokens) +
                " tokens) differ from the generator's (" + std::to_string(model.scale_count()) + ", " +
                std::to_string(model.image_tokens()) + " tokens)");
  }
  const auto length = static_cast<int64_t>(prefixes.front().size()) - 1 + tokens;
  if (length > model.config.context) {
    throw Error("the prompt and the image need " + std::to_string(length) + " positions, more than the model's context of " +
                std::to_string(model.config.context));
  }
  torch::NoGradGuard no_grad;
  Sampler sampler(model, codebook, scales, prefixes, vocabulary, settings);
  return sampler.run(on_pass, on_scale);
}

}  // namespace tokenflow::generator
