// The TokenFlow LLaVA-Qwen model end to end against ../shared/parity/i2t: the image preprocessing,
// the tower's features, the projector and the spliced embeddings, the prompt's logits, and the
// official greedy and seeded answers, with the key/value cache and with the whole sequence
// recomputed at every step.
#include "parity_fixture.h"

#include <tokenflow/error.h>
#include <tokenflow/understanding.h>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/understanding/conversation.h"
#include "model/understanding/image_prompt.h"
#include "model/understanding/llava_qwen_model.h"
#include "model/understanding/prompt_cache.h"
#include "model/understanding/token_choice.h"
#include "text/byte_level_bpe.h"

#include <filesystem>
#include <fstream>

namespace tokenflow::understanding {
namespace {

using testing::parity_path;

std::string model_folder() { return parity_path("i2t", "model"); }
std::string expected_path(const std::string& file) { return parity_path("i2t", "expected/" + file); }
torch::Tensor expected(const std::string& name) { return io::load_npy(expected_path(name + ".npy")); }
std::string image_path(int i) { return expected_path("image" + std::to_string(i) + ".png"); }

nlohmann::json prompts() {
  std::ifstream in(expected_path("prompts.json"));
  return nlohmann::json::parse(in);
}

// Largest absolute difference over the reference's largest absolute value: the README's tolerances.
double relative_difference(const torch::Tensor& actual, const torch::Tensor& reference) {
  const auto a = actual.to(torch::kDouble), r = reference.to(torch::kDouble);
  return ((a - r).abs().max() / r.abs().max()).item<double>();
}

std::vector<int64_t> ids_of(const nlohmann::json& ids) { return ids.get<std::vector<int64_t>>(); }

// A temporary copy of the fixture's model folder, removed at the end of the test.
struct FolderCopy {
  std::filesystem::path path;
  FolderCopy() {
    path = std::filesystem::temp_directory_path() /
           ("tokenflow_i2t_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(path);
    std::filesystem::copy(model_folder(), path);
  }
  ~FolderCopy() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

class LlavaQwenParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (testing::missing_fixture(parity_path("i2t", "")).empty()) {
      UnderstandingLoadOptions options;
      options.precision = Precision::Fp32;
      model_ = new tokenflow::Understanding(tokenflow::Understanding::load(model_folder(), options));
    }
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  void SetUp() override { TOKENFLOW_REQUIRE_PARITY("i2t"); }

  // The internal model, for the stages the public API does not expose.
  struct Parts {
    LlavaQwenConfig config;
    io::StateDict state;
    text::ByteLevelBpe text;
    std::unique_ptr<LlavaQwenModel> model;
  };
  static Parts parts(nn::WeightFormat format = nn::WeightFormat::Dense) {
    Parts p{LlavaQwenConfig::read(model_folder() + "/config.json"), io::read_safetensors(model_folder() + "/model.safetensors"),
            text::ByteLevelBpe::load(model_folder()), nullptr};
    p.model = std::make_unique<LlavaQwenModel>(p.config, p.text.size(), nn::TensorTable(p.state, "i2t", torch::kFloat32), format);
    return p;
  }

  static tokenflow::Understanding* model_;
};

tokenflow::Understanding* LlavaQwenParity::model_ = nullptr;

TEST_F(LlavaQwenParity, ConfigComesFromTheFolder) {
  const auto& c = model_->config();
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 176);
  EXPECT_EQ(c.layers, 2);
  EXPECT_EQ(c.heads, 4);
  EXPECT_EQ(c.key_value_heads, 2);
  EXPECT_EQ(c.vocabulary, prompts()["len_tokenizer"].get<int64_t>());
  EXPECT_EQ(c.context, 2048);
  EXPECT_EQ(c.image_tokens, prompts()["image_tokens_per_image"].get<int64_t>());
  EXPECT_EQ(c.precision, Precision::Fp32);
  // Every stored tensor of the language model and the projector (embed_tokens and lm_head with their
  // padding rows): the fixture's file holds nothing else.
  const auto state = io::read_safetensors(model_folder() + "/model.safetensors");
  int64_t stored = 0;
  for (const auto& [name, tensor] : state.tensors) stored += tensor.numel();
  EXPECT_EQ(c.parameter_count, stored);
}

TEST_F(LlavaQwenParity, PixelValuesAreTheProcessorsExactly) {
  const auto reference = expected("pixel_values");
  for (int i = 0; i < 2; ++i) {
    const auto path = image_path(i);
    const auto pixels = model_->pixel_values(path);
    ASSERT_EQ(pixels.sizes(), (std::vector<int64_t>{1, 3, 384, 384}));
    EXPECT_TRUE(torch::equal(pixels[0], reference[i])) << "image " << i << ": max |diff| "
                                                       << (pixels[0] - reference[i]).abs().max().item<float>();
    std::ifstream in(path, std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(torch::equal(model_->pixel_values(bytes.data(), bytes.size(), "image"), pixels));
  }
}

TEST_F(LlavaQwenParity, TowerGivesTheOfficialFeaturesAndIndices) {
  const auto pixels = expected("pixel_values");
  const auto encoded = model_->tokenizer().encode(pixels);
  EXPECT_TRUE(torch::equal(encoded.indices, expected("image_indices")));
  testing::expect_close(model_->tokenizer().understanding_features(pixels), expected("image_features"), 1e-4, "image_features");
}

TEST_F(LlavaQwenParity, PromptIsTheTemplatesAndItsIds) {
  const auto p = prompts();
  Conversation conversation;
  conversation.ask(p["conversation"]["user_message"].get<std::string>());
  EXPECT_EQ(conversation.prompt(), p["conversation"]["prompt"].get<std::string>());
  const auto text = text::ByteLevelBpe::load(model_folder());
  EXPECT_EQ(image_prompt_ids(text, conversation.prompt()), ids_of(p["input_ids"][0].is_array() ? p["input_ids"][0] : p["input_ids"]));
}

TEST_F(LlavaQwenParity, ProjectorSpliceAndPromptLogits) {
  const auto p = parts();
  const auto ids = ids_of(prompts()["input_ids"]);
  const auto features = expected("image_features"), projected_reference = expected("projected_features");
  const auto embeds_reference = expected("inputs_embeds"), logits_reference = expected("logits");
  torch::NoGradGuard no_grad;
  const auto projected = p.model->project(features);
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE("image " + std::to_string(i));
    EXPECT_LE(relative_difference(projected[i], projected_reference[i]), 1e-5);
    const auto embeds = p.model->embed(ids, projected_reference.narrow(0, i, 1));
    EXPECT_LE(relative_difference(embeds[0], embeds_reference[i]), 1e-5);
    const auto length = embeds_reference.size(1);
    const auto hidden = p.model->decoder.forward(embeds_reference.narrow(0, i, 1),
                                                 nn::causal_mask(0, length, embeds_reference.options()),
                                                 torch::arange(length).unsqueeze(0));
    const auto logits = p.model->logits(hidden.last[0]);
    const auto difference = relative_difference(logits, logits_reference[i]);
    std::printf("  image %d prompt logits: max |diff| / max |ref| = %.3e (limit 1e-4)\n", i, difference);
    EXPECT_LE(difference, 1e-4);
  }
}

// The greedy answer's logits step by step, from the cache (PromptCache) and recomputed from scratch.
TEST_F(LlavaQwenParity, GreedyStepLogitsWithAndWithoutTheCache) {
  const auto p = parts();
  const auto prompt = ids_of(prompts()["input_ids"]);
  const auto projected = expected("projected_features");
  torch::NoGradGuard no_grad;
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE("image " + std::to_string(i));
    const auto answer = ids_of(prompts()["greedy"]["per_image"][i]["ids"]);
    const auto reference = expected("greedy_step_logits_" + std::to_string(i));
    ASSERT_EQ(reference.size(0), static_cast<int64_t>(answer.size()));
    PromptCache cached(*p.model, projected.narrow(0, i, 1));
    auto logits = cached.prefill(prompt, p.config.context);
    for (size_t t = 0; t < answer.size(); ++t) {
      EXPECT_LE(relative_difference(logits, reference[t]), 1e-4) << "step " << t;
      EXPECT_EQ(logits.argmax().item<int64_t>(), answer[t]) << "step " << t;
      auto sequence = prompt;
      sequence.insert(sequence.end(), answer.begin(), answer.begin() + static_cast<std::ptrdiff_t>(t));
      PromptCache fresh(*p.model, projected.narrow(0, i, 1));
      EXPECT_LE(relative_difference(fresh.prefill(sequence, p.config.context), reference[t]), 1e-4) << "step " << t;
      if (t + 1 < answer.size()) logits = cached.step(answer[t]);
    }
  }
}

TEST_F(LlavaQwenParity, GreedyAnswersAreTheOfficialOnes) {
  const auto p = prompts();
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE("image " + std::to_string(i));
    const auto& reference = p["greedy"]["per_image"][i];
    auto chat = model_->chat(image_path(i));
    AnswerOptions options;
    options.temperature = 0;
    options.max_tokens = p["greedy"]["max_new_tokens"].get<int64_t>();
    std::string streamed;
    const auto answer = chat.ask("Describe this image.", options, [&](const std::string& piece) {
      streamed += piece;
      return true;
    });
    EXPECT_EQ(answer.ids, ids_of(reference["ids"]));
    EXPECT_EQ(answer.ended, reference["stopped_on_eos"].get<bool>());
    EXPECT_EQ(answer.text, reference["text_skip_special_tokens"].get<std::string>());
    EXPECT_EQ(streamed, reference["text_skip_special_tokens"].get<std::string>());
    EXPECT_EQ(answer.prompt_tokens, p["spliced_sequence_length"].get<int64_t>());
    EXPECT_EQ(answer.computed_prompt_tokens, answer.prompt_tokens);
  }
}

