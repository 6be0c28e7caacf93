#pragma once
// The parity fixtures: the official TokenFlow code's outputs with random weights, which live outside
// the repository (scripts/parity/ rebuilds them). Where they are: $TOKENFLOW_PARITY_DIR when set, else
// ../shared/parity beside the checkout (TOKENFLOW_DEFAULT_PARITY_DIR) when it exists. A test that
// needs one skips with a line naming what is missing, or fails when $TOKENFLOW_REQUIRE_PARITY is 1
// (as .ci/run sets it), so that CI can never pass by skipping.
#include <tokenflow/npy.h>
#include <tokenflow/tokenizer.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace tokenflow::testing {

// The fixture folder; empty when none is configured.
inline std::string parity_dir() {
  if (const char* configured = std::getenv("TOKENFLOW_PARITY_DIR"); configured != nullptr && *configured != '\0')
    return configured;
  return std::filesystem::is_directory(TOKENFLOW_DEFAULT_PARITY_DIR) ? TOKENFLOW_DEFAULT_PARITY_DIR : "";
}

inline bool parity_required() {
  const char* required = std::getenv("TOKENFLOW_REQUIRE_PARITY");
  return required != nullptr && std::string(required) == "1";
}

inline std::string parity_path(const std::string& variant, const std::string& file) {
  return parity_dir() + "/" + variant + "/" + file;
}

// Why `path` (a fixture file or folder) cannot be used, or "" when it exists.
inline std::string missing_fixture(const std::string& path) {
  if (parity_dir().empty())
    return "no parity fixtures: set TOKENFLOW_PARITY_DIR (scripts/parity/README.md makes them)";
  return std::filesystem::exists(path) ? "" : "parity fixture " + path + " not found";
}

// At the start of a test that reads the fixture `path`: skips the test without it, or fails it when
// fixtures are required.
#define TOKENFLOW_REQUIRE_FIXTURE(path)                                                           \
  if (const std::string missing = ::tokenflow::testing::missing_fixture(path); !missing.empty()) { \
    if (::tokenflow::testing::parity_required()) FAIL() << missing << " (TOKENFLOW_REQUIRE_PARITY=1)"; \
    GTEST_SKIP() << missing;                                                                     \
  }

// At the start of a test that reads any fixture.
#define TOKENFLOW_REQUIRE_PARITY_FIXTURES() TOKENFLOW_REQUIRE_FIXTURE(::tokenflow::testing::parity_dir())

// The same for a whole variant's folder (clipb224, train_step, ...).
#define TOKENFLOW_REQUIRE_PARITY(variant) TOKENFLOW_REQUIRE_FIXTURE(::tokenflow::testing::parity_path(variant, ""))

// The options of the exact path, float32, whatever Auto would choose on this machine (Mixed where
// bfloat16 is native): what the fixtures' tolerances are for.
inline LoadOptions exact_options() {
  LoadOptions options;
  options.precision = Precision::Fp32;
  return options;
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
