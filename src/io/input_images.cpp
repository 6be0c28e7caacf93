// A command's input images (include/tokenflow/image.h): image files or one .npy batch.
#include <tokenflow/error.h>
#include <tokenflow/files.h>
#include <tokenflow/image.h>
#include <tokenflow/npy.h>

#include "io/shape_string.h"

#include <algorithm>

namespace tokenflow::io {

namespace {

InputImages npy_batch(const std::string& path, int size) {
  torch::Tensor images = load_npy(path);
  const bool fits = images.dim() == 4 && images.size(0) > 0 && images.size(1) == 3 && images.size(2) == size &&
                    images.size(3) == size && images.is_floating_point();
  if (!fits) {
    const std::string side = std::to_string(size);
    throw Error(path + ": expected float images B x 3 x " + side + " x " + side + " in [-1, 1], got " +
                c10::toString(images.scalar_type()) + " " + shape_string(images.sizes()));
  }
  InputImages inputs{images.to(torch::kFloat32), {}, false};
  for (int64_t i = 0; i < images.size(0); ++i) inputs.sources.push_back(path + "[" + std::to_string(i) + "]");
  return inputs;
}

}  // namespace

InputImages read_input_images(const std::vector<std::string>& paths, int size) {
  if (paths.empty()) throw Error("no input images");
  const bool any_npy = std::any_of(paths.begin(), paths.end(), [](const std::string& p) { return has_extension(p, {".npy"}); });
  if (any_npy) {
    if (paths.size() != 1) throw Error("a .npy input must be the only input (it holds the whole batch)");
    return npy_batch(paths[0], size);
  }
  std::vector<torch::Tensor> images;
  for (const auto& path : paths) images.push_back(load_image(path, size));
  return InputImages{torch::cat(images), paths, true};
}

}  // namespace tokenflow::io
