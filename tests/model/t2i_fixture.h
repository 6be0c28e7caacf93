#pragma once
// Reading ../shared/parity/t2i: its expected arrays, prompts.json, and the relative difference its
// README's tolerances are stated in.
#include "parity_fixture.h"

namespace tokenflow::testing {

inline torch::Tensor t2i_expected(const std::string& name) { return io::load_npy(parity_path("t2i", "expected/" + name + ".npy")); }

inline nlohmann::json t2i_prompts() {
  std::ifstream in(parity_path("t2i", "expected/prompts.json"));
  return nlohmann::json::parse(in);
}

// Largest absolute difference over the reference's largest absolute value, where `where` holds.
inline double relative_difference(const torch::Tensor& actual, const torch::Tensor& reference, const torch::Tensor& where) {
  const auto a = actual.index({where}).to(torch::kDouble), r = reference.index({where}).to(torch::kDouble);
  return ((a - r).abs().max() / r.abs().max()).item<double>();
}

}  // namespace tokenflow::testing
