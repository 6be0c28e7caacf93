#pragma once
// A new TokenFlow tokenizer for training from scratch, shaped as the official TokenFlow class builds
// it: the semantic encoder is a copy of the teacher's vision tower (the paper's initialisation), the
// semantic decoder a 3-layer ViT of the same width over the semantic codes, the pixel branch the
// official VQGAN, and the dual codebook L2-normalised uniform noise.
#include "io/state_dict.h"
#include "model/architecture.h"
#include "model/tokenflow_net.h"

#include <memory>
#include <string>
#include <vector>

namespace tokenflow::train {

struct NewTokenizerOptions {
  int image_size = 0;           // 0: the teacher's native resolution (CLIP: its position table)
  int codebook_size = 32768;    // --codebook-size
  int semantic_code_dim = 32;   // --semantic-code-dim
  int pixel_code_dim = 8;       // --codebook-embed-dim
  int pixel_channels = 128;     // the VQGAN's ch
  std::vector<int> channel_multipliers = {1, 1, 2, 2, 4};
  int res_blocks = 2;
  int z_channels = 256;
  bool enhanced_decoder = false;  // twice the channels and res blocks in the decoder (official: ch 256, 4)
  int semantic_decoder_layers = 3;
  int semantic_decoder_heads = 12;  // the official VisionTransformer default
  int teacher_heads = 0;            // 0: the teacher family's rule (see train/teacher.h)
  // w in argmin(w * d_sem + d_pix): 1 is TokenFlow's shared mapping, 0 the pixel-only baseline
  // (nn/quantizer.h). Stored in the checkpoint only when it is not 1.
  double semantic_distance_weight = 1.0;
};

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