// What top-p leaves and softmax gives, and the token that torch 1.13's multinomial draws from it with
// the fixture's exponential noise, for every step of both seeded answers.
TEST_F(LlavaQwenParity, SamplingProbabilitiesAndDrawsAreTheOfficialOnes) {
  const auto p = prompts();
  const TokenChoice choice{p["sampled"]["temperature"].get<double>(), 0, p["sampled"]["top_p"].get<double>(), 1.0};
  for (int i = 0; i < 2; ++i) {
    const auto answer = ids_of(p["sampled"]["per_image"][i]["ids"]);
    const auto logits = expected("sample_step_logits_" + std::to_string(i));
    const auto probs = expected("sample_step_probs_" + std::to_string(i));
    const auto noise = expected("sample_step_exponential_" + std::to_string(i));
    ASSERT_EQ(logits.size(0), static_cast<int64_t>(answer.size()));
    for (size_t t = 0; t < answer.size(); ++t) {
      const std::vector<int64_t> generated(answer.begin(), answer.begin() + static_cast<std::ptrdiff_t>(t));
      const auto ours = sampling_probabilities(logits[t], generated, choice);
      EXPECT_LE((ours - probs[t]).abs().max().item<double>(), 1e-5) << "image " << i << " step " << t;
      EXPECT_EQ((ours / noise[t]).argmax().item<int64_t>(), answer[t]) << "image " << i << " step " << t;
    }
  }
}

