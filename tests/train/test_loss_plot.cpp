// `tokenflow plot`'s renderer: a synthetic training log drawn to PNG has the requested size, each
// key's colour in the plot and in the legend, dark title text; nulls, missing keys, a single point,
// flat values and a log scale with values <= 0 draw; bad logs and options fail naming the file.
#include "io/image.h"
#include "io/io_test_util.h"
#include "train/loss_plot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

namespace tokenflow::train {
namespace {

using io::test::contains;
using io::test::error_of;
using io::test::ScratchDir;
using io::test::write_bytes;

// The PNG as 8-bit pixels, height x width x 3.
struct Pixels {
  torch::Tensor rgb;
  int width() const { return int(rgb.size(1)); }
  int height() const { return int(rgb.size(0)); }

  // Pixels of exactly `colour` in the columns [left, right) and rows [top, bottom), as fractions of the size.
  int64_t count(const std::array<uint8_t, 3>& colour, double left, double top, double right, double bottom) const {
    const torch::Tensor region = rgb.slice(0, int64_t(top * height()), int64_t(bottom * height()))
                                     .slice(1, int64_t(left * width()), int64_t(right * width()));
    const torch::Tensor target = torch::tensor({colour[0], colour[1], colour[2]}, torch::kUInt8);
    return region.eq(target).all(-1).sum().item<int64_t>();
  }

  int64_t dark(double left, double top, double right, double bottom) const {
    const torch::Tensor region = rgb.slice(0, int64_t(top * height()), int64_t(bottom * height()))
                                     .slice(1, int64_t(left * width()), int64_t(right * width()));
    return region.lt(64).all(-1).sum().item<int64_t>();
  }
};

Pixels read_png(const std::string& path) {
  const torch::Tensor image = io::load_image_raw(path);  // 3 x H x W in [-1, 1]
  return {image.add(1).mul(127.5).round().to(torch::kUInt8).permute({1, 2, 0}).contiguous()};
}

// Three falling curves over 60 steps; loss_b is missing from every third line and null at step 10
// (NaN as nlohmann writes it), p_loss goes through 0 and below.
std::string synthetic_log() {
  std::string log;
  for (int step = 1; step <= 60; ++step) {
    const double t = step / 60.0;
    log += "{\"step\":" + std::to_string(step) + ",\"loss_a\":" + std::to_string(2 - t + 0.1 * std::sin(step));
    if (step % 3 != 0) log += ",\"loss_b\":" + (step == 10 ? std::string("null") : std::to_string(1.5 - 1.2 * t));
    log += ",\"p_loss\":" + std::to_string(0.5 - t) + "}\n";
  }
  return log;
}

class LossPlot : public ::testing::Test {
 protected:
  ScratchDir dir;
  std::string log_path = dir.file("log.jsonl");
  std::string png_path = dir.file("loss.png");
  LossPlotOptions options;

