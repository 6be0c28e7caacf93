// tokenflow: the command-line front end of the TokenFlow tokenizer.
//
//   tokenflow encode      [-m MODEL] IN... -o TOKENS.{npy,json} [--features QUANT.npy]
//   tokenflow decode      [-m MODEL] TOKENS.{npy,json} -o OUT.{npy,png,jpg}
//   tokenflow reconstruct [-m MODEL] IN... -o OUT.{npy,png,jpg}
//   tokenflow embed       [-m MODEL] IN... -o FEATURES.npy [--semantic SEMANTIC.npy]
//   tokenflow info        [-m MODEL] [--json] [-o FILE]
//   tokenflow convert     -m MODEL.pt -o MODEL.safetensors   (or: convert MODEL.pt MODEL.safetensors)
//                         [--weights model|ema] [--dtype fp32|bf16|fp16] [--metadata KEY=VALUE]...
//   tokenflow train       --data DIR --teacher CLIP.pt --perceptual LPIPS.pt|none -o RUN [--config RUN.toml] ...
//   tokenflow plot        RUN/log.jsonl -o LOSS.png [--keys KEY...] [--smooth N] [--log-y]
//   tokenflow train-teacher --captions data/captions.tsv --train-list data/train.txt [--val-list data/val.txt] -o RUN ...
//   tokenflow eval-teacher  -m RUN/checkpoints/N.pt --captions data/captions.tsv --list data/val.txt
//   tokenflow evaluate    [-m MODEL] --list data/val.txt [--teacher TEACHER.pt [--captions data/captions.tsv]]
//                         [--contact-sheet SHEET.png [--sheet-images N]] [-o METRICS.json] [--batch-size B]
//
// Without -m, MODEL is tokenflow::default_model_path(): $TOKENFLOW_MODEL, else the shipped model.
// IN is image files (a batch) or one .npy tensor B x 3 x S x S in [-1, 1]. Failures print one line,
// `tokenflow: error: ...`, exit with status 1 (2 for a command-line mistake) and leave no output.
#include <tokenflow/tokenflow.h>

#include "io/checkpoint.h"
#include "io/files.h"
#include "io/image.h"
#include "io/npy.h"
#include "io/torch_archive.h"
#include "train/image_quality.h"
#include "train/loss_plot.h"
#include "train/optimizer_state.h"
#include "evaluate_command.h"
#include "train_command.h"
#include "train_teacher_command.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;  // written documents keep their keys in the documented order
using tokenflow::Error;
using tokenflow::Model;
using tokenflow::ModelConfig;

// ---------------------------------------------------------------------------------------------
// Paths and messages

std::string lowercase_extension(const std::string& path) {
  std::string extension = fs::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension;
}

bool has_extension(const std::string& path, const std::vector<std::string>& extensions) {
  return std::find(extensions.begin(), extensions.end(), lowercase_extension(path)) != extensions.end();
}

const std::vector<std::string> kNpy = {".npy"};
const std::vector<std::string> kTokenFiles = {".npy", ".json"};
const std::vector<std::string> kPixelFiles = {".npy", ".png", ".jpg", ".jpeg"};

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string joined;
  for (size_t i = 0; i < items.size(); ++i) joined += (i ? separator : "") + items[i];
  return joined;
}

template <typename Number>
std::string join_numbers(const std::vector<Number>& numbers, const std::string& separator = ",") {
  std::vector<std::string> items;
  for (Number n : numbers) items.push_back(std::to_string(n));
  return join(items, separator);
}

std::string shape_of(const torch::Tensor& tensor) {
  std::ostringstream text;
  text << tensor.sizes();
  return text.str();
}

// Checked before any work, so a wrong output name costs nothing and leaves nothing behind.
void require_extension(const std::string& path, const std::vector<std::string>& extensions,
                       const std::string& what) {
  if (!has_extension(path, extensions))
    throw Error(path + ": " + what + " must end in " + join(extensions, " or "));
}

std::string first_line(const std::string& message) {
  std::string line = message.substr(0, message.find('\n'));
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  return line.empty() ? "unknown error" : line;
}

