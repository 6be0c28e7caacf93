// The names of the load options' choices, and how Auto resolves.
#include "model/tokenizer/load_options.h"

#include <tokenflow/runtime.h>

#include "nn/kernels/onednn_conv.h"

namespace tokenflow {

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::Fp32;
  if (name == "bf16") return Precision::Bf16;
  if (name == "mixed") return Precision::Mixed;
  if (name == "auto") return Precision::Auto;
  throw Error("unknown precision '" + name + "' (fp32, bf16, mixed or auto)");
}

std::string precision_name(Precision precision) {
  switch (precision) {
    case Precision::Fp32: return "fp32";
    case Precision::Bf16: return "bf16";
    case Precision::Mixed: return "mixed";
    case Precision::Auto: break;
  }
  return "auto";
}

CodeSearch parse_code_search(const std::string& name) {
  if (name == "distances") return CodeSearch::Distances;
  if (name == "similarity") return CodeSearch::Similarity;
  if (name == "auto") return CodeSearch::Auto;
  throw Error("unknown code search '" + name + "' (distances, similarity or auto)");
}

std::string code_search_name(CodeSearch search) {
  switch (search) {
    case CodeSearch::Distances: return "distances";
    case CodeSearch::Similarity: return "similarity";
    case CodeSearch::Auto: break;
  }
  return "auto";
}

PixelConvolution parse_pixel_convolution(const std::string& name) {
  if (name == "libtorch") return PixelConvolution::LibTorch;
  if (name == "winograd") return PixelConvolution::Winograd;
  if (name == "auto") return PixelConvolution::Auto;
  throw Error("unknown pixel convolution '" + name + "' (libtorch, winograd or auto)");
}

std::string pixel_convolution_name(PixelConvolution convolution) {
  switch (convolution) {
    case PixelConvolution::LibTorch: return "libtorch";
    case PixelConvolution::Winograd: return "winograd";
    case PixelConvolution::Auto: break;
  }
  return "auto";
}

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
