// The TokenFlow-t2i decoder on ../shared/parity/t2i's teacher-forced pass: the official inputs
// embeddings in, the mask, the hidden states of row 0 and the logits out, to the fixture's tolerances.
#include "t2i_fixture.h"

#include "io/safetensors.h"
#include "model/generator/attention_mask.h"
#include "model/generator/text_to_image_config.h"
#include "nn/transformer/decoder.h"
#include "nn/weights.h"

namespace tokenflow::generator {
namespace {

using testing::parity_path;

torch::Tensor expected(const std::string& name) { return testing::t2i_expected(name); }

using testing::relative_difference;

class GeneratorDecoder : public ::testing::Test {
 protected:
  void SetUp() override {
    TOKENFLOW_REQUIRE_PARITY("t2i");
    const auto folder = parity_path("t2i", "model/");
    const auto llama = TextToImageConfig::read(folder + "config.json").llama;
    const auto path = folder + "model.safetensors";
    const auto state = io::read_safetensors(path);
    const nn::TensorTable weights(state, path, torch::kFloat32);
    decoder_ = std::make_unique<nn::TransformerDecoder>(llama, weights.under("model."));
    lm_head_ = weights.take("lm_head.weight", {llama.vocabulary, llama.hidden_size});
    prompts_ = testing::t2i_prompts();
  }

  std::unique_ptr<nn::TransformerDecoder> decoder_;
  torch::Tensor lm_head_;
  nlohmann::json prompts_;
};

TEST_F(GeneratorDecoder, TeacherForcedPassMatchesTheOfficialCode) {
  torch::NoGradGuard no_grad;
  const auto embeddings = expected("teacher_inputs_embeds");
  const auto key_not_pad = expected("teacher_key_not_pad");
  const auto first = prompts_["teacher"]["first_position"].get<int64_t>();
  const auto scales = prompts_["scales"].get<std::vector<int64_t>>();

  const auto allowed = attention_allowed(key_not_pad, first, scales);
  EXPECT_TRUE(torch::equal(allowed[0], expected("teacher_attention_allowed_row0"))) << "the mask of row 0";

  const auto rows = embeddings.size(0), length = embeddings.size(1);
  const auto positions = torch::arange(length).unsqueeze(0).expand({rows, length});
  const auto output = decoder_->forward(embeddings, additive_mask(allowed), positions);

  const auto hidden = expected("teacher_hidden_row0");
  const auto real = key_not_pad[0];
  const std::vector<torch::Tensor> ours = {output.hidden[0][0], output.hidden[1][0], output.last[0]};
  // The layers change the stream, so agreement means something.
  EXPECT_GT(relative_difference(ours[1], hidden[0], real), 1e-2);
  for (size_t i = 0; i < ours.size(); ++i) {
    const double difference = relative_difference(ours[i], hidden[static_cast<int64_t>(i)], real);
    std::printf("  hidden state %zu of row 0: relative %.2e (limit 1e-5)\n", i, difference);
    EXPECT_LE(difference, 1e-5) << "hidden state " << i;
  }

  const auto tokens = prompts_["tokens_per_image"].get<int64_t>();
  const auto logits = torch::matmul(output.last.narrow(1, first, tokens), lm_head_.t());  // 2B x N x V
  const auto kept = expected("teacher_positions");
  const auto reference = expected("teacher_logits");
  const auto all_rows = torch::ones({rows}, torch::kBool);
  const double difference = relative_difference(logits.index_select(1, kept), reference, all_rows);
  std::printf("  logits at %ld positions of %ld rows: relative %.2e (limit 1e-4)\n", static_cast<long>(kept.size(0)),
              static_cast<long>(rows), difference);
  EXPECT_LE(difference, 1e-4);

  const auto [top2, index] = logits.topk(2, -1);
  const auto decided = (top2.select(-1, 0) - top2.select(-1, 1)) > 1e-4;
  const auto same = index.select(-1, 0).eq(expected("teacher_argmax")) | ~decided;
  EXPECT_TRUE(same.all().item<bool>()) << (~same).sum().item<int64_t>() << " argmax positions differ";
}

}  // namespace
}  // namespace tokenflow::generator