// ---------------------------------------------------------------------------------------------
// Outputs: every file is written to a temporary name and renamed (io::AtomicFileWriter), and files
// already written are removed again if a later step fails, so a failed command leaves no output.

class WrittenFiles {
 public:
  WrittenFiles() = default;
  WrittenFiles(const WrittenFiles&) = delete;
  WrittenFiles& operator=(const WrittenFiles&) = delete;
  ~WrittenFiles() {
    if (kept_) return;
    std::error_code ignored;
    for (const auto& path : paths_) fs::remove(path, ignored);
  }
  void add(const std::string& path) { paths_.push_back(path); }
  void keep() { kept_ = true; }

 private:
  std::vector<std::string> paths_;
  bool kept_ = false;
};

void write_text(const std::string& path, const std::string& text, WrittenFiles& written) {
  tokenflow::io::write_text_file(path, text);
  written.add(path);
}

void write_npy(const std::string& path, const torch::Tensor& tensor, WrittenFiles& written) {
  tokenflow::io::save_npy(path, tensor.contiguous());
  written.add(path);
}

// out.png -> out_0.png, out_1.png, ... for image i of a batch.
std::string numbered_path(const std::string& path, int64_t index) {
  const fs::path original(path);
  fs::path numbered = original.parent_path() /
                      (original.stem().string() + "_" + std::to_string(index) + original.extension().string());
  return numbered.string();
}

// A .npy gets the whole batch B x 3 x H x W; an image file gets one image, or one file per image
// with _0, _1, ... before the extension when the batch holds several.
void write_pixels(const std::string& path, const torch::Tensor& images, WrittenFiles& written) {
  if (has_extension(path, kNpy)) {
    write_npy(path, images.to(torch::kFloat32), written);
    return;
  }
  const int64_t batch = images.size(0);
  for (int64_t i = 0; i < batch; ++i) {
    const std::string image_path = batch == 1 ? path : numbered_path(path, i);
    tokenflow::io::save_image(image_path, images[i]);
    written.add(image_path);
  }
}

// ---------------------------------------------------------------------------------------------
// Inputs

struct Inputs {
  torch::Tensor images;              // B x 3 x S x S in [-1, 1]
  std::vector<std::string> sources;  // one name per image, for messages and token files
  bool from_npy = false;
};

Inputs load_npy_input(const std::string& path, int image_size) {
  torch::Tensor images = tokenflow::io::load_npy(path);
  const bool fits = images.dim() == 4 && images.size(0) > 0 && images.size(1) == 3 &&
                    images.size(2) == image_size && images.size(3) == image_size &&
                    images.is_floating_point();
  if (!fits) {
    const std::string size = std::to_string(image_size);
    throw Error(path + ": expected float images B x 3 x " + size + " x " + size + " in [-1, 1], got " +
                c10::toString(images.scalar_type()) + " " + shape_of(images));
  }
  Inputs inputs{images.to(torch::kFloat32), {}, true};
  for (int64_t i = 0; i < images.size(0); ++i) inputs.sources.push_back(path + "[" + std::to_string(i) + "]");
  return inputs;
}

// Image files are preprocessed as the official code does (centre crop, resize to the model's size).
Inputs load_inputs(const std::vector<std::string>& paths, int image_size) {
  const bool any_npy = std::any_of(paths.begin(), paths.end(), [](const std::string& p) { return has_extension(p, kNpy); });
  if (any_npy) {
    if (paths.size() != 1) throw Error("a .npy input must be the only input (it holds the whole batch)");
    return load_npy_input(paths[0], image_size);
  }
  std::vector<torch::Tensor> images;
  for (const auto& path : paths) images.push_back(tokenflow::io::load_image(path, image_size));
  return Inputs{torch::cat(images), paths, false};
}

// ---------------------------------------------------------------------------------------------
// Tokens

// Token counts the model can decode: whole scales, coarse to fine (the official decode_code
// accepts any such prefix).
std::vector<int64_t> decodable_token_counts(const ModelConfig& config) {
  std::vector<int64_t> counts;
  int64_t total = 0;
  for (int scale : config.scales) counts.push_back(total += int64_t{scale} * scale);
  return counts;
}

