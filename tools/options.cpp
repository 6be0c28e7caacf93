#include "options.h"

#include <tokenflow/error.h>
#include <tokenflow/runtime.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace tokenflow::cli {

namespace {

// CLI11's NonNegativeNumber would print the largest double in its message.
const CLI::Validator kThreadCount(
    [](std::string& text) { return !text.empty() && text[0] == '-' ? std::string("must be 0 or more") : std::string(); },
    "N >= 0");

// Accepts what the library's `parse` accepts, so the choices are named once, with the library's message.
template <typename Choice>
CLI::Validator accepted_by(Choice (*parse)(const std::string&)) {
  return CLI::Validator(
      [parse](std::string& text) {
        try {
          parse(text);
          return std::string();
        } catch (const Error& error) {
          return std::string(error.what());
        }
      },
      "");
}

}  // namespace

const char* const kImageOutputHelp =
    ".npy (the batch, B x 3 x H x W) or .png/.jpg, one file per image: a printf integer in the name numbers "
    "every image (out_%03d.png -> out_000.png, out_001.png, ...; %% is a literal %); without one, a batch of "
    "several gets _0, _1, ... before the extension";

void add_model_options(CLI::App* command, ModelOptions& options) {
  command
      ->add_option("-m,--model", options.model,
                   "checkpoint: .pt (torch.save) or .safetensors. Default: $TOKENFLOW_MODEL if set, else the model "
                   "shipped in models/; now " + default_model_path())
      ->group(kModelGroup);
  add_threads_option(command, options.threads);
  command
      ->add_option("--precision", options.precision,
                   "number formats: fp32 (exact), bf16 (fastest; flips fine-scale tokens), mixed (fp32 encoding, "
                   "bf16 decoding) or auto (the default: mixed where the hardware has bf16, else fp32)")
      ->check(accepted_by(parse_precision))
      ->group(kComputeGroup);
  command
      ->add_option("--code-search", options.code_search,
                   "codebook search: distances (the official formula), similarity (one product per entry; equal up "
                   "to rounding) or auto (distances in fp32, else similarity)")
      ->check(accepted_by(parse_code_search))
      ->group(kComputeGroup);
  command
      ->add_option("--pixel-convolution", options.pixel_convolution,
                   "the fp32 pixel encoder's convolutions: libtorch (the official layout), winograd (oneDNN, where "
                   "built with it) or auto (winograd in mixed, else libtorch)")
      ->check(accepted_by(parse_pixel_convolution))
      ->group(kComputeGroup);
  add_device_option(command, options.device);
}

void add_language_model_options(CLI::App* command, LanguageModelOptions& options, const std::string& folder_help) {
  command->add_option("-m,--model", options.folder, "the model folder (Hugging Face layout: " + folder_help + ")")
      ->required()
      ->group(kModelGroup);
  command
      ->add_option("--tokenizer", options.tokenizer,
                   "the TokenFlow tokenizer checkpoint (default: the one the folder holds or config.json's "
                   "mm_vision_tower names, in the folder)")
      ->group(kModelGroup);
  command
      ->add_option("--precision", options.precision,
                   "the language model's numbers: fp32 (exact), bf16, or auto (the checkpoint's: bf16 for a bfloat16 file)")
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}))
      ->group(kComputeGroup);
  add_device_option(command, options.device);
  add_threads_option(command, options.threads);
}

void add_seed_option(CLI::App* command, std::optional<uint64_t>& seed) {
  command->add_option("--seed", seed, "the sampler's seed (default: a random one, printed)")->group("Sampling");
}

void add_tile_option(CLI::App* command, int& tile) {
  command
      ->add_option("--tile", tile,
                   "decode in overlapping tiles of N x N feature positions (N >= 2), blended without seams: the "
                   "decoder's large maps exist one tile at a time; close to the whole decoding, and slower (0: "
                   "whole, the default)")
      ->check(CLI::Range(0, 1 << 20) & !CLI::IsMember({1}))
      ->group(kComputeGroup);
}

void add_threads_option(CLI::App* command, int& threads, bool per_process) {
  command
      ->add_option("-t,--threads", threads,
                   per_process ? "CPU threads per process (0: the cores divided among the processes)"
                               : "CPU threads (0: one per core)")
      ->check(kThreadCount)
      ->group(kComputeGroup);
}

