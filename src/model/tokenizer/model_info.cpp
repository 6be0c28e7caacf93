// What a model is, as data (include/tokenflow/checkpoint.h): `tokenflow info`.
#include <tokenflow/checkpoint.h>

#include <nlohmann/json.hpp>

#include <iomanip>
#include <sstream>

namespace tokenflow {

namespace {

using nlohmann::ordered_json;  // the documented key order

std::string numbers(const std::vector<int>& values) {
  std::ostringstream text;
  for (size_t i = 0; i < values.size(); ++i) text << (i ? "," : "") << values[i];
  return text.str();
}

}  // namespace

std::string model_info_json(const std::string& path, const Model& model) {
  const ModelConfig& c = model.config();
  const ordered_json document = {
      {"model", path},
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
      {"metadata", model.metadata()}};
  return document.dump(2) + "\n";
}

std::string model_info_text(const std::string& path, const Model& model) {
  const ModelConfig& c = model.config();
  std::ostringstream text;
  const auto line = [&text](const std::string& key, const std::string& value) {
    text << std::left << std::setw(17) << (key + ":") << " " << value << "\n";
  };
  const auto n = [](int64_t value) { return std::to_string(value); };
  line("model", path);
  line("teacher", c.teacher_name());
  line("image size", n(c.image_size));
  line("scales", numbers(c.scales));
  line("tokens per image", n(c.tokens_per_image));
  line("codebook size", n(c.codebook_size));
  line("code dims", n(c.semantic_code_dim) + " semantic + " + n(c.pixel_code_dim) + " pixel = " + n(c.code_dim()));
  line("semantic encoder", "width " + n(c.semantic_width) + ", layers " + n(c.semantic_layers) + ", heads " +
                               n(c.semantic_heads) + ", patch " + n(c.semantic_patch));
  line("semantic decoder", "width " + n(c.semantic_decoder_width) + ", layers " + n(c.semantic_decoder_layers) +
                               ", heads " + n(c.semantic_decoder_heads) + ", output dim " + n(c.semantic_output_dim));
  line("pixel encoder", "ch " + n(c.encoder_ch) + ", ch_mult " + numbers(c.encoder_ch_mult) + ", res blocks " +
                            n(c.encoder_res_blocks) + ", z_channels " + n(c.z_channels));
  line("pixel decoder", "ch " + n(c.decoder_ch) + ", ch_mult " + numbers(c.decoder_ch_mult) + ", res blocks " +
                            n(c.decoder_res_blocks) + ", z_channels " + n(c.z_channels));
  line("pixel input size", n(c.pixel_image_size));
  line("parameters", n(c.parameter_count));
  if (!model.metadata().empty()) {
    text << "provenance:\n";
    for (const auto& [key, value] : model.metadata()) line("  " + key, value);
  }
  return text.str();
}

}  // namespace tokenflow
