// Token files (include/tokenflow/tokens.h): the one place token indices are validated.
#include <tokenflow/tokens.h>

#include <tokenflow/files.h>
#include <tokenflow/npy.h>

#include "io/shape_string.h"
#include "io/files.h"
#include "nn/weights.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>

namespace tokenflow {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;  // written documents keep their keys in the documented order

std::string scale_list(const std::vector<int>& scales) {
  std::ostringstream text;
  for (size_t i = 0; i < scales.size(); ++i) text << (i ? "," : "") << scales[i];
  return text.str();
}

torch::Tensor tokens_from_npy(const std::string& path) {
  torch::Tensor tokens = io::load_npy(path);
  if (tokens.scalar_type() != torch::kInt64 && tokens.scalar_type() != torch::kInt32)
    throw Error(path + ": expected int64 or int32 token indices, got " + std::string(c10::toString(tokens.scalar_type())));
  if (tokens.dim() == 1) tokens = tokens.unsqueeze(0);
  if (tokens.dim() != 2 || tokens.size(0) == 0)
    throw Error(path + ": expected token indices B x L or L, got " + io::shape_string(tokens.sizes()));
  return tokens.to(torch::kInt64);
}

torch::Tensor tokens_from_json(const json& document, const ModelConfig& config, const std::string& name) {
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
          throw Error(name + ": image " + std::to_string(images) + ", scale " + std::to_string(scale) + " has " +
                      std::to_string(groups[scale].size()) + " tokens, the model's scales " + scale_list(config.scales) +
                      " need " + std::to_string(expected));
        for (const auto& token : groups[scale]) flat.push_back(token.get<int64_t>());
        image_length += expected;
      }
      if (length >= 0 && image_length != length)
        throw Error(name + ": image " + std::to_string(images) + " has " + std::to_string(image_length) +
                    " tokens, image 0 has " + std::to_string(length));
      length = image_length;
      ++images;
    }
  } catch (const json::exception& e) {
    throw Error(name + ": not a token file written by `tokenflow encode`: " + first_line(e.what()));
  }
  if (images == 0) throw Error(name + ": holds no images");
  return torch::tensor(flat, torch::kInt64).view({images, length});
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

}  // namespace

std::vector<int64_t> decodable_token_counts(const ModelConfig& config) {
  std::vector<int64_t> counts;
  int64_t total = 0;
  for (int scale : config.scales) counts.push_back(total += int64_t{scale} * scale);
  return counts;
}

void check_tokens(const torch::Tensor& tokens, const ModelConfig& config, const std::string& name) {
  if (tokens.dim() != 2) throw Error(name + ": expected token indices B x L, got " + io::shape_string(tokens.sizes()));
  if (!c10::isIntegralType(tokens.scalar_type(), /*includeBool=*/false)) throw Error(name + ": token indices must be integers");
  const auto counts = decodable_token_counts(config);
  const int64_t length = tokens.size(1);
  if (std::find(counts.begin(), counts.end(), length) == counts.end())
    throw Error(name + ": " + std::to_string(length) + " tokens per image do not match the scales " +
                scale_list(config.scales) + " (" + std::to_string(counts.empty() ? 0 : counts.back()) +
                " for all, or fewer for whole coarse scales)");
  const torch::Tensor as_long = tokens.to(torch::kCPU, torch::kLong);
  const torch::Tensor out_of_range = as_long.masked_select((as_long < 0).logical_or(as_long >= config.codebook_size));
  if (out_of_range.numel() > 0) {
    const int64_t value = out_of_range[0].item<int64_t>();
    throw Error(name + ": token index " + std::to_string(value) + " is outside the codebook of " +
                std::to_string(config.codebook_size) + " entries (0.." + std::to_string(config.codebook_size - 1) + ")");
  }
}

torch::Tensor parse_tokens_json(const std::string& text, const ModelConfig& config, const std::string& name) {
  json document;
  try {
    document = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(name + ": not valid JSON: " + first_line(e.what()));
  }
  torch::Tensor tokens = tokens_from_json(document, config, name);
  check_tokens(tokens, config, name);
  return tokens;
}

torch::Tensor read_tokens(const std::string& path, const ModelConfig& config) {
  if (!io::has_extension(path, {".npy"})) return parse_tokens_json(io::read_text_file(path), config, path);
  torch::Tensor tokens = tokens_from_npy(path);
  check_tokens(tokens, config, path);
  return tokens;
}

std::string tokens_json(const torch::Tensor& indices, const ModelConfig& config, const std::string& model,
                        const std::vector<std::string>& sources) {
  const torch::Tensor tokens = indices.to(torch::kCPU, torch::kInt64).contiguous();
  if (tokens.dim() != 2 || static_cast<size_t>(tokens.size(0)) != sources.size())
    throw Error("tokens_json: " + std::to_string(sources.size()) + " sources for tokens " + io::shape_string(tokens.sizes()));
  ordered_json images = ordered_json::array();
  for (int64_t i = 0; i < tokens.size(0); ++i)
    images.push_back({{"source", sources[i]}, {"tokens", tokens_by_scale(tokens[i], config.scales)}});
  const ordered_json document = {{"model", model},
                                 {"scales", config.scales},
                                 {"tokens_per_image", tokens.size(1)},
                                 {"codebook_size", config.codebook_size},
                                 {"images", images}};
  return document.dump() + "\n";
}

}  // namespace tokenflow