void add_device_option(CLI::App* command, std::string& device, const std::string& detail) {
  command->add_option("--device", device, "cpu, or cuda[:N] with a CUDA build of LibTorch" + detail)->group(kComputeGroup);
}

CLI::Option* add_output_option(CLI::App* command, std::string& output, const std::string& what) {
  return command->add_option("-o,--output", output, what)->group(kOutputGroup);
}

void add_input_images(CLI::App* command, std::vector<std::string>& inputs) {
  command->add_option("IN", inputs, "image files (one batch), or one .npy B x 3 x S x S in [-1, 1]")->required();
}

void add_no_progress_flag(CLI::App* command, bool& no_progress) {
  command->add_flag("--no-progress", no_progress, "no live progress line (log lines only)")->group(kOutputGroup);
}

void add_training_loop_options(CLI::App* command, int64_t& steps, int& workers, int64_t& log_every,
                               const std::string& group) {
  command->add_option("--steps", steps, "train until this step")->capture_default_str()->group(group);
  command->add_option("--num-workers", workers, "image decoding threads (0: cores - 1)")->group(group);
  command->add_option("--log-every", log_every, "log a line every N steps")->capture_default_str()->group(kOutputGroup);
}

std::string model_path(const ModelOptions& options) {
  if (!options.model.empty()) return options.model;
  const std::string fallback = default_model_path();
  if (!std::filesystem::exists(fallback))
    throw Error("no model given (-m) and the default model " + fallback + " is missing");
  return fallback;
}

Model load_model(const ModelOptions& options) {
  const std::string path = model_path(options);
  set_num_threads(options.threads);
  single_threaded_blas();
  LoadOptions load;
  load.precision = parse_precision(options.precision);
  load.code_search = parse_code_search(options.code_search);
  load.pixel_convolution = parse_pixel_convolution(options.pixel_convolution);
  load.device = options.device;
  load.tile = options.tile;
  return Model::load(path, load);
}

std::vector<std::string> merge_config_file(const std::vector<std::string>& arguments, const CLI::App& app) {
  if (arguments.size() < 2) return arguments;
  const CLI::App* command = nullptr;
  for (const CLI::App* subcommand : app.get_subcommands({}))
    if (subcommand->get_name() == arguments[1]) command = subcommand;
  if (command == nullptr || command->get_option_no_throw("--config") == nullptr) return arguments;

  std::string config;
  for (size_t i = 2; i < arguments.size(); ++i) {
    if (arguments[i] == "--config" && i + 1 < arguments.size()) config = arguments[i + 1];
    if (arguments[i].rfind("--config=", 0) == 0) config = arguments[i].substr(9);
  }
  if (config.empty()) return arguments;
  std::ifstream in(config);
  if (!in) throw Error(config + ": cannot open the config file");
  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigTOML().from_config(in);
  } catch (const CLI::ParseError& e) {
    throw Error(config + ": " + e.what());
  }
  const auto given = [&](const std::string& flag) {
    return std::any_of(arguments.begin(), arguments.end(),
                       [&](const std::string& a) { return a == flag || a.rfind(flag + "=", 0) == 0; });
  };
  std::vector<std::string> inserted;
  for (const auto& item : items) {
    if (!item.parents.empty()) throw Error(config + ": sections are not used; write `" + item.name + " = ...` at the top");
    const std::string flag = "--" + item.name;
    const CLI::Option* option = command->get_option_no_throw(flag);
    if (!option || item.name == "config") throw Error(config + ": unknown option `" + item.name + "`");
    if (given(flag)) continue;
    if (option->get_expected_max() == 0) {
      if (item.inputs.size() == 1 && item.inputs[0] == "true") inserted.push_back(flag);
      continue;
    }
    inserted.push_back(flag);
    inserted.insert(inserted.end(), item.inputs.begin(), item.inputs.end());
  }
  std::vector<std::string> merged(arguments.begin(), arguments.begin() + 2);
  merged.insert(merged.end(), inserted.begin(), inserted.end());
  merged.insert(merged.end(), arguments.begin() + 2, arguments.end());
  return merged;
}

}  // namespace tokenflow::cli