void check_tokens(const std::string& path, const torch::Tensor& tokens, const ModelConfig& config) {
  const auto counts = decodable_token_counts(config);
  const int64_t length = tokens.size(1);
  if (std::find(counts.begin(), counts.end(), length) == counts.end())
    throw Error(path + ": " + std::to_string(length) + " tokens per image do not match the scales " +
                join_numbers(config.scales) + " (" + std::to_string(counts.back()) +
                " for all, or fewer for whole coarse scales)");
  const torch::Tensor out_of_range = tokens.masked_select((tokens < 0).logical_or(tokens >= config.codebook_size));
  if (out_of_range.numel() > 0) {
    const int64_t value = out_of_range[0].item<int64_t>();
    throw Error(path + ": token index " + std::to_string(value) + " is outside the codebook of " +
                std::to_string(config.codebook_size) + " entries (0.." +
                std::to_string(config.codebook_size - 1) + ")");
  }
}

torch::Tensor tokens_from_npy(const std::string& path) {
  torch::Tensor tokens = tokenflow::io::load_npy(path);
  if (tokens.scalar_type() != torch::kInt64 && tokens.scalar_type() != torch::kInt32)
    throw Error(path + ": expected int64 or int32 token indices, got " +
                std::string(c10::toString(tokens.scalar_type())));
  if (tokens.dim() == 1) tokens = tokens.unsqueeze(0);
  if (tokens.dim() != 2 || tokens.size(0) == 0)
    throw Error(path + ": expected token indices B x L or L, got " + shape_of(tokens));
  return tokens.to(torch::kInt64);
}

json read_json(const std::string& path) {
  std::ifstream file = tokenflow::io::open_for_reading(path);
  try {
    return json::parse(file);
  } catch (const json::exception& e) {
    throw Error(path + ": not valid JSON: " + first_line(e.what()));
  }
}

// The JSON written by `encode`: per image, one list of tokens per scale.
torch::Tensor tokens_from_json(const std::string& path, const ModelConfig& config) {
  const json document = read_json(path);
  std::vector<int64_t> flat;
  int64_t images = 0;
  int64_t length = -1;
  try {
    for (const auto& image : document.at("images")) {
      const auto& groups = image.at("tokens");
      int64_t image_length = 0;
      for (size_t scale = 0; scale < groups.size(); ++scale) {
        const int64_t expected = scale < config.scales.size() ? int64_t{config.scales[scale]} * config.scales[scale] : 0;
        if (int64_t(groups[scale].size()) != expected)
          throw Error(path + ": image " + std::to_string(images) + ", scale " + std::to_string(scale) + " has " +
                      std::to_string(groups[scale].size()) + " tokens, the model's scales " +
                      join_numbers(config.scales) + " need " + std::to_string(expected));
        for (const auto& token : groups[scale]) flat.push_back(token.get<int64_t>());
        image_length += expected;
      }
      if (length >= 0 && image_length != length)
        throw Error(path + ": image " + std::to_string(images) + " has " + std::to_string(image_length) +
                    " tokens, image 0 has " + std::to_string(length));
      length = image_length;
      ++images;
    }
  } catch (const json::exception& e) {
    throw Error(path + ": not a token file written by `tokenflow encode`: " + first_line(e.what()));
  }
  if (images == 0) throw Error(path + ": holds no images");
  return torch::tensor(flat, torch::kInt64).view({images, length});
}

torch::Tensor read_tokens(const std::string& path, const ModelConfig& config) {
  torch::Tensor tokens = has_extension(path, kNpy) ? tokens_from_npy(path) : tokens_from_json(path, config);
  check_tokens(path, tokens, config);
  return tokens;
}

ordered_json tokens_by_scale(const torch::Tensor& row, const std::vector<int>& scales) {
  const auto tokens = row.accessor<int64_t, 1>();
  ordered_json groups = ordered_json::array();
  int64_t start = 0;
  for (int scale : scales) {
    if (start >= tokens.size(0)) break;
    ordered_json group = ordered_json::array();
    for (int64_t k = 0; k < int64_t{scale} * scale; ++k) group.push_back(tokens[start + k]);
    groups.push_back(std::move(group));
    start += int64_t{scale} * scale;
  }
  return groups;
}

