#include "io/image.h"

#include <tokenflow/files.h>

#include "io/files.h"
#include "io/pil_resize.h"

#include <tokenflow/error.h>

#include <ATen/Parallel.h>

#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

namespace tokenflow::io {

namespace {

constexpr int kJpegQuality = 95;

// stb_image's result as an RgbImage, freeing its buffer; `pixels` is null when decoding failed.
RgbImage take_pixels(stbi_uc* pixels, int width, int height, const std::string& name) {
  if (!pixels) {
    const char* reason = stbi_failure_reason();
    throw Error(name + ": cannot read image (" + (reason ? reason : "unknown format") + ")");
  }
  std::unique_ptr<stbi_uc, void (*)(void*)> owned(pixels, &stbi_image_free);
  const size_t bytes = static_cast<size_t>(width) * height * 3;
  return RgbImage{width, height, std::vector<uint8_t>(pixels, pixels + bytes)};
}

RgbImage decode(const std::string& path) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) throw Error(path + ": cannot read image (" + std::strerror(EISDIR) + ")");
  errno = 0;
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw Error(path + ": cannot read image (" + std::strerror(errno) + ")");
  int width = 0, height = 0, channels_in_file = 0;
  // Asking for 3 channels makes stb_image expand grey and drop alpha, as Image.convert("RGB") does.
  stbi_uc* pixels = stbi_load_from_file(file.get(), &width, &height, &channels_in_file, 3);
  return take_pixels(pixels, width, height, path);
}

// stb_image_write hands the encoded bytes to a C callback, which must not throw through it.
struct EncodedImage {
  std::vector<char> bytes;
  bool out_of_memory = false;

  static void append(void* context, void* data, int size) {
    auto* encoded = static_cast<EncodedImage*>(context);
    try {
      encoded->bytes.insert(encoded->bytes.end(), static_cast<char*>(data), static_cast<char*>(data) + size);
    } catch (const std::bad_alloc&) {
      encoded->out_of_memory = true;
    }
  }
};

}  // namespace

RgbImage decode_image(const uint8_t* data, size_t size, const std::string& name) {
  if (size == 0) throw Error(name + ": cannot read image (empty file)");
  if (size > static_cast<size_t>(INT_MAX)) throw Error(name + ": cannot read image (larger than 2 GiB)");
  int width = 0, height = 0, channels_in_file = 0;
  // RGB, as in decode().
  stbi_uc* pixels = stbi_load_from_memory(data, static_cast<int>(size), &width, &height, &channels_in_file, 3);
  return take_pixels(pixels, width, height, name);
}

RgbImage resize_shorter_side(RgbImage image, int shorter_side) {
  while (std::min(image.width, image.height) >= 2 * shorter_side) {
    image = pil_resize(image, image.width / 2, image.height / 2, ResampleFilter::Box);
  }
  const double scale = static_cast<double>(shorter_side) / std::min(image.width, image.height);
  // Python's round() rounds halves to even, as nearbyint does in the default rounding mode.
  const int width = static_cast<int>(std::nearbyint(image.width * scale));
  const int height = static_cast<int>(std::nearbyint(image.height * scale));
  return pil_resize(image, width, height, ResampleFilter::Bicubic);
}

RgbImage crop_square(const RgbImage& image, int top, int left, int size) {
  RgbImage crop{size, size, std::vector<uint8_t>(static_cast<size_t>(size) * size * 3)};
  for (int y = 0; y < size; ++y) {
    const auto source = image.pixels.begin() + (static_cast<size_t>(top + y) * image.width + left) * 3;
    std::copy(source, source + size * 3, crop.pixels.begin() + static_cast<size_t>(y) * size * 3);
  }
  return crop;
}

RgbImage expand_to_square(const RgbImage& image, uint8_t grey) {
  const int side = std::max(image.width, image.height);
  if (image.width == image.height) return image;
  RgbImage square{side, side, std::vector<uint8_t>(static_cast<size_t>(side) * side * 3, grey)};
  const int left = (side - image.width) / 2, top = (side - image.height) / 2;
  for (int y = 0; y < image.height; ++y) {
    const auto source = image.pixels.begin() + static_cast<size_t>(y) * image.width * 3;
    std::copy(source, source + static_cast<size_t>(image.width) * 3,
              square.pixels.begin() + (static_cast<size_t>(top + y) * side + left) * 3);
  }
  return square;
}

// ADM's center_crop_arr, which the official TokenFlow code uses.
RgbImage center_crop_arr(RgbImage image, int size) {
  image = resize_shorter_side(std::move(image), size);
  return crop_square(image, (image.height - size) / 2, (image.width - size) / 2, size);
}

