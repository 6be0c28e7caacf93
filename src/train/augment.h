#pragma once
// The official training augmentation (tokenflow/dataset/augmentation.py and the transform in
// vq_train.py): ADM's random_crop_arr, then RandomHorizontalFlip. The random numbers belong to the
// sample, drawn from keys such as (seed, epoch, image index), so that an image's crop never depends on
// the number of threads or their timing, and a resumed run sees the crops an uninterrupted one would.
// Validation crops the centre instead (io::center_crop_arr).
#include "io/pil_resize.h"

#include <cstdint>
#include <initializer_list>

namespace tokenflow::train {

// SplitMix64 started from a hash of the keys. Fully specified, so the same keys give the same draws on
// every platform and standard library (std::uniform_int_distribution promises no such thing).
class SampleRandom {
 public:
  explicit SampleRandom(std::initializer_list<uint64_t> keys);

  uint64_t next();
  // Uniform in [0, n) for n >= 1, without modulo bias: Python's random.randrange(n).
  int64_t below(int64_t n);

 private:
  uint64_t state_ = 0;
};

// random_crop_arr(image, size) with min_crop_frac 0.8, max_crop_frac 1.0: the shorter side is resized
// to a length drawn uniformly from [size, ceil(size / 0.8)] (io::resize_shorter_side: BOX halvings,
// then BICUBIC), then a size x size window is cut at a uniform position (row first, then column).
io::RgbImage random_crop_arr(io::RgbImage image, int size, SampleRandom& random);

// Mirrors the image left to right in place.
void flip_horizontally(io::RgbImage& image);

// The training transform before ToTensor: random_crop_arr, then a flip with probability 1/2.
io::RgbImage augment_for_training(io::RgbImage image, int size, SampleRandom& random);

}  // namespace tokenflow::train
