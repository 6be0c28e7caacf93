#pragma once
// A new TokenFlow tokenizer for training from scratch, shaped as the official TokenFlow class builds
// it: the semantic encoder is a copy of the teacher's vision tower (the paper's initialisation), the
// semantic decoder a 3-layer ViT of the same width over the semantic codes, the pixel branch the
// official VQGAN, and the dual codebook L2-normalised uniform noise.
#include <tokenflow/train.h>

#include "io/state_dict.h"
#include "model/tokenizer/architecture.h"
#include "model/tokenizer/tokenflow_net.h"

#include <memory>
#include <string>
#include <vector>

namespace tokenflow::train {

struct NewTokenizer {
  model::Architecture architecture;
  std::shared_ptr<model::TokenFlowNet> net;
};

// Gives `architecture` the enhanced pixel decoder of the official decoder-only stage: twice the
// encoder's channels and res blocks per level (ch 256 and 4 for the released models).
void use_enhanced_decoder(model::Architecture& architecture);

// `teacher` is the teacher's state dict (CLIP `visual.*` or SigLIP `vision_model.*`), read from `source`.
NewTokenizer new_tokenizer(const io::StateDict& teacher, const std::string& source, const NewTokenizerOptions& options);

}  // namespace tokenflow::train
