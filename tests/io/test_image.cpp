// Images: PNG/JPEG round trips, the official preprocessing against Pillow's output, and bad files.
#include "io/image.h"
#include <tokenflow/npy.h>
#include "io_test_util.h"

#include <gtest/gtest.h>

namespace tokenflow::io {
namespace {

using test::data_file;
using test::error_of;
using test::read_bytes;
using test::ScratchDir;
using test::write_bytes;

using test::contains;

// ToTensor + Normalize(0.5, 0.5) of uint8 pixels, H x W x 3 -> 3 x H x W.
torch::Tensor normalized(const torch::Tensor& pixels) {
  return pixels.permute({2, 0, 1}).to(torch::kFloat32).div(255).sub(0.5).div(0.5);
}

// A smooth colour pattern in [-1, 1] (JPEG-friendly) with some exact extremes.
torch::Tensor pattern(int64_t height, int64_t width) {
  const torch::Tensor y = torch::linspace(-1, 1, height).view({1, height, 1});
  const torch::Tensor x = torch::linspace(-1, 1, width).view({1, 1, width});
  return torch::cat({x.expand({1, height, width}), y.expand({1, height, width}), (x * y).expand({1, height, width})});
}

TEST(Image, PngRoundTripIsExactToOneLevel) {
  ScratchDir dir;
  const std::string path = dir.file("pattern.png");
  const torch::Tensor image = torch::rand({3, 17, 23}) * 2.2 - 1.1;  // also beyond [-1, 1]: clamped
  save_image(path, image);
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"pattern.png"});
  const torch::Tensor loaded = load_image_raw(path);
  EXPECT_EQ(loaded.sizes(), torch::IntArrayRef({3, 17, 23}));
  EXPECT_EQ(loaded.scalar_type(), torch::kFloat32);
  const torch::Tensor clamped = image.clamp(-1, 1);
  EXPECT_LE((loaded - clamped).abs().max().item<float>(), 0.5f / 127.5f + 1e-6f);
  // Exactly the 8-bit levels save_image chose.
  EXPECT_TRUE(torch::equal(loaded, normalized(((clamped + 1) * 127.5).round().to(torch::kUInt8).permute({1, 2, 0}))));
}

TEST(Image, JpegRoundTripIsClose) {
  ScratchDir dir;
  for (const std::string name : {"pattern.jpg", "pattern.JPEG"}) {
    const std::string path = dir.file(name);
    const torch::Tensor image = pattern(32, 48);
    save_image(path, image);
    EXPECT_EQ(read_bytes(path).substr(0, 2), "\xff\xd8") << name;
    const torch::Tensor loaded = load_image_raw(path);
    EXPECT_EQ(loaded.sizes(), torch::IntArrayRef({3, 32, 48}));
    EXPECT_LT((loaded - image).abs().mean().item<float>(), 0.02f) << name;
  }
}

TEST(Image, SaveRejectsBadArguments) {
  ScratchDir dir;
  const std::string bmp = dir.file("image.bmp");
  EXPECT_TRUE(contains(error_of([&] { save_image(bmp, pattern(4, 4)); }, bmp), "unknown image extension"));
  const std::string png = dir.file("image.png");
  EXPECT_TRUE(contains(error_of([&] { save_image(png, torch::zeros({1, 3, 4, 4})); }, png), "expected a 3 x H x W image tensor"));
  EXPECT_TRUE(contains(error_of([&] { save_image(png, torch::zeros({4, 4, 4})); }, png), "expected a 3 x H x W image tensor"));
  const std::string unwritable = dir.file("missing_dir/image.png");
  EXPECT_TRUE(contains(error_of([&] { save_image(unwritable, pattern(4, 4)); }, unwritable), "cannot write"));
  EXPECT_TRUE(dir.listing().empty());
}

// Pillow's output of the official preprocessing (tests/data/io/make_fixtures.py), matched exactly:
// two halvings with an odd width, a plain bicubic downscale, an upscale, grey and RGBA sources.
TEST(Image, PreprocessingMatchesPillow) {
  const std::vector<std::pair<std::string, int>> cases = {
      {"photo_161x97", 40}, {"photo_161x97", 24}, {"grey_30x20", 40}, {"rgba_23x31", 16}};
  for (const auto& [name, size] : cases) {
    const torch::Tensor loaded = load_image(data_file(name + ".png"), size);
    const torch::Tensor expected = load_npy(data_file("expected_" + name + "_" + std::to_string(size) + ".npy"));
    ASSERT_EQ(loaded.sizes(), torch::IntArrayRef({1, 3, size, size})) << name;
    const torch::Tensor difference = (loaded[0] - normalized(expected)).abs();
    EXPECT_EQ(difference.max().item<float>(), 0.f) << name << " size " << size << ": "
                                                   << difference.gt(0).sum().item<int64_t>() << " values differ";
  }
}

TEST(Image, NonSquareImagesAreCroppedToSquares) {
  ScratchDir dir;
  for (const auto& [height, width] : {std::pair{30, 50}, std::pair{70, 20}, std::pair{8, 9}}) {
    const std::string path = dir.file("image.png");
    save_image(path, pattern(height, width));
    const torch::Tensor loaded = load_image(path, 16);
    EXPECT_EQ(loaded.sizes(), torch::IntArrayRef({1, 3, 16, 16})) << height << "x" << width;
    EXPECT_GE(loaded.min().item<float>(), -1.f);
    EXPECT_LE(loaded.max().item<float>(), 1.f);
  }
  // A portrait crop keeps the middle rows: the green channel (y) is symmetric around zero.
  const std::string path = dir.file("portrait.png");
  save_image(path, pattern(64, 32));
  EXPECT_NEAR(load_image(path, 32)[0][1].mean().item<float>(), 0.f, 0.02f);
}

TEST(Image, UnreadableFilesAreErrors) {
  ScratchDir dir;
  const std::string missing = dir.file("missing.png");
  EXPECT_TRUE(contains(error_of([&] { load_image(missing, 16); }, missing), "cannot read image (No such file or directory)"));

  const std::string corrupt = dir.file("corrupt.png");
  write_bytes(corrupt, "this is not an image at all");
  EXPECT_TRUE(contains(error_of([&] { load_image(corrupt, 16); }, corrupt), "cannot read image ("));

  const std::string truncated = dir.file("truncated.png");
  const std::string bytes = read_bytes(data_file("photo_161x97.png"));
  write_bytes(truncated, bytes.substr(0, bytes.size() / 2));
  EXPECT_TRUE(contains(error_of([&] { load_image_raw(truncated); }, truncated), "cannot read image ("));

  EXPECT_TRUE(contains(error_of([&] { load_image(data_file("grey_30x20.png"), 0); }), "image size must be positive"));
}

}  // namespace
}  // namespace tokenflow::io