std::string tokens_json(const std::string& model_path, const Inputs& inputs, const torch::Tensor& indices,
                        const ModelConfig& config) {
  const torch::Tensor tokens = indices.to(torch::kInt64).contiguous();
  ordered_json images = ordered_json::array();
  for (int64_t i = 0; i < tokens.size(0); ++i)
    images.push_back({{"source", inputs.sources[i]}, {"tokens", tokens_by_scale(tokens[i], config.scales)}});
  const ordered_json document = {{"model", model_path},
                         {"scales", config.scales},
                         {"tokens_per_image", tokens.size(1)},
                         {"codebook_size", config.codebook_size},
                         {"images", images}};
  return document.dump() + "\n";
}

// ---------------------------------------------------------------------------------------------
// Commands

struct CommonOptions {
  std::string model;
  std::string output;
  int threads = 0;
  std::string precision = "auto";
  std::string device = "cpu";
  int tile = 0;
};

// The model a command uses: -m when given, else the default, which must then exist.
std::string model_or_default(const std::string& given) {
  if (!given.empty()) return given;
  const std::string fallback = tokenflow::default_model_path();
  if (!fs::exists(fallback)) throw Error("no model given (-m) and the default model " + fallback + " is missing");
  return fallback;
}

Model load_model(const CommonOptions& common) {
  tokenflow::set_num_threads(common.threads);
  tokenflow::single_threaded_blas();
  tokenflow::LoadOptions options;
  options.precision = tokenflow::parse_precision(common.precision);
  options.device = common.device;
  options.tile = common.tile;
  return Model::load(common.model, options);
}

struct EncodeOptions {
  std::vector<std::string> inputs;
  std::string features;
};

void run_encode(const CommonOptions& common, const EncodeOptions& options) {
  require_extension(common.output, kTokenFiles, "the token file");
  if (!options.features.empty()) require_extension(options.features, kNpy, "--features");
  const Model model = load_model(common);
  const Inputs inputs = load_inputs(options.inputs, model.config().image_size);
  const auto encoded = model.encode(inputs.images);
  WrittenFiles written;
  if (has_extension(common.output, kNpy))
    write_npy(common.output, encoded.indices.to(torch::kInt64), written);
  else
    write_text(common.output, tokens_json(common.model, inputs, encoded.indices, model.config()), written);
  if (!options.features.empty()) write_npy(options.features, encoded.features.to(torch::kFloat32), written);
  written.keep();
}

void run_decode(const CommonOptions& common, const std::string& tokens_path) {
  require_extension(tokens_path, kTokenFiles, "the token file");
  require_extension(common.output, kPixelFiles, "the output");
  const Model model = load_model(common);
  const torch::Tensor tokens = read_tokens(tokens_path, model.config());
  WrittenFiles written;
  write_pixels(common.output, model.decode_indices(tokens), written);
  written.keep();
}

void run_reconstruct(const CommonOptions& common, const std::vector<std::string>& input_paths) {
  require_extension(common.output, kPixelFiles, "the output");
  const Model model = load_model(common);
  const Inputs inputs = load_inputs(input_paths, model.config().image_size);
  const torch::Tensor reconstruction = model.decode_indices(model.encode(inputs.images).indices);
  WrittenFiles written;
  write_pixels(common.output, reconstruction, written);
  written.keep();
  const auto psnr = tokenflow::train::psnr_per_image(inputs.images, reconstruction, !inputs.from_npy);
  for (size_t i = 0; i < psnr.size(); ++i)
    std::cout << inputs.sources[i] << ": PSNR " << std::fixed << std::setprecision(2) << psnr[i] << " dB\n";
}

struct EmbedOptions {
  std::vector<std::string> inputs;
  std::string semantic;
};

