#pragma once
// The command line's options, each declared once (as llama.cpp's common/arg.cpp does): a command adds
// the ones it takes, with the same name, help, check and help group everywhere.
#include <tokenflow/tokenizer.h>

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tokenflow::cli {

// The help groups.
inline constexpr const char* kModelGroup = "Model";
inline constexpr const char* kComputeGroup = "Compute";
inline constexpr const char* kOutputGroup = "Output";

// A parsed subcommand's work: given the whole command line (argv, for commands that start workers),
// returns the exit status. Throws on failure; main reports it.
using Run = std::function<int(const std::vector<std::string>& arguments)>;

struct Command {
  CLI::App* app = nullptr;
  Run run;
};

// Everything a command that loads a tokenizer takes.
struct ModelOptions {
  std::string model;
  int threads = 0;
  std::string precision = "auto";
  std::string code_search = "auto";
  std::string pixel_convolution = "auto";
  std::string device = "cpu";
  int tile = 0;
};

// Everything a command that runs a language model folder takes (generate, chat, describe).
struct LanguageModelOptions {
  std::string folder;
  std::string tokenizer;
  std::string precision = "auto";
  std::string device = "cpu";
  int threads = 0;
};

// -m/--model (a Hugging Face folder: `folder_help` says what it holds), --tokenizer, --precision,
// --device and -t.
void add_language_model_options(CLI::App* command, LanguageModelOptions& options, const std::string& folder_help);
// --seed, for the commands that sample.
void add_seed_option(CLI::App* command, std::optional<uint64_t>& seed);

// -m/--model (the tokenizer, defaulting to tokenflow::default_model_path()), -t, --precision,
// --code-search, --pixel-convolution and --device.
void add_model_options(CLI::App* command, ModelOptions& options);
// --tile, for the commands that decode.
void add_tile_option(CLI::App* command, int& tile);

// -t/--threads: LibTorch's threads, 0 for one per core (`per_process`: per rank of a training run).
void add_threads_option(CLI::App* command, int& threads, bool per_process = false);
// --device: cpu, or cuda[:N] with a CUDA build of LibTorch.
void add_device_option(CLI::App* command, std::string& device, const std::string& detail = "");
// -o/--output.
CLI::Option* add_output_option(CLI::App* command, std::string& output, const std::string& what);
// The positional input images: image files (one batch) or one .npy batch.
void add_input_images(CLI::App* command, std::vector<std::string>& inputs);
// --no-progress.
void add_no_progress_flag(CLI::App* command, bool& no_progress);
// --steps and --num-workers in `group`, and --log-every: what both training commands take alike.
void add_training_loop_options(CLI::App* command, int64_t& steps, int& workers, int64_t& log_every,
                               const std::string& group);
// What -o means for a batch of images, for the help of the commands that write them.
extern const char* const kImageOutputHelp;

// The tokenizer to load: `options.model`, or the default model, which must then exist.
std::string model_path(const ModelOptions& options);
// Sets the process's threads and loads model_path(options) with the options' settings.
Model load_model(const ModelOptions& options);

// The command line with the options of a TOML file given by `--config FILE` inserted after the
// subcommand, except those the command line gives itself: there, the command line wins. Only a
// subcommand that has a --config option reads one. Throws tokenflow::Error naming the file.
std::vector<std::string> merge_config_file(const std::vector<std::string>& arguments, const CLI::App& app);

}  // namespace tokenflow::cli
