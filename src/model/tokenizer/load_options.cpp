// The names of the load options' choices, and how Auto resolves.
#include "model/tokenizer/load_options.h"

#include <tokenflow/runtime.h>

#include "nn/kernels/onednn_conv.h"

namespace tokenflow {

namespace {

template <typename Choice>
struct ChoiceName {
  Choice choice;
  const char* name;
};

constexpr ChoiceName<Precision> kPrecisions[] = {
    {Precision::Fp32, "fp32"}, {Precision::Bf16, "bf16"}, {Precision::Mixed, "mixed"}, {Precision::Auto, "auto"}};
constexpr ChoiceName<CodeSearch> kCodeSearches[] = {
    {CodeSearch::Distances, "distances"}, {CodeSearch::Similarity, "similarity"}, {CodeSearch::Auto, "auto"}};
constexpr ChoiceName<PixelConvolution> kPixelConvolutions[] = {{PixelConvolution::LibTorch, "libtorch"},
                                                               {PixelConvolution::Winograd, "winograd"},
                                                               {PixelConvolution::Auto, "auto"}};

template <typename Choice, size_t N>
Choice parse_choice(const ChoiceName<Choice> (&names)[N], const std::string& name, const std::string& what) {
  std::string listed;
  for (size_t i = 0; i < N; ++i) {
    if (name == names[i].name) return names[i].choice;
    listed += std::string(i == 0 ? "" : i + 1 == N ? " or " : ", ") + names[i].name;
  }
  throw Error("unknown " + what + " '" + name + "' (" + listed + ")");
}

template <typename Choice, size_t N>
std::string choice_name(const ChoiceName<Choice> (&names)[N], Choice choice) {
  for (const auto& entry : names) {
    if (entry.choice == choice) return entry.name;
  }
  return "auto";
}

}  // namespace

Precision parse_precision(const std::string& name) { return parse_choice(kPrecisions, name, "precision"); }
std::string precision_name(Precision precision) { return choice_name(kPrecisions, precision); }

CodeSearch parse_code_search(const std::string& name) { return parse_choice(kCodeSearches, name, "code search"); }
std::string code_search_name(CodeSearch search) { return choice_name(kCodeSearches, search); }

PixelConvolution parse_pixel_convolution(const std::string& name) {
  return parse_choice(kPixelConvolutions, name, "pixel convolution");
}
std::string pixel_convolution_name(PixelConvolution convolution) { return choice_name(kPixelConvolutions, convolution); }

namespace model {

LoadOptions resolve(LoadOptions options) {
  if (options.tile < 0 || options.tile == 1) {
    throw Error("decoding tiles must be at least 2 feature positions, got " + std::to_string(options.tile));
  }
  const torch::Device device(options.device);
  options.device = device.str();
  if (options.precision == Precision::Auto) {
    options.precision = native_bf16(options.device) ? Precision::Mixed : Precision::Fp32;
  }
  if (options.code_search == CodeSearch::Auto) {
    options.code_search = options.precision == Precision::Fp32 ? CodeSearch::Distances : CodeSearch::Similarity;
  }
  if (options.pixel_convolution == PixelConvolution::Auto) {
    options.pixel_convolution = options.precision == Precision::Mixed ? PixelConvolution::Winograd : PixelConvolution::LibTorch;
  }
  // Winograd needs a float32 pixel encoder on the CPU, a build with oneDNN and a CPU it has Winograd
  // kernels for; the resolved options say what runs.
  if (options.pixel_convolution == PixelConvolution::Winograd &&
      (options.precision == Precision::Bf16 || !device.is_cpu() || !nn::winograd_available())) {
    options.pixel_convolution = PixelConvolution::LibTorch;
  }
  return options;
}

}  // namespace model

}  // namespace tokenflow