TEST_F(LlavaQwenParity, SeededAnswersAreTheOfficialOnes) {
  const auto p = prompts();
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE("image " + std::to_string(i));
    const auto& reference = p["sampled"]["per_image"][i];
    auto chat = model_->chat(image_path(i));
    AnswerOptions options;
    options.temperature = p["sampled"]["temperature"].get<double>();
    options.top_p = p["sampled"]["top_p"].get<double>();
    options.top_k = 0;
    options.seed = p["sampled"]["torch_manual_seed"].get<uint64_t>();
    options.max_tokens = p["sampled"]["max_new_tokens"].get<int64_t>();
    const auto answer = chat.ask("Describe this image.", options);
    EXPECT_EQ(answer.ids, ids_of(reference["ids"]));
    EXPECT_EQ(answer.ended, reference["stopped_on_eos"].get<bool>());
    EXPECT_EQ(answer.text, reference["text_skip_special_tokens"].get<std::string>());
    EXPECT_EQ(answer.seed, options.seed);
  }
}

// A second turn reuses the cached image and first turn, and answers as a conversation recomputed
// from nothing would.
TEST_F(LlavaQwenParity, SecondTurnComputesOnlyWhatIsNew) {
  AnswerOptions greedy;
  greedy.temperature = 0;
  greedy.max_tokens = 8;
  auto chat = model_->chat(image_path(0));
  const auto first = chat.ask("Describe this image.", greedy);
  const auto second = chat.ask("What colour is it?", greedy);
  EXPECT_EQ(second.image_seconds, 0);
  EXPECT_GT(second.prompt_tokens, first.prompt_tokens + static_cast<int64_t>(first.ids.size()));
  EXPECT_LT(second.computed_prompt_tokens, second.prompt_tokens - model_->config().image_tokens);

  const auto p = parts();
  torch::NoGradGuard no_grad;
  // The second answer's ids are what the transcript of both turns (less that answer) would give.
  Conversation conversation;
  conversation.ask(std::string(kImagePlaceholder) + "\nDescribe this image.");
  conversation.answer(p.text.decode(first.ids));
  conversation.ask("What colour is it?");
  PromptCache scratch(*p.model, p.model->project(model_->tokenizer().understanding_features(model_->pixel_values(image_path(0)))));
  auto logits = scratch.prefill(image_prompt_ids(p.text, conversation.prompt()), p.config.context);
  std::vector<int64_t> from_scratch;
  for (int t = 0; t < greedy.max_tokens; ++t) {
    from_scratch.push_back(logits.argmax().item<int64_t>());
    if (from_scratch.back() == 503) break;
    logits = scratch.step(from_scratch.back());
  }
  EXPECT_EQ(second.ids, from_scratch);
  conversation.answer(p.text.decode(second.ids));
  EXPECT_EQ(chat.transcript(), conversation.prompt());
}