  void SetUp() override {
    options.keys = {"loss_a", "loss_b", "p_loss"};
    options.width = 480;
    options.height = 270;
  }
};

TEST_F(LossPlot, DrawsEachKeyWithLegendAndTitle) {
  write_bytes(log_path, synthetic_log());
  plot_training_log(log_path, png_path, options);
  const Pixels png = read_png(png_path);
  EXPECT_EQ(png.width(), 480);
  EXPECT_EQ(png.height(), 270);
  EXPECT_EQ(png.count({255, 255, 255}, 0, 0, 0.02, 0.02), 9 * 5) << "a white canvas (the top-left 9 x 5 corner)";
  for (size_t k = 0; k < options.keys.size(); ++k) {
    // The legend is on the right; the left part holds only the curves in colour.
    EXPECT_GT(png.count(loss_plot_colour(k), 0, 0, 0.6, 1), 40) << options.keys[k] << " curve";
    EXPECT_GT(png.count(loss_plot_colour(k), 0.75, 0, 1, 1), 20) << options.keys[k] << " legend";
  }
  EXPECT_GT(png.dark(0, 0, 1, 0.08), 50) << "title";
  EXPECT_GT(png.dark(0, 0, 0.1, 1), 50) << "y tick labels";
  EXPECT_GT(png.dark(0, 0.9, 1, 1), 50) << "x tick labels";
  EXPECT_EQ(dir.listing().size(), 2u) << "no temporary file is left";
}

TEST_F(LossPlot, LogScaleSmoothingSinglePointAndFlatValues) {
  write_bytes(log_path, synthetic_log());
  options.log_y = true;
  options.smooth = 5;
  options.width = 640;
  options.height = 300;
  plot_training_log(log_path, png_path, options);  // p_loss is <= 0 from step 30 on: left out
  const Pixels png = read_png(png_path);
  EXPECT_EQ(png.width(), 640);
  EXPECT_EQ(png.height(), 300);
  for (size_t k = 0; k < options.keys.size(); ++k) EXPECT_GT(png.count(loss_plot_colour(k), 0, 0, 0.6, 1), 20);

  write_bytes(log_path, "{\"step\": 7, \"loss\": 0.25}\n");
  options.keys = {"loss"};
  options.log_y = false;
  options.smooth = 1;
  plot_training_log(log_path, png_path, options);
  EXPECT_GT(read_png(png_path).count(loss_plot_colour(0), 0, 0, 0.6, 1), 20) << "a single point is a dot";

  write_bytes(log_path, "{\"step\": 1, \"loss\": 0}\n{\"step\": 2, \"loss\": 0}\n{\"step\": 3, \"loss\": 0}\n");
  plot_training_log(log_path, png_path, options);
  EXPECT_GT(read_png(png_path).count(loss_plot_colour(0), 0, 0, 0.6, 1), 100) << "a flat line";

  write_bytes(log_path, "{\"step\": 1, \"loss\": 0.5}\n{\"step\": 2, \"loss\": 0.5000000000000001}\n");
  plot_training_log(log_path, png_path, options);
  EXPECT_GT(read_png(png_path).count(loss_plot_colour(0), 0, 0, 0.6, 1), 100) << "flat but for rounding";
}

TEST_F(LossPlot, BadLogsAndOptionsFailNamingTheFile) {
  write_bytes(log_path, "");
  EXPECT_TRUE(contains(error_of([&] { plot_training_log(log_path, png_path, options); }, log_path), "empty"));

  write_bytes(log_path, "{\"step\": 1, \"loss_a\": 1}\n{\"step\": 2, \"loss_a\": \n");
  EXPECT_TRUE(contains(error_of([&] { plot_training_log(log_path, png_path, options); }, log_path + ":2"), "JSON"));

  write_bytes(log_path, "[1, 2]\n");
  error_of([&] { plot_training_log(log_path, png_path, options); }, log_path + ":1");

  write_bytes(log_path, synthetic_log());
  options.keys = {"loss_a", "vqkd_loss"};
  const std::string unknown = error_of([&] { plot_training_log(log_path, png_path, options); }, log_path);
  EXPECT_TRUE(contains(unknown, "\"vqkd_loss\"")) << unknown;
  EXPECT_TRUE(contains(unknown, "loss_a, loss_b, p_loss, step")) << unknown;

  options.keys = {"p_loss"};
  options.log_y = true;
  write_bytes(log_path, "{\"step\": 1, \"p_loss\": 0}\n{\"step\": 2, \"p_loss\": -1}\n");
  EXPECT_TRUE(contains(error_of([&] { plot_training_log(log_path, png_path, options); }, log_path), "above 0"));

  options.log_y = false;
  options.width = 100;
  error_of([&] { plot_training_log(log_path, png_path, options); }, png_path);
  options.width = 480;
  error_of([&] { plot_training_log(log_path, dir.file("loss.jpg"), options); }, dir.file("loss.jpg"));
  error_of([&] { plot_training_log(dir.file("missing.jsonl"), png_path, options); }, dir.file("missing.jsonl"));
  EXPECT_EQ(dir.listing().size(), 1u) << "only the log: no PNG, no temporary file";
}

}  // namespace
}  // namespace tokenflow::train
