#pragma once
// LLaVA's vision projector (`build_vision_projector`, mm_projector_type "linear" or "mlpNx_gelu"):
// Linear(vision width -> hidden), then GELU and Linear(hidden -> hidden) for each further layer,
// built from the tensors under `mm_projector.` (indices 0, 2, 4, ... as nn.Sequential names them).
#include "io/config_file.h"
#include "nn/weights.h"

#include <torch/torch.h>

#include <vector>

namespace tokenflow::nn {

class MlpProjector {
 public:
  MlpProjector() = default;
  // weights: the table under "mm_projector.".
  MlpProjector(int64_t layers, int64_t in_features, int64_t hidden, const TensorTable& weights);

  // config.json's mm_projector_type as a layer count; throws tokenflow::Error for another type.
  static int64_t layers_in(const io::ConfigFile& file);

  // ... x in_features -> ... x hidden; GELU is the exact (erf) one, nn.GELU()'s default.
  torch::Tensor operator()(const torch::Tensor& features) const;

 private:
  struct Linear {
    torch::Tensor weight, bias;
  };
  std::vector<Linear> layers_;
};

}  // namespace tokenflow::nn
