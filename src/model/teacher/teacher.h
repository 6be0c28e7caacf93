#pragma once
// The frozen semantic teacher whose patch features the semantic decoder learns to rebuild (the
// official VQLoss.get_regress_target):
//   OpenAI CLIP: encode_image(image scaled by CLIP's mean/std, return_all_tokens) @ visual.proj, i.e.
//                ln_post of the patch tokens projected to the joint embedding;
//   SigLIP:      the hidden state after the second-to-last layer, image scaled to [-1, 1].
#include "io/state_dict.h"
#include "nn/scaling_layer.h"
#include "nn/semantic_encoder.h"

#include <torch/torch.h>

#include <memory>
#include <string>

namespace tokenflow::model {

struct Teacher : torch::nn::Module {
  // images: B x 3 x H x W in [-1, 1] -> B x N x feature width, without gradient.
  torch::Tensor targets(const torch::Tensor& images);

  std::shared_ptr<nn::ScalingLayer> scaling;
  std::shared_ptr<nn::SemanticEncoder> tower;
  torch::Tensor projection;  // CLIP's visual.proj; undefined for SigLIP
  int feature_width = 0;
};

// Builds the teacher a state dict describes: OpenAI CLIP (`visual.*`, other keys such as the text
// tower are ignored) or Hugging Face SigLIP (`vision_model.*`). Sizes come from the tensors; attention
// heads are not stored, so they follow each family's rule (CLIP: width / 64, SigLIP: 16 for 1152, else
// width / 64) unless `heads` is given. `source` names the file in errors.
std::shared_ptr<Teacher> make_teacher(const io::StateDict& state, const std::string& source, int heads = 0);

// Builds the teacher from `state` (read from `source`) with its weights, frozen and in eval mode.
std::shared_ptr<Teacher> load_teacher(const io::StateDict& state, const std::string& source, int heads = 0);
// The same, reading `path` (.pt state dict, TorchScript archive or safetensors).
std::shared_ptr<Teacher> load_teacher(const std::string& path, int heads = 0);

}  // namespace tokenflow::model