// With the same float32 operations as torchvision.
torch::Tensor to_tensor(const RgbImage& image) {
  const torch::Tensor pixels = torch::from_blob(const_cast<uint8_t*>(image.pixels.data()),
                                                {image.height, image.width, 3}, torch::kUInt8);
  return pixels.permute({2, 0, 1}).contiguous().to(torch::kFloat32).div(255).sub(0.5).div(0.5);
}

torch::Tensor load_image(const std::string& path, int size) {
  if (size <= 0) throw Error(path + ": image size must be positive, got " + std::to_string(size));
  return to_tensor(center_crop_arr(decode(path), size)).unsqueeze(0);
}

torch::Tensor load_image(const uint8_t* data, size_t size, int image_size, const std::string& name) {
  if (image_size <= 0) throw Error(name + ": image size must be positive, got " + std::to_string(image_size));
  return to_tensor(center_crop_arr(decode_image(data, size, name), image_size)).unsqueeze(0);
}

torch::Tensor load_image_raw(const std::string& path) { return to_tensor(decode(path)); }

RgbImage read_rgb_image(const std::string& path) { return decode(path); }

ImageBatch load_images(const std::vector<std::string>& paths, int size) {
  std::vector<torch::Tensor> pixels(paths.size());
  std::vector<std::string> errors(paths.size());
  at::parallel_for(0, static_cast<int64_t>(paths.size()), 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      try {
        pixels[i] = load_image(paths[i], size);
      } catch (const Error& e) {
        errors[i] = e.what();
      }
    }
  });
  ImageBatch batch;
  std::vector<torch::Tensor> readable;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (pixels[i].defined()) {
      readable.push_back(pixels[i]);
      batch.readable.push_back(i);
    } else {
      batch.errors.push_back(errors[i]);
    }
  }
  if (!readable.empty()) batch.images = torch::cat(readable);
  return batch;
}

namespace {

// H x W x 3 uint8 pixels encoded as they are.
std::string encode_pixels(const torch::Tensor& pixels, ImageFormat format) {
  const auto height = static_cast<int>(pixels.size(0));
  const auto width = static_cast<int>(pixels.size(1));
  EncodedImage encoded;
  const int written = format == ImageFormat::Png
                          ? stbi_write_png_to_func(&EncodedImage::append, &encoded, width, height, 3, pixels.data_ptr(),
                                                   width * 3)
                          : stbi_write_jpg_to_func(&EncodedImage::append, &encoded, width, height, 3, pixels.data_ptr(),
                                                   kJpegQuality);
  if (!written || encoded.out_of_memory) throw Error("cannot encode image");
  return std::string(encoded.bytes.begin(), encoded.bytes.end());
}

bool fits(int64_t height, int64_t width) { return height >= 1 && width >= 1 && height <= INT_MAX / 3 && width <= INT_MAX / 3; }

}  // namespace

std::string encode_image(const torch::Tensor& image, ImageFormat format) {
  if (image.scalar_type() == torch::kUInt8) {
    if (image.dim() != 3 || image.size(2) != 3 || !fits(image.size(0), image.size(1))) {
      throw Error("expected H x W x 3 uint8 pixels, got sizes " + c10::str(image.sizes()));
    }
    return encode_pixels(image.to(torch::kCPU).contiguous(), format);
  }
  if (image.dim() != 3 || image.size(0) != 3 || !fits(image.size(1), image.size(2))) {
    throw Error("expected a 3 x H x W image tensor, got sizes " + c10::str(image.sizes()));
  }
  const torch::Tensor pixels = image.detach()
                                   .to(torch::kCPU, torch::kFloat32)
                                   .nan_to_num(0)
                                   .clamp(-1, 1)
                                   .add(1)
                                   .mul(127.5)
                                   .round()
                                   .to(torch::kUInt8)
                                   .permute({1, 2, 0})
                                   .contiguous();
  return encode_pixels(pixels, format);
}

void save_image(const std::string& path, const torch::Tensor& image) {
  const std::string extension = lowercase_extension(path);
  const bool png = extension == ".png";
  if (!png && extension != ".jpg" && extension != ".jpeg") {
    throw Error(path + ": unknown image extension (use .png, .jpg or .jpeg)");
  }
  std::string encoded;
  try {
    encoded = encode_image(image, png ? ImageFormat::Png : ImageFormat::Jpeg);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  AtomicFileWriter out(path);
  out.write(encoded.data(), encoded.size());
  out.commit();
}

}  // namespace tokenflow::io
