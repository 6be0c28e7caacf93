#pragma once
// Images as the tokenizer sees them: float32 tensors in [-1, 1], read from files or memory with the
// official TokenFlow preprocessing, and written as PNG or JPEG to files or memory.
#include <torch/torch.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tokenflow::io {

enum class ImageFormat { Png, Jpeg };

// 1 x 3 x size x size, preprocessed as the official code does (ADM's center_crop_arr after
// Image.convert("RGB")): while the shorter side is at least 2 * size, halve with Image.BOX; resize
// the shorter side to `size` with Image.BICUBIC; crop the centre; then ToTensor + Normalize(0.5, 0.5).
// Reads anything stb_image decodes (PNG, JPEG, BMP, ...); grey images become RGB and alpha is dropped.
// Throws tokenflow::Error("<path>: cannot read image (<reason>)").
torch::Tensor load_image(const std::string& path, int size);
// The same from an encoded image in memory; `name` is only for errors.
torch::Tensor load_image(const uint8_t* data, size_t size, int image_size, const std::string& name);

// A command's input images: image files (one batch, each read as load_image reads it), or one .npy
// holding a float batch B x 3 x size x size in [-1, 1]. Throws tokenflow::Error naming the file for
// an unreadable image, a .npy of another shape or type, or a .npy among other inputs.
struct InputImages {
  torch::Tensor images;              // B x 3 x size x size, float32
  std::vector<std::string> sources;  // one name per image: its file, or "<file>.npy[i]"
  bool from_image_files = false;     // 8-bit pixels, as image files hold them
};
InputImages read_input_images(const std::vector<std::string>& paths, int size);

// A 3 x H x W tensor in [-1, 1] (clamped, then round((x + 1) * 127.5)), or H x W x 3 uint8 pixels as
// they are, encoded as PNG, or as JPEG of quality 95. Throws tokenflow::Error for another shape.
std::string encode_image(const torch::Tensor& image, ImageFormat format);
// encode_image written to `path`: JPEG for .jpg/.jpeg, PNG for .png (another extension throws), to
// `path`.tmp first, then renamed.
void save_image(const std::string& path, const torch::Tensor& image);

}  // namespace tokenflow::io
