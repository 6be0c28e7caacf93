// The semantic teachers. The CLIP teacher is checked by the train_step fixture's vqkd_loss; the
// SigLIP teacher (a Hugging Face `vision_model.*` state dict) runs the same tower as the SigLIP
// TokenFlow's semantic encoder, so its targets, passed through that model's encode_task_layer, must
// give the official semantic features of the siglip384 fixture.
#include "parity_fixture.h"

#include "io/checkpoint.h"
#include "model/tokenizer/architecture.h"
#include "model/tokenizer/tokenflow_net.h"
#include "nn/weights.h"
#include "model/teacher/teacher.h"

namespace tokenflow {
namespace {

using testing::expect_close;
using testing::parity_path;
using testing::parity_tensor;

TEST(Teacher, SiglipFromHuggingFaceNamesGivesTheOfficialFeatures) {
  TOKENFLOW_REQUIRE_PARITY_FIXTURES();
  const auto source = parity_path("siglip384", "model.pt");
  const auto state = io::load_state_dict(source);
  io::StateDict hugging_face;  // the tower's tensors under the names of SiglipVisionModel's checkpoint
  const std::string prefix = "encoder_vqkd.";
  for (const auto& name : state.names) {
    if (name.rfind(prefix, 0) == 0) hugging_face.insert(name.substr(prefix.size()), state.tensors.at(name));
  }
  auto teacher = model::make_teacher(hugging_face, "siglip", /*heads=*/2);
  nn::load_weights(*teacher->tower, hugging_face, "siglip");
  EXPECT_EQ(teacher->feature_width, 64);

  auto net = std::make_shared<model::TokenFlowNet>(model::detect_architecture(state, {}, source));
  nn::load_weights(*net, state, source);
  torch::NoGradGuard no_grad;
  const auto targets = teacher->targets(parity_tensor("siglip384", "input"));
  const auto codes = net->encode_task_layer->forward(targets);  // B x N x 32
  const int64_t grid = 27;
  expect_close(codes.transpose(1, 2).reshape({codes.size(0), codes.size(2), grid, grid}),
               parity_tensor("siglip384", "sem_features"), 1e-4, "sem_features via the teacher");
}

TEST(Teacher, ForeignStateDictsAreRefused) {
  io::StateDict other;
  other.insert("encoder.conv_in.weight", torch::zeros({1}));
  try {
    model::make_teacher(other, "other.pt");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "other.pt: not a CLIP (visual.*) or SigLIP (vision_model.*) teacher");
  }
}

}  // namespace
}  // namespace tokenflow