void run_embed(const CommonOptions& common, const EmbedOptions& options) {
  require_extension(common.output, kNpy, "the output");
  if (!options.semantic.empty()) require_extension(options.semantic, kNpy, "--semantic");
  const Model model = load_model(common);
  const Inputs inputs = load_inputs(options.inputs, model.config().image_size);
  const torch::Tensor features = model.encode(inputs.images).features;
  WrittenFiles written;
  write_npy(common.output, Model::understanding_layout(features), written);
  if (!options.semantic.empty()) write_npy(options.semantic, model.semantic_reconstruction(features), written);
  written.keep();
}

using Metadata = std::map<std::string, std::string>;

ordered_json config_json(const std::string& model_path, const ModelConfig& c, const Metadata& metadata) {
  return {{"model", model_path},
          {"teacher", c.teacher_name()},
          {"image_size", c.image_size},
          {"scales", c.scales},
          {"tokens_per_image", c.tokens_per_image},
          {"codebook_size", c.codebook_size},
          {"semantic_code_dim", c.semantic_code_dim},
          {"pixel_code_dim", c.pixel_code_dim},
          {"semantic_encoder", {{"width", c.semantic_width}, {"layers", c.semantic_layers},
                                {"heads", c.semantic_heads}, {"patch", c.semantic_patch}}},
          {"semantic_decoder", {{"width", c.semantic_decoder_width}, {"layers", c.semantic_decoder_layers},
                                {"heads", c.semantic_decoder_heads}, {"output_dim", c.semantic_output_dim}}},
          {"pixel_encoder", {{"ch", c.encoder_ch}, {"ch_mult", c.encoder_ch_mult},
                             {"res_blocks", c.encoder_res_blocks}, {"z_channels", c.z_channels}}},
          {"pixel_decoder", {{"ch", c.decoder_ch}, {"ch_mult", c.decoder_ch_mult},
                             {"res_blocks", c.decoder_res_blocks}, {"z_channels", c.z_channels}}},
          {"pixel_image_size", c.pixel_image_size},
          {"parameter_count", c.parameter_count},
          {"metadata", metadata}};
}

std::string config_text(const std::string& model_path, const ModelConfig& c, const Metadata& metadata) {
  std::ostringstream text;
  const auto line = [&text](const std::string& key, const std::string& value) {
    text << std::left << std::setw(17) << (key + ":") << " " << value << "\n";
  };
  line("model", model_path);
  line("teacher", c.teacher_name());
  line("image size", std::to_string(c.image_size));
  line("scales", join_numbers(c.scales));
  line("tokens per image", std::to_string(c.tokens_per_image));
  line("codebook size", std::to_string(c.codebook_size));
  line("code dims", std::to_string(c.semantic_code_dim) + " semantic + " + std::to_string(c.pixel_code_dim) +
                        " pixel = " + std::to_string(c.code_dim()));
  line("semantic encoder", "width " + std::to_string(c.semantic_width) + ", layers " +
                               std::to_string(c.semantic_layers) + ", heads " + std::to_string(c.semantic_heads) +
                               ", patch " + std::to_string(c.semantic_patch));
  line("semantic decoder", "width " + std::to_string(c.semantic_decoder_width) + ", layers " +
                               std::to_string(c.semantic_decoder_layers) + ", heads " +
                               std::to_string(c.semantic_decoder_heads) + ", output dim " +
                               std::to_string(c.semantic_output_dim));
  line("pixel encoder", "ch " + std::to_string(c.encoder_ch) + ", ch_mult " + join_numbers(c.encoder_ch_mult) +
                            ", res blocks " + std::to_string(c.encoder_res_blocks) + ", z_channels " +
                            std::to_string(c.z_channels));
  line("pixel decoder", "ch " + std::to_string(c.decoder_ch) + ", ch_mult " + join_numbers(c.decoder_ch_mult) +
                            ", res blocks " + std::to_string(c.decoder_res_blocks) + ", z_channels " +
                            std::to_string(c.z_channels));
  line("pixel input size", std::to_string(c.pixel_image_size));
  line("parameters", std::to_string(c.parameter_count));
  if (!metadata.empty()) {
    text << "provenance:\n";
    for (const auto& [key, value] : metadata) line("  " + key, value);
  }
  return text.str();
}

