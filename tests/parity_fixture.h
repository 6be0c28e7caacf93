#pragma once
// Access to ../shared/parity: the official TokenFlow code's outputs with random weights.
#include "io/npy.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>
#include <string>

namespace tokenflow::testing {

inline std::string parity_path(const std::string& variant, const std::string& file) {
  return std::string(TOKENFLOW_PARITY_DIR) + "/" + variant + "/" + file;
}

inline nlohmann::json parity_config(const std::string& variant) {
  std::ifstream in(parity_path(variant, "config.json"));
  return nlohmann::json::parse(in);
}

inline torch::Tensor parity_tensor(const std::string& variant, const std::string& name) {
  return io::load_npy(parity_path(variant, name + ".npy"));
}

// The largest absolute difference, printed per tensor as llm.c does, and checked against `limit`.
inline void expect_close(const torch::Tensor& actual, const torch::Tensor& expected, double limit,
                         const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  const double diff = (actual.to(torch::kDouble) - expected.to(torch::kDouble)).abs().max().item<double>();
  std::printf("  %-28s max |diff| = %.3e (limit %.0e)\n", what.c_str(), diff, limit);
  EXPECT_LE(diff, limit) << what;
}

}  // namespace tokenflow::testing
