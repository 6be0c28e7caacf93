#include "model/understanding/image_input.h"

#include "io/image.h"

namespace tokenflow::understanding {

namespace {

constexpr uint8_t kMeanGrey = 127;  // tuple(int(x * 255) for x in image_mean), image_mean 0.5

}  // namespace

torch::Tensor llava_pixel_values(const io::RgbImage& image, int size, bool pad_to_square) {
  const auto square = pad_to_square ? io::expand_to_square(image, kMeanGrey) : image;
  // x * (1/255) in float64 rounded to float32 equals torchvision's float32 x / 255 for every 8-bit x.
  return io::to_tensor(io::pil_resize(square, size, size, io::ResampleFilter::Bicubic)).unsqueeze(0);
}

}  // namespace tokenflow::understanding