void run_info(const CommonOptions& common, bool as_json) {
  const Model model = load_model(common);
  const std::string text = as_json ? config_json(common.model, model.config(), model.metadata()).dump(2) + "\n"
                                   : config_text(common.model, model.config(), model.metadata());
  if (common.output.empty()) {
    std::cout << text;
    return;
  }
  WrittenFiles written;
  write_text(common.output, text, written);
  written.keep();
}

struct ConvertOptions {
  std::string weights;                // "model" or "ema"; empty: ema when the checkpoint has one, else model
  std::string dtype;                  // "fp32", "bf16" or "fp16"; empty: as stored
  std::vector<std::string> metadata;  // KEY=VALUE, validated by kMetadataEntry
};

const std::map<std::string, torch::ScalarType> kStoredDtypes = {
    {"fp32", torch::kFloat32}, {"bf16", torch::kBFloat16}, {"fp16", torch::kFloat16}};

// Float tensors that hold codebook indices rather than weights: the training's usage window (float32
// in the official code too) would lose every index above 256 in bfloat16, above 2048 in float16.
const std::vector<std::string> kIndexTensors = {"quantize.codebook_used"};

// Casts the weights; integer and bool tensors and kIndexTensors keep their stored type.
void cast_floating_tensors(tokenflow::io::StateDict& state, torch::ScalarType dtype, const std::string& path) {
  for (auto& [name, tensor] : state.tensors) {
    const bool holds_indices = std::find(kIndexTensors.begin(), kIndexTensors.end(), name) != kIndexTensors.end();
    if (!tensor.is_floating_point() || holds_indices) continue;
    torch::Tensor cast = tensor.to(dtype);
    // float16 tops out at 65504; a weight beyond it would silently become infinite.
    if (!torch::equal(torch::isfinite(cast), torch::isfinite(tensor)))
      throw Error(path + ": tensor " + name + " has values beyond the range of " + c10::toString(dtype) +
                  " (bf16 keeps float32's range)");
    tensor = std::move(cast);
  }
}

// A `tokenflow train` checkpoint records its step count under `steps`; other checkpoints have none.
std::optional<int64_t> training_steps(const std::string& path) {
  if (!tokenflow::io::is_torch_archive(path)) return std::nullopt;
  const tokenflow::io::TorchArchive archive(path);
  if (archive.root().get("steps") == nullptr) return std::nullopt;
  return tokenflow::train::checkpoint_steps(archive, path);
}

void run_convert(const CommonOptions& common, const ConvertOptions& options) {
  require_extension(common.output, {".safetensors"}, "the output");
  tokenflow::set_num_threads(common.threads);
  auto state = options.weights.empty() ? tokenflow::io::load_state_dict(common.model)
                                       : tokenflow::io::load_state_dict(common.model, options.weights);
  if (!options.dtype.empty()) cast_floating_tensors(state, kStoredDtypes.at(options.dtype), common.model);
  // A safetensors input keeps its metadata; the step count and --metadata add to it, later ones winning.
  if (const auto steps = training_steps(common.model)) state.metadata["steps"] = std::to_string(*steps);
  for (const std::string& entry : options.metadata) {
    const size_t equals = entry.find('=');
    state.metadata[entry.substr(0, equals)] = entry.substr(equals + 1);
  }
  tokenflow::io::save_safetensors(common.output, state);
}

// ---------------------------------------------------------------------------------------------
// Command line

// CLI11's NonNegativeNumber would print the largest double in its message.
const CLI::Validator kThreadCount(
    [](std::string& text) { return !text.empty() && text[0] == '-' ? std::string("must be 0 or more") : std::string(); },
    "N >= 0");

const CLI::Validator kMetadataEntry(
    [](std::string& text) {
      const size_t equals = text.find('=');
      return equals == std::string::npos || equals == 0 ? "expected KEY=VALUE, got '" + text + "'" : std::string();
    },
    "KEY=VALUE");

