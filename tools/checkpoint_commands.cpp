// info, convert: what a checkpoint is, and its weights as .safetensors.
#include "commands.h"

#include <tokenflow/tokenflow.h>

#include <iostream>
#include <memory>

namespace tokenflow::cli {

namespace {

const CLI::Validator kMetadataEntry(
    [](std::string& text) {
      const size_t equals = text.find('=');
      return equals == std::string::npos || equals == 0 ? "expected KEY=VALUE, got '" + text + "'" : std::string();
    },
    "KEY=VALUE");

struct InfoOptions {
  ModelOptions model;
  std::string output;
  bool as_json = false;
};

int run_info(const InfoOptions& o) {
  const std::string path = model_path(o.model);
  const Model model = load_model(o.model);
  const std::string text = o.as_json ? model_info_json(path, model) : model_info_text(path, model);
  if (o.output.empty()) {
    std::cout << text;
    return 0;
  }
  io::OutputFiles outputs;
  outputs.write_text(o.output, text);
  outputs.keep();
  return 0;
}

struct ConvertCommandOptions {
  std::string input;
  std::string output;
  int threads = 0;
  std::vector<std::string> metadata;  // KEY=VALUE, checked by kMetadataEntry
  ConvertOptions convert;
};

int run_convert(ConvertCommandOptions& o) {
  io::require_extension(o.output, {".safetensors"}, "the output");
  set_num_threads(o.threads);
  for (const std::string& entry : o.metadata) {
    const size_t equals = entry.find('=');
    o.convert.metadata[entry.substr(0, equals)] = entry.substr(equals + 1);
  }
  convert_checkpoint(o.input, o.output, o.convert);
  return 0;
}

}  // namespace

std::vector<Command> add_checkpoint_commands(CLI::App& app) {
  std::vector<Command> commands;

  auto info = std::make_shared<InfoOptions>();
  CLI::App* info_command = app.add_subcommand("info", "print the configuration detected from a checkpoint")->group("Checkpoints");
  add_model_options(info_command, info->model);
  add_output_option(info_command, info->output, "write to this file instead of stdout");
  info_command->add_flag("--json", info->as_json, "print JSON")->group(kOutputGroup);
  commands.push_back({info_command, [info](const std::vector<std::string>&) { return run_info(*info); }});

  auto convert = std::make_shared<ConvertCommandOptions>();
  CLI::App* convert_command =
      app.add_subcommand("convert", "write a checkpoint's state dict as .safetensors")->group("Checkpoints");
  convert_command->add_option("-m,--model,IN", convert->input, "checkpoint: .pt (a training checkpoint too) or .safetensors")
      ->required()
      ->group(kModelGroup);
  // OUT: `convert IN OUT` works as `convert -m IN -o OUT`.
  convert_command->add_option("-o,--output,OUT", convert->output, ".safetensors")->required()->group(kOutputGroup);
  convert_command
      ->add_option("--weights", convert->convert.weights,
                   "the state dict of a .pt to write: model or ema (default: ema when there is one)")
      ->check(CLI::IsMember({"model", "ema"}))
      ->group(kModelGroup);
  convert_command->add_option("--dtype", convert->convert.dtype, "cast floating tensors: fp32, bf16 or fp16 (default: as stored)")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}))
      ->group(kOutputGroup);
  convert_command
      ->add_option("--metadata", convert->metadata,
                   "KEY=VALUE for the file's __metadata__ (repeatable); a training checkpoint adds steps=N unless given")
      ->allow_extra_args(false)  // one entry per --metadata, so that IN OUT after it stay positional
      ->check(kMetadataEntry)
      ->group(kOutputGroup);
  add_threads_option(convert_command, convert->threads);
  commands.push_back({convert_command, [convert](const std::vector<std::string>&) { return run_convert(*convert); }});

  return commands;
}

}  // namespace tokenflow::cli
