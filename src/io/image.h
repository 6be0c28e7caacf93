#pragma once
// Image files: reading anything stb_image decodes (PNG, JPEG, BMP, ...) with the official TokenFlow
// preprocessing, and writing PNG or JPEG. Pixels are float32 in [-1, 1].
#include <torch/torch.h>

#include <string>

namespace tokenflow::io {

// 1 x 3 x size x size, preprocessed as the official code does (ADM's center_crop_arr after
// Image.convert("RGB")): while the shorter side is at least 2 * size, halve with Image.BOX; resize
// the shorter side to `size` with Image.BICUBIC; crop the centre; then ToTensor + Normalize(0.5, 0.5).
// Grey images become RGB and alpha is dropped. Throws "<path>: cannot read image (<reason>)".
torch::Tensor load_image(const std::string& path, int size);

// 3 x H x W, as stored (no resizing).
torch::Tensor load_image_raw(const std::string& path);

// Writes a 3 x H x W tensor in [-1, 1] (clamped, then round((x + 1) * 127.5)) as PNG, or as JPEG of
// quality 95 for .jpg/.jpeg; the extension decides. Written to `path`.tmp, then renamed.
void save_image(const std::string& path, const torch::Tensor& image);

}  // namespace tokenflow::io
