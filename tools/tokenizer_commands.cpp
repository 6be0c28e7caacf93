// encode, decode, reconstruct, embed: the tokenizer's own commands.
#include "commands.h"

#include <tokenflow/evaluate.h>
#include <tokenflow/tokenflow.h>

#include <iomanip>
#include <iostream>
#include <memory>

namespace tokenflow::cli {

namespace {

const std::vector<std::string> kNpy = {".npy"};
const std::vector<std::string> kTokenFiles = {".npy", ".json"};
const std::vector<std::string> kImageOutputs = {".npy", ".png", ".jpg", ".jpeg"};

// Checked before any work, so that a wrong output name costs nothing and leaves nothing behind.
void require_image_output(const std::string& output) {
  io::require_extension(output, kImageOutputs, "the output");
  io::check_output_pattern(output);
}

struct EncodeOptions {
  ModelOptions model;
  std::vector<std::string> inputs;
  std::string output;
  std::string features;
};

int run_encode(const EncodeOptions& o) {
  io::require_extension(o.output, kTokenFiles, "the token file");
  if (!o.features.empty()) io::require_extension(o.features, kNpy, "--features");
  const std::string path = model_path(o.model);
  const Model model = load_model(o.model);
  const auto inputs = io::read_input_images(o.inputs, model.config().image_size);
  const auto encoded = model.encode(inputs.images);
  io::OutputFiles outputs;
  if (io::has_extension(o.output, kNpy))
    outputs.write_npy(o.output, encoded.indices);
  else
    outputs.write_text(o.output, tokens_json(encoded.indices, model.config(), path, inputs.sources));
  if (!o.features.empty()) outputs.write_npy(o.features, encoded.features.to(torch::kFloat32));
  outputs.keep();
  return 0;
}

struct DecodeOptions {
  ModelOptions model;
  std::string tokens;
  std::string output;
};

int run_decode(const DecodeOptions& o) {
  io::require_extension(o.tokens, kTokenFiles, "the token file");
  require_image_output(o.output);
  const Model model = load_model(o.model);
  const torch::Tensor tokens = read_tokens(o.tokens, model.config());
  io::OutputFiles outputs;
  outputs.write_images(o.output, model.decode_indices(tokens));
  outputs.keep();
  return 0;
}

struct ReconstructOptions {
  ModelOptions model;
  std::vector<std::string> inputs;
  std::string output;
};

int run_reconstruct(const ReconstructOptions& o) {
  require_image_output(o.output);
  const Model model = load_model(o.model);
  const auto inputs = io::read_input_images(o.inputs, model.config().image_size);
  const torch::Tensor reconstruction = model.decode_indices(model.encode(inputs.images).indices);
  io::OutputFiles outputs;
  outputs.write_images(o.output, reconstruction);
  outputs.keep();
  const auto psnr = eval::psnr_per_image(inputs.images, reconstruction, inputs.from_image_files);
  for (size_t i = 0; i < psnr.size(); ++i)
    std::cout << inputs.sources[i] << ": PSNR " << std::fixed << std::setprecision(2) << psnr[i] << " dB\n";
  return 0;
}

struct EmbedOptions {
  ModelOptions model;
  std::vector<std::string> inputs;
  std::string output;
  std::string semantic;
};

int run_embed(const EmbedOptions& o) {
  io::require_extension(o.output, kNpy, "the output");
  if (!o.semantic.empty()) io::require_extension(o.semantic, kNpy, "--semantic");
  const Model model = load_model(o.model);
  const auto inputs = io::read_input_images(o.inputs, model.config().image_size);
  const torch::Tensor features = model.encode(inputs.images).features;
  io::OutputFiles outputs;
  outputs.write_npy(o.output, Model::understanding_layout(features));
  if (!o.semantic.empty()) outputs.write_npy(o.semantic, model.semantic_reconstruction(features));
  outputs.keep();
  return 0;
}

// A command whose options `Options` holds; they live as long as the returned run.
template <typename Options>
std::pair<CLI::App*, std::shared_ptr<Options>> model_command(CLI::App& app, const std::string& name,
                                                             const std::string& about) {
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand(name, about)->group("Tokenizer");
  add_model_options(command, options->model);
  return {command, options};
}

template <typename Options>
Command bind(CLI::App* command, std::shared_ptr<Options> options, int (*run)(const Options&)) {
  return {command, [options, run](const std::vector<std::string>&) { return run(*options); }};
}

}  // namespace

std::vector<Command> add_tokenizer_commands(CLI::App& app) {
  std::vector<Command> commands;

  auto [encode, e] = model_command<EncodeOptions>(app, "encode", "images -> token indices");
  add_input_images(encode, e->inputs);
  add_output_option(encode, e->output, ".npy (int64 B x L) or .json (tokens per scale)")->required();
  encode->add_option("--features", e->features, "also write the quantised features, .npy B x C x h x w")
      ->group(kOutputGroup);
  commands.push_back(bind(encode, e, run_encode));

  auto [decode, d] = model_command<DecodeOptions>(app, "decode", "token indices -> images");
  decode->add_option("TOKENS", d->tokens, ".npy (int64/int32, B x L or L) or .json from encode")->required();
  add_output_option(decode, d->output, kImageOutputHelp)->required();
  add_tile_option(decode, d->model.tile);
  commands.push_back(bind(decode, d, run_decode));

  auto [reconstruct, r] = model_command<ReconstructOptions>(app, "reconstruct", "encode, decode and print PSNR per image");
  add_input_images(reconstruct, r->inputs);
  add_output_option(reconstruct, r->output, kImageOutputHelp)->required();
  add_tile_option(reconstruct, r->model.tile);
  commands.push_back(bind(reconstruct, r, run_reconstruct));

  auto [embed, m] = model_command<EmbedOptions>(app, "embed", "images -> understanding features B x (h*w) x C");
  add_input_images(embed, m->inputs);
  add_output_option(embed, m->output, ".npy")->required();
  embed->add_option("--semantic", m->semantic, "also write the semantic reconstruction, .npy")->group(kOutputGroup);
  commands.push_back(bind(embed, m, run_embed));

  return commands;
}

}  // namespace tokenflow::cli
