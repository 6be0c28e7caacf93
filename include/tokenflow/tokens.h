#pragma once
// Token files, the tokenizer's output format, and the one check every token index passes before a
// model decodes it.
//   .npy:  int64 (or int32) B x L, or L for one image.
//   .json: {"model", "scales", "tokens_per_image", "codebook_size",
//           "images": [{"source", "tokens": [[scale 0's tokens], [scale 1's], ...]}, ...]}
// L is the token count of all scales, or of whole coarse scales only (the official decode_code
// accepts any such prefix).
#include <tokenflow/tokenizer.h>

#include <torch/torch.h>

#include <string>
#include <vector>

namespace tokenflow {

// The token counts `config` can decode: whole scales, coarse to fine.
std::vector<int64_t> decodable_token_counts(const ModelConfig& config);
// Throws tokenflow::Error("<name>: ...") unless `tokens` is an integer B x L tensor with L in
// decodable_token_counts(config) and every value inside the codebook.
void check_tokens(const torch::Tensor& tokens, const ModelConfig& config, const std::string& name);

// Reads a token file (by extension: .npy, else JSON) and checks it against `config`. B x L int64.
torch::Tensor read_tokens(const std::string& path, const ModelConfig& config);
// The same from a JSON document in memory; `name` is only for errors.
torch::Tensor parse_tokens_json(const std::string& text, const ModelConfig& config, const std::string& name);

// The JSON document of `tokens` (B x L): `model` names the checkpoint, `sources` one name per image.
std::string tokens_json(const torch::Tensor& tokens, const ModelConfig& config, const std::string& model,
                        const std::vector<std::string>& sources);

}  // namespace tokenflow