TEST_F(LlavaQwenParity, StoppingEarlyFromTheCallback) {
  AnswerOptions greedy;
  greedy.temperature = 0;
  auto chat = model_->chat(image_path(0));
  int pieces = 0;
  const auto answer = chat.ask("Describe this image.", greedy, [&](const std::string&) { return ++pieces < 2; });
  EXPECT_EQ(pieces, 2);
  EXPECT_FALSE(answer.ended);
  EXPECT_LT(answer.ids.size(), 22u);
}

TEST_F(LlavaQwenParity, TowerFromTheCheckpointWhenItHoldsOne) {
  FolderCopy copy;
  // The official save: the tower's tensors under model.vision_tower.vision_tower. in the checkpoint,
  // and mm_vision_tower naming a file that is not there.
  auto state = io::read_safetensors(copy.file("model.safetensors"));
  const auto tower = io::load_state_dict(copy.file("tokenflow_tower.pt"));
  for (const auto& name : tower.names) state.insert("model.vision_tower.vision_tower." + name, tower.tensors.at(name));
  io::write_safetensors(copy.file("model.safetensors"), state);
  std::filesystem::remove(copy.file("tokenflow_tower.pt"));
  UnderstandingLoadOptions options;
  options.precision = Precision::Fp32;
  const auto loaded = tokenflow::Understanding::load(copy.path.string(), options);
  EXPECT_EQ(loaded.config().parameter_count, model_->config().parameter_count);
  AnswerOptions greedy;
  greedy.temperature = 0;
  EXPECT_EQ(loaded.chat(image_path(1)).ask("Describe this image.", greedy).ids,
            ids_of(prompts()["greedy"]["per_image"][1]["ids"]));
}

// Weight-only int8 against the official float32 logits: how often the likeliest token stays the
// same over the 2 x 756 prompt positions, and the largest logit error (docs/understanding.md).
TEST_F(LlavaQwenParity, Int8WeightsAgreeWithTheOfficialLogits) {
  const auto p = parts(nn::WeightFormat::Int8);
  const auto embeds = expected("inputs_embeds"), reference = expected("logits");
  torch::NoGradGuard no_grad;
  const auto length = embeds.size(1);
  const auto hidden = p.model->decoder.forward(embeds, nn::causal_mask(0, length, embeds.options()),
                                               torch::arange(length).unsqueeze(0).expand({2, length}));
  const auto logits = p.model->logits(hidden.last);
  const auto agreement = (logits.argmax(-1) == reference.argmax(-1)).to(torch::kDouble).mean().item<double>();
  const auto error = relative_difference(logits, reference);
  std::printf("  int8: top-1 agreement %.4f over %lld positions, max |logit diff| / max |logit| = %.3e\n", agreement,
              static_cast<long long>(2 * length), error);
  EXPECT_GE(agreement, 0.95);
  EXPECT_LE(error, 0.05);

  UnderstandingLoadOptions options;
  options.precision = Precision::Fp32;
  options.weights = WeightStorage::Int8;
  const auto int8 = tokenflow::Understanding::load(model_folder(), options);
  EXPECT_EQ(int8.config().weights, WeightStorage::Int8);
  EXPECT_TRUE(int8.config().weights_reason.empty());
  AnswerOptions greedy;
  greedy.temperature = 0;
  greedy.max_tokens = 24;
  for (int i = 0; i < 2; ++i) {
    const auto ids = int8.chat(image_path(i)).ask("Describe this image.", greedy).ids;
    const auto official = ids_of(prompts()["greedy"]["per_image"][i]["ids"]);
    size_t same = 0;
    while (same < ids.size() && same < official.size() && ids[same] == official[same]) ++same;
    std::printf("  int8 greedy answer %d: the first %zu of %zu official ids\n", i, same, official.size());
    EXPECT_EQ(ids, official);
  }
}

