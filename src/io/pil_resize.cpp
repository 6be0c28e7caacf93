#include "io/pil_resize.h"

#include <algorithm>
#include <cmath>

namespace tokenflow::io {

namespace {

// Pillow's 8-bit weights are fixed point with 22 fraction bits (32 - 8 - 2: room for the 8-bit
// values and for negative lobes pushing sums outside 0..255).
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int kChannels = 3;

double box_filter(double x) { return x > -0.5 && x <= 0.5 ? 1.0 : 0.0; }

double bicubic_filter(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

struct Filter {
  double (*function)(double);
  double support;
};

Filter filter_of(ResampleFilter filter) {
  return filter == ResampleFilter::Box ? Filter{box_filter, 0.5} : Filter{bicubic_filter, 2.0};
}

// For each output pixel along one axis: the first input pixel it reads, how many, and their weights
// (Pillow's precompute_coeffs + normalize_coeffs_8bpc).
struct Coefficients {
  int taps = 0;  // weights per output pixel (the maximum; unused ones are zero)
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;
};

Coefficients precompute(int in_size, int out_size, const Filter& filter) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = filter.support * filter_scale;
  Coefficients c;
  c.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(static_cast<size_t>(out_size) * c.taps, 0);
  std::vector<double> k(c.taps);
  for (int out = 0; out < out_size; ++out) {
    const double center = (out + 0.5) * scale;
    const double inverse_scale = 1.0 / filter_scale;  // Pillow multiplies by it; dividing rounds differently
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double sum = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = filter.function((x + xmin - center + 0.5) * inverse_scale);
      sum += k[x];
    }
    int32_t* weights = &c.weights[static_cast<size_t>(out) * c.taps];
    for (int x = 0; x < xmax; ++x) {
      const double w = sum != 0.0 ? k[x] / sum : k[x];
      weights[x] = static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    c.first[out] = xmin;
    c.count[out] = xmax;
  }
  return c;
}

uint8_t clip8(int64_t sum) { return static_cast<uint8_t>(std::clamp<int64_t>(sum >> kPrecisionBits, 0, 255)); }

RgbImage resize_horizontally(const RgbImage& in, int width, const Coefficients& c) {
  RgbImage out{width, in.height, std::vector<uint8_t>(static_cast<size_t>(width) * in.height * kChannels)};
  for (int y = 0; y < in.height; ++y) {
    const uint8_t* row = &in.pixels[static_cast<size_t>(y) * in.width * kChannels];
    for (int x = 0; x < width; ++x) {
      const int32_t* weights = &c.weights[static_cast<size_t>(x) * c.taps];
      for (int channel = 0; channel < kChannels; ++channel) {
        int64_t sum = int64_t{1} << (kPrecisionBits - 1);
        for (int i = 0; i < c.count[x]; ++i) sum += row[(c.first[x] + i) * kChannels + channel] * int64_t{weights[i]};
        out.pixels[(static_cast<size_t>(y) * width + x) * kChannels + channel] = clip8(sum);
      }
    }
  }
  return out;
}

RgbImage resize_vertically(const RgbImage& in, int height, const Coefficients& c) {
  RgbImage out{in.width, height, std::vector<uint8_t>(static_cast<size_t>(in.width) * height * kChannels)};
  const size_t stride = static_cast<size_t>(in.width) * kChannels;
  for (int y = 0; y < height; ++y) {
    const int32_t* weights = &c.weights[static_cast<size_t>(y) * c.taps];
    for (size_t i = 0; i < stride; ++i) {
      int64_t sum = int64_t{1} << (kPrecisionBits - 1);
      for (int j = 0; j < c.count[y]; ++j) sum += in.pixels[(c.first[y] + j) * stride + i] * int64_t{weights[j]};
      out.pixels[y * stride + i] = clip8(sum);
    }
  }
  return out;
}

}  // namespace

RgbImage pil_resize(const RgbImage& image, int width, int height, ResampleFilter filter) {
  const Filter f = filter_of(filter);
  RgbImage result = image;
  if (width != image.width) result = resize_horizontally(result, width, precompute(image.width, width, f));
  if (height != image.height) result = resize_vertically(result, height, precompute(image.height, height, f));
  return result;
}

}  // namespace tokenflow::io
