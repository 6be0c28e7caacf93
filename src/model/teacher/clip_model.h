#pragma once
// tokenflow's own CLIP (Radford et al. 2021), the semantic teacher that `tokenflow train-teacher`
// trains from captioned images: a ViT image tower and a causal text transformer, each projected into
// a joint embedding, with the learnable temperature `logit_scale`. Parameters carry OpenAI's
// state-dict names (`visual.*` with `visual.proj`, `token_embedding`, `positional_embedding`,
// `transformer.resblocks.N.*`, `ln_final`, `text_projection`, `logit_scale`), so model::load_teacher
// reads the image tower of a saved model as it reads OpenAI's.
//
// Images enter in [-1, 1] and are scaled by CLIP's mean and standard deviation inside, exactly as
// model::Teacher scales them, so the teacher sees what this model was trained on.
#include <tokenflow/train.h>

#include "io/state_dict.h"
#include "nn/clip_vision.h"
#include "nn/scaling_layer.h"
#include "text/text_tokenizer.h"

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace tokenflow::model {

struct ClipModel : torch::nn::Module {
  // Weights drawn as OpenAI's CLIP initialises them. Throws tokenflow::Error for sizes that make no
  // model (a width that is not a multiple of 64, an image size that is not a multiple of the patch).
  explicit ClipModel(const ClipModelConfig& config);

  // images: B x 3 x image_size x image_size in [-1, 1] -> B x embed_dim (not normalised): the mean of
  // the patch tokens' ln_post, projected by visual.proj. OpenAI embeds the class token instead; the
  // mean makes the embedding exactly the mean of the per-patch features the tokenizer's semantic
  // decoder learns to rebuild (model::Teacher::targets), so the joint space the text is aligned with
  // is the one the semantic codes must keep, and an image's tokens can be scored against captions.
  torch::Tensor encode_image(const torch::Tensor& images);
  // tokens: B x context int64 (text::TextTokenizer::encode) -> ln_final of every position, B x context x
  // text_width, under OpenAI's causal mask (a position sees itself and those before it).
  torch::Tensor text_states(const torch::Tensor& tokens);
  // tokens -> B x embed_dim (not normalised): the state at the end token, OpenAI's
  // x[arange, text.argmax(-1)] (the end token has the largest id), projected by text_projection.
  torch::Tensor encode_text(const torch::Tensor& tokens);

  // Clamps logit_scale to [0, log 100] in place, as OpenAI's training does after every step, so
  // that the logits are scaled by at most 100.
  void clamp_logit_scale();

  ClipModelConfig config;
  std::shared_ptr<nn::ScalingLayer> scaling;  // not registered: OpenAI's state dict has no such tensors
  std::shared_ptr<nn::ClipVision> visual;
  torch::Tensor visual_projection;  // visual.proj: width x embed_dim
  torch::nn::Embedding token_embedding{nullptr};
  torch::Tensor positional_embedding, text_projection, logit_scale;
  std::vector<std::shared_ptr<nn::ClipBlock>> text_blocks;
  torch::nn::LayerNorm ln_final{nullptr};
};

// CLIP's symmetric InfoNCE: the mean of the cross-entropies of image->text and text->image logits
// (exp(logit_scale) x cosine similarities), where row i of each batch is the other's match.
torch::Tensor contrastive_loss(const torch::Tensor& image_embeddings, const torch::Tensor& text_embeddings,
                               const torch::Tensor& logit_scale);

// The sizes a state dict with OpenAI's names describes. `source` names the file in errors.
ClipModelConfig clip_config_of(const io::StateDict& state, const std::string& source);

// The checkpoint entry that holds the tokenizer (text::TextTokenizer::to_tensor()) beside `state_dict`.
inline constexpr const char* kVocabularyEntry = "vocabulary";

struct TrainedClip {
  std::shared_ptr<ClipModel> model;
  text::TextTokenizer tokenizer;
};

// Reads a checkpoint written by `tokenflow train-teacher`: the model from its state dict (in eval
// mode) and the tokenizer saved beside it. Throws tokenflow::Error("<path>: ...").
TrainedClip load_clip(const std::string& path);

}  // namespace tokenflow::model