TEST_F(LlavaQwenParity, BadInputIsAnError) {
  EXPECT_THROW(tokenflow::Understanding::load("/nonexistent/folder"), Error);
  EXPECT_THROW(model_->pixel_values("/nonexistent/image.png"), Error);
  const std::string garbage = "not an image";
  EXPECT_THROW(model_->pixel_values(reinterpret_cast<const uint8_t*>(garbage.data()), garbage.size(), "garbage"), Error);
  EXPECT_THROW(model_->chat(torch::zeros({2, 3, 384, 384})), Error);
  EXPECT_THROW(model_->chat(torch::zeros({1, 3, 100, 100})), Error);

  auto chat = model_->chat(image_path(0));
  AnswerOptions options;
  EXPECT_THROW(chat.ask("  \n"), Error);
  options.max_tokens = 0;
  EXPECT_THROW(chat.ask("Hi", options), Error);
  options = {};
  options.top_p = 1.5;
  EXPECT_THROW(chat.ask("Hi", options), Error);
  options = {};
  options.temperature = -1;
  EXPECT_THROW(chat.ask("Hi", options), Error);
  options = {};
  options.top_k = -3;
  EXPECT_THROW(chat.ask("Hi", options), Error);
  // A question longer than the context.
  std::string long_question;
  for (int i = 0; i < 3000; ++i) long_question += " astronaut";
  EXPECT_THROW(chat.ask(long_question), Error);
  // The failed turns left the conversation as it was.
  Conversation empty;
  EXPECT_EQ(chat.transcript(), empty.prompt());

  const auto parts = LlavaQwenParity::parts();
  EXPECT_THROW(parts.model->embed({1, 2, kImageToken}, torch::Tensor()), Error);
  EXPECT_THROW(parts.model->embed({1, 504}, torch::Tensor()), Error);
  EXPECT_THROW(parts.model->embed({-7}, torch::Tensor()), Error);
}

TEST_F(LlavaQwenParity, BrokenFoldersAreErrorsNamingTheFile) {
  const auto fails_naming = [](const std::string& folder, const std::string& file) {
    try {
      tokenflow::Understanding::load(folder);
      ADD_FAILURE() << "loaded a folder with a broken " << file;
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find(file), std::string::npos) << error.what();
    }
  };
  {
    FolderCopy copy;
    std::ofstream(copy.file("config.json")) << "{\"model_type\": \"llava_qwen\", \"hidden_size\": ";
    fails_naming(copy.path.string(), "config.json");
  }
  {
    FolderCopy copy;
    std::filesystem::remove(copy.file("tokenflow_tower.pt"));
    fails_naming(copy.path.string(), "tokenflow_tower.pt");
  }
  {
    FolderCopy copy;
    std::filesystem::resize_file(copy.file("model.safetensors"), 1000);
    fails_naming(copy.path.string(), "model.safetensors");
  }
  {
    FolderCopy copy;
    std::filesystem::remove(copy.file("vocab.json"));
    std::filesystem::remove(copy.file("tokenizer.json"));
    fails_naming(copy.path.string(), "tokenizer.json");
  }
  {
    FolderCopy copy;
    std::ofstream(copy.file("merges.txt"), std::ios::app) << "notatoken alsonot\n";
    fails_naming(copy.path.string(), "merges.txt");
  }
}

}  // namespace
}  // namespace tokenflow::understanding
