#include "train/augment.h"

#include "io/image.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tokenflow::train {

namespace {

constexpr uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;

// SplitMix64's output function, a good 64-bit mixer.
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

SampleRandom::SampleRandom(std::initializer_list<uint64_t> keys) {
  // Chaining the mixer makes the key order matter: (seed 1, epoch 2) and (seed 2, epoch 1) differ.
  for (const uint64_t key : keys) state_ = mix(state_ + kGoldenGamma + key);
}

uint64_t SampleRandom::next() {
  state_ += kGoldenGamma;
  return mix(state_);
}

int64_t SampleRandom::below(int64_t n) {
  const auto range = static_cast<uint64_t>(n);
  // Draws under 2^64 mod n would make the low results more likely; they are redrawn.
  const uint64_t biased = (std::numeric_limits<uint64_t>::max() - range + 1) % range;
  uint64_t draw = next();
  while (draw < biased) draw = next();
  return static_cast<int64_t>(draw % range);
}

io::RgbImage random_crop_arr(io::RgbImage image, int size, SampleRandom& random) {
  constexpr double kMinCropFraction = 0.8;
  // As Python computes math.ceil(image_size / min_crop_frac), in double precision.
  const auto longest_shorter_side = static_cast<int64_t>(std::ceil(size / kMinCropFraction));
  const auto shorter_side = static_cast<int>(size + random.below(longest_shorter_side - size + 1));
  image = io::resize_shorter_side(std::move(image), shorter_side);

  const auto top = static_cast<int>(random.below(image.height - size + 1));
  const auto left = static_cast<int>(random.below(image.width - size + 1));
  return io::crop_square(image, top, left, size);
}

void flip_horizontally(io::RgbImage& image) {
  for (int y = 0; y < image.height; ++y) {
    uint8_t* row = image.pixels.data() + static_cast<size_t>(y) * image.width * 3;
    for (int left = 0, right = image.width - 1; left < right; ++left, --right) {
      std::swap_ranges(row + left * 3, row + left * 3 + 3, row + right * 3);
    }
  }
}

io::RgbImage augment_for_training(io::RgbImage image, int size, SampleRandom& random) {
  image = random_crop_arr(std::move(image), size, random);
  if (random.below(2) == 1) flip_horizontally(image);
  return image;
}

}  // namespace tokenflow::train
