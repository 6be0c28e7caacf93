// chat and describe: questions about an image with a TokenFlow LLaVA model folder.
#include "commands.h"

#include <tokenflow/error.h>
#include <tokenflow/runtime.h>
#include <tokenflow/understanding.h>

#include <unistd.h>

#include <iostream>
#include <memory>
#include <optional>

namespace tokenflow::cli {

namespace {

constexpr const char* kFolderHelp = "config.json, model*.safetensors, vocab.json + merges.txt or tokenizer.json, tokenizer_config.json";
constexpr const char* kDescribeQuestion = "Describe this image.";

struct ChatCommandOptions {
  LanguageModelOptions model;
  std::string weights = "auto";
  std::string image;
  std::vector<std::string> questions;
  std::string system;
  AnswerOptions answer;
  bool json = false;
};

Understanding load_understanding(const ChatCommandOptions& o) {
  set_num_threads(o.model.threads);
  UnderstandingLoadOptions load;
  load.tokenizer = o.model.tokenizer;
  load.precision = parse_precision(o.model.precision);
  load.weights = parse_weight_storage(o.weights);
  load.device = o.model.device;
  auto model = Understanding::load(o.model.folder, load);
  if (!model.config().weights_reason.empty()) std::cerr << "tokenflow: " << model.config().weights_reason << "\n";
  return model;
}

// One turn: the answer streamed to stdout as it comes, or one JSON line with --json.
void answer_one(Chat& chat, const std::string& question, const ChatCommandOptions& o) {
  const auto print = [](const std::string& piece) {
    std::cout << piece << std::flush;
    return true;
  };
  const auto answer = o.json ? chat.ask(question, o.answer) : chat.ask(question, o.answer, print);
  if (o.json) {
    std::cout << answer_json(answer) << std::endl;
    return;
  }
  std::cout << std::endl;
  if (o.answer.temperature > 0 && !o.answer.seed) std::cerr << "seed " << answer.seed << "\n";
}

// serve/cli.py's loop: a question a line until an empty line or the end of the input; the role
// prompts only where a person types.
void converse(Chat& chat, const ChatCommandOptions& o) {
  const bool person = ::isatty(STDIN_FILENO) != 0;
  std::string question;
  while (true) {
    if (person) std::cout << "user: " << std::flush;
    if (!std::getline(std::cin, question) || question.empty()) break;
    if (person) std::cout << "assistant: " << std::flush;
    answer_one(chat, question, o);
  }
}

int run_chat(const ChatCommandOptions& o) {
  const auto model = load_understanding(o);
  auto chat = model.chat(o.image, o.system);
  if (o.questions.empty()) {
    converse(chat, o);
    return 0;
  }
  for (const auto& question : o.questions) answer_one(chat, question, o);
  return 0;
}

// How an answer is drawn, and --json: what chat and describe both take.
void add_answer_options(CLI::App* c, ChatCommandOptions& o) {
  add_language_model_options(c, o.model, kFolderHelp);
  c->add_option("--weights", o.weights,
                "how the language model's weights are held: dense (as --precision says), int8 (per output channel, "
                "half of bf16's memory) or auto (int8 when dense would not fit in the memory available, said on stderr)")
      ->check(CLI::IsMember({"auto", "dense", "int8"}))
      ->group(kComputeGroup);
  c->add_option("--max-tokens", o.answer.max_tokens, "the longest answer, in tokens")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30))
      ->group("Sampling");
  c->add_option("--temperature", o.answer.temperature, "0: greedy (the official answer); more: sampled")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0))
      ->group("Sampling");
  c->add_option("--top-k", o.answer.top_k, "sample from the k likeliest tokens (0: off; default: generation_config.json's, else 50)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30))
      ->group("Sampling");
  c->add_option("--top-p", o.answer.top_p, "sample from the likeliest tokens holding this probability (1: off)")
      ->check(CLI::Range(1e-9, 1.0))
      ->group("Sampling");
  c->add_option("--repetition-penalty", o.answer.repetition_penalty, "divide the logits of tokens already answered (1: off)")
      ->check(CLI::Range(1e-9, 100.0))
      ->group("Sampling");
  add_seed_option(c, o.answer.seed);
  c->add_option("--system", o.system, "the system message (default: the template's, \"You are a helpful assistant.\")");
  c->add_flag("--json", o.json, "print each answer as one JSON line: text, ids, token counts, seed, timings")->group(kOutputGroup);
}

}  // namespace

std::vector<Command> add_chat_commands(CLI::App& app) {
  auto chat = std::make_shared<ChatCommandOptions>();
  CLI::App* c = app.add_subcommand("chat", "questions about an image with a TokenFlow LLaVA model folder")->group("Understanding");
  c->add_option("--image", chat->image, "the image the conversation is about")->required();
  c->add_option("QUESTION", chat->questions,
                "the questions, one turn each; none: read them from the input, a line each, until an empty line");
  add_answer_options(c, *chat);

  auto describe = std::make_shared<ChatCommandOptions>();
  CLI::App* d = app.add_subcommand("describe", std::string("answer \"") + kDescribeQuestion + "\" about an image")->group("Understanding");
  d->add_option("IMAGE", describe->image, "the image")->required();
  add_answer_options(d, *describe);
  describe->questions = {kDescribeQuestion};

  return {{c, [chat](const std::vector<std::string>&) { return run_chat(*chat); }},
          {d, [describe](const std::vector<std::string>&) { return run_chat(*describe); }}};
}

}  // namespace tokenflow::cli
