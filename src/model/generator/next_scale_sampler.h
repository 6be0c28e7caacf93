#pragma once
// TokenFlow-t2i's generation loop (autoregressive_infer_cfg in t2i/llava_t2i/model/language_model/
// llava_llama.py): for each scale, one pass predicts all its tokens at once from the text and the
// earlier scales, guided against the negative prompt (CFG, strength cfg * s / (scales - 1)), and
// sampled with top-k/top-p; from the second scale on, each further sampling pass of the strategy
// re-predicts the scale with its own codes as input.
//
// Two ways to run the passes give the same tokens:
//   Cached: the keys and values of the text and of every finished scale are kept, so a pass feeds
//           only the scale's positions; the leading padding common to all rows is not computed
//           (it is masked out, and the real tokens keep their position ids).
//   Full:   the official op sequence: every pass recomputes the whole sequence up to the scale.
#include "model/generator/next_scale_features.h"
#include "nn/transformer/sampling.h"
#include "model/generator/text_to_image_model.h"

#include <functional>
#include <vector>

namespace tokenflow::generator {

enum class PassMode { Cached, Full };

struct SamplingSettings {
  double cfg = 7.5;
  std::vector<nn::TopKTopP> passes;  // the first pass of each scale, then the re-predictions
  uint64_t seed = 0;
  PassMode mode = PassMode::Cached;
};

// What the transformer computed: positions fed through the decoder (rows x new positions, summed over
// passes) and the multiply-adds of the decoder and lm_head, as FLOPs (2 per multiply-add).
struct TransformerWork {
  int64_t passes = 0;
  int64_t positions = 0;
  double flops = 0;
};

struct SampledCodes {
  torch::Tensor codes;  // B x image tokens, int64, scales coarse to fine, row-major within a scale
  TransformerWork work;
};

// Told of every sampling pass: the scale, the pass within it, and the B x side^2 x V logits the sampler
// receives (after CFG and the text mask).
using PassObserver = std::function<void(int64_t scale, int64_t pass, const torch::Tensor& logits)>;
// Told when a scale begins (scale index, scale count).
using ScaleObserver = std::function<void(int64_t scale, int64_t scales)>;

struct ImageVocabulary {
  int64_t image_token_start = 0;  // the id of <vq_token_0>
  int64_t pad = 0;                // the id whose keys are masked out
};

// The decoder inputs, as prepare_inputs_labels_for_multimodal_generation builds them. Text positions
// carry lvl_embed row 0; the last one (the marker's last id, T - 1) predicts image token 0 and also
// carries pos_1LC row 0. ids: rows x T -> rows x T x hidden.
torch::Tensor text_inputs(const TextToImageModel& model, const torch::Tensor& ids);
// The inputs of scale s >= 1 from its features (rows x side^2 x C, NextScaleFeatures): projected, plus
// lvl_embed row s + 1 and the scale's rows of pos_1LC (from `start`, its first token).
torch::Tensor scale_inputs(const TextToImageModel& model, int64_t s, int64_t start, const torch::Tensor& features);

// prefixes: 2B rows of equal length T (generation_prefix): B prompts, then B negative prompts.
// codebook: K x C, the tokenizer's normalised entries; scales: its sides.
SampledCodes sample_codes(const TextToImageModel& model, const torch::Tensor& codebook, const std::vector<int64_t>& scales,
                          const std::vector<std::vector<int64_t>>& prefixes, const ImageVocabulary& vocabulary,
                          const SamplingSettings& settings, const PassObserver& on_pass = {},
                          const ScaleObserver& on_scale = {});

}  // namespace tokenflow::generator