CLI::App* add_command(CLI::App& app, const std::string& name, const std::string& about, CommonOptions& common) {
  CLI::App* command = app.add_subcommand(name, about);
  command->add_option("-m,--model", common.model,
                      "checkpoint: .pt (torch.save) or .safetensors. Default: $TOKENFLOW_MODEL if set, else the "
                      "model shipped in models/; now " + tokenflow::default_model_path());
  command->add_option("-t,--threads", common.threads, "CPU threads (0: one per core)")
      ->check(kThreadCount);
  command->add_option("--precision", common.precision,
                      "fp32 (exact), bf16 (fastest; flips fine-scale tokens), mixed (fp32 encoding, bf16 "
                      "decoding) or auto (the default: mixed where the hardware has bf16, else fp32)")
      ->check(CLI::IsMember({"fp32", "bf16", "mixed", "auto"}));
  command->add_option("--device", common.device, "cpu, or cuda[:N] with a CUDA build of LibTorch");
  return command;
}

void add_tile_option(CLI::App* command, int& tile) {
  command->add_option("--tile", tile,
                      "decode in overlapping tiles of N x N feature positions (N >= 2), blended without seams: the "
                      "decoder's large maps exist one tile at a time; close to the whole decoding, and slower "
                      "(0: whole, the default)")
      ->check(CLI::Range(0, 1 << 20) & !CLI::IsMember({1}));
}

void add_inputs(CLI::App* command, std::vector<std::string>& inputs) {
  command->add_option("IN", inputs, "image files (one batch), or one .npy B x 3 x S x S in [-1, 1]")
      ->required();
}

