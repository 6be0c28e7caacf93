#pragma once
// Image resizing as Pillow's Image.resize does it for 8-bit RGB (libImaging/Resample.c), bit for bit:
// a separable convolution, horizontal pass first, whose filter support widens with the downscale
// factor (antialiasing), with Pillow's fixed-point weights and rounding after each pass. The official
// TokenFlow preprocessing resizes with Pillow, so matching it keeps the tokens identical.
#include <cstdint>
#include <vector>

namespace tokenflow::io {

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // height x width x 3, row-major
};

enum class ResampleFilter {
  Box,      // Image.BOX
  Bicubic,  // Image.BICUBIC (Keys cubic, a = -0.5)
};

RgbImage pil_resize(const RgbImage& image, int width, int height, ResampleFilter filter);

}  // namespace tokenflow::io