int fail(const std::string& message, int status) {
  std::cerr << "tokenflow: error: " << first_line(message) << std::endl;
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  tokenflow::reuse_freed_memory();
  CLI::App app{"tokenflow: the TokenFlow image tokenizer (Qu et al., CVPR 2025) on LibTorch"};
  app.require_subcommand(1);
  CommonOptions common;

  EncodeOptions encode;
  CLI::App* encode_command = add_command(app, "encode", "images -> token indices", common);
  add_inputs(encode_command, encode.inputs);
  encode_command->add_option("-o,--output", common.output, ".npy (int64 B x L) or .json (tokens per scale)")
      ->required();
  encode_command->add_option("--features", encode.features, "also write the quantised features, .npy B x C x h x w");

  std::string tokens_path;
  CLI::App* decode_command = add_command(app, "decode", "token indices -> images", common);
  decode_command->add_option("TOKENS", tokens_path, ".npy (int64/int32, B x L or L) or .json from encode")
      ->required();
  decode_command->add_option("-o,--output", common.output, ".npy (B x 3 x H x W) or .png/.jpg (_0, _1, ... per image when B > 1)")
      ->required();
  add_tile_option(decode_command, common.tile);

  std::vector<std::string> reconstruct_inputs;
  CLI::App* reconstruct_command = add_command(app, "reconstruct", "encode, decode and print PSNR per image", common);
  add_inputs(reconstruct_command, reconstruct_inputs);
  reconstruct_command->add_option("-o,--output", common.output, ".npy or .png/.jpg (_0, _1, ... per image when B > 1)")
      ->required();
  add_tile_option(reconstruct_command, common.tile);

  EmbedOptions embed;
  CLI::App* embed_command = add_command(app, "embed", "images -> understanding features B x (h*w) x C", common);
  add_inputs(embed_command, embed.inputs);
  embed_command->add_option("-o,--output", common.output, ".npy")->required();
  embed_command->add_option("--semantic", embed.semantic, "also write the semantic reconstruction, .npy");

  bool info_as_json = false;
  CLI::App* info_command = add_command(app, "info", "print the configuration detected from a checkpoint", common);
  info_command->add_option("-o,--output", common.output, "write to this file instead of stdout");
  info_command->add_flag("--json", info_as_json, "print JSON");

  ConvertOptions convert;
  CLI::App* convert_command = app.add_subcommand("convert", "write a checkpoint's state dict as .safetensors");
  convert_command->add_option("-m,--model,IN", common.model, "checkpoint: .pt (a training checkpoint too) or .safetensors")
      ->required();
  convert_command->add_option("-o,--output,OUT", common.output, ".safetensors")->required();
  convert_command->add_option("--weights", convert.weights,
                              "the state dict of a .pt to write: model or ema (default: ema when there is one)")
      ->check(CLI::IsMember({"model", "ema"}));
  convert_command->add_option("--dtype", convert.dtype, "cast floating tensors: fp32, bf16 or fp16 (default: as stored)")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  convert_command->add_option("--metadata", convert.metadata,
                              "KEY=VALUE for the file's __metadata__ (repeatable); a training checkpoint adds "
                              "steps=N unless given")
      ->allow_extra_args(false)  // one entry per --metadata, so that IN OUT after it stay positional
      ->check(kMetadataEntry);
  convert_command->add_option("-t,--threads", common.threads, "CPU threads (0: one per core)")
      ->check(kThreadCount);

  tokenflow::cli::TrainCommand train(app);
  tokenflow::cli::TeacherCommands teacher(app);
  tokenflow::cli::EvaluateCommand evaluate(
      add_command(app, "evaluate", "PSNR, SSIM, codebook usage and semantic measures on a list of held-out images", common));

  tokenflow::train::LossPlotOptions plot;
  std::string plot_log;
  CLI::App* plot_command = app.add_subcommand("plot", "draw the curves of a training log as a PNG");
  plot_command->add_option("LOG", plot_log, "a training run's log.jsonl")->required();
  plot_command->add_option("-o,--output", common.output, ".png")->required();
  plot_command->add_option("--keys", plot.keys, "log keys to draw (space- or comma-separated)")
      ->delimiter(',')->capture_default_str();
  plot_command->add_option("--smooth", plot.smooth, "moving average over N logged values")->capture_default_str();
  plot_command->add_option("--width", plot.width, "pixels")->capture_default_str();
  plot_command->add_option("--height", plot.height, "pixels")->capture_default_str();
  plot_command->add_flag("--log-y", plot.log_y, "logarithmic y axis (values <= 0 are left out)");
  plot_command->add_option("--title", plot.title, "the title (default: the log's path)");

  std::vector<std::string> arguments(argv, argv + argc);
  try {
    if (arguments.size() > 1 && arguments[1] == "train") arguments = tokenflow::cli::merge_config_file(arguments, *app.get_subcommand("train"));
    std::vector<std::string> reversed(arguments.rbegin(), arguments.rend() - 1);  // CLI11 takes them reversed, without argv[0]
    app.parse(reversed);
  } catch (const tokenflow::Error& e) {
    return fail(e.what(), 2);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& e) {
    return fail(e.what(), 2);
  }

  if (train.parsed() || teacher.parsed()) {
    try {
      return train.parsed() ? train.run(arguments) : teacher.run();
    } catch (const c10::Error& e) {
      return fail(e.what_without_backtrace(), 1);
    } catch (const std::exception& e) {
      return fail(e.what(), 1);
    }
  }

  try {
    torch::NoGradGuard no_grad;
    for (const CLI::App* command : {encode_command, decode_command, reconstruct_command, embed_command, info_command,
                                    app.get_subcommand("evaluate")})
      if (command->parsed()) common.model = model_or_default(common.model);
    if (encode_command->parsed()) run_encode(common, encode);
    if (decode_command->parsed()) run_decode(common, tokens_path);
    if (reconstruct_command->parsed()) run_reconstruct(common, reconstruct_inputs);
    if (embed_command->parsed()) run_embed(common, embed);
    if (info_command->parsed()) run_info(common, info_as_json);
    if (evaluate.parsed()) evaluate.run(common.model, [&common] { return load_model(common); });
    if (convert_command->parsed()) run_convert(common, convert);
    if (plot_command->parsed()) tokenflow::train::plot_training_log(plot_log, common.output, plot);
  } catch (const c10::Error& e) {
    return fail(e.what_without_backtrace(), 1);
  } catch (const std::exception& e) {
    return fail(e.what(), 1);
  }
  return 0;
}
