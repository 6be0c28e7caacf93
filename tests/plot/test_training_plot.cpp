// `tokenflow plot`'s renderer: a synthetic training log drawn to PNG has the requested size, each
// key's colour in the plot and in the legend, dark title text; nulls, missing keys, a single point,
// flat values and a log scale with values <= 0 draw; SVG and PDF come out as such; bad logs and
// options fail naming the file and leave nothing behind.
#include "io/image.h"
#include "io/io_test_util.h"

#include <tokenflow/plot.h>

#include <gtest/gtest.h>

#include <cmath>

namespace tokenflow::plot {
namespace {

using io::test::contains;
using io::test::error_of;
using io::test::read_bytes;
using io::test::ScratchDir;
using io::test::write_bytes;

// The PNG as 8-bit pixels, height x width x 3.
struct Pixels {
  torch::Tensor rgb;
  int width() const { return int(rgb.size(1)); }
  int height() const { return int(rgb.size(0)); }

  torch::Tensor region(double left, double top, double right, double bottom) const {
    return rgb.slice(0, int64_t(top * height()), int64_t(bottom * height()))
        .slice(1, int64_t(left * width()), int64_t(right * width()));
  }

  // Pixels of exactly `colour` in the columns [left, right) and rows [top, bottom), as fractions of
  // the size. Anti-aliasing blends the edges of a line; the middle of a 2-pixel line keeps the colour.
  int64_t count(const std::array<uint8_t, 3>& colour, double left, double top, double right, double bottom) const {
    const torch::Tensor target = torch::tensor({colour[0], colour[1], colour[2]}, torch::kUInt8);
    return region(left, top, right, bottom).eq(target).all(-1).sum().item<int64_t>();
  }

  // Pixels with every channel below `below`: text, and the frame where it lies in the region.
  int64_t dark(double left, double top, double right, double bottom, int below = 64) const {
    return region(left, top, right, bottom).lt(below).all(-1).sum().item<int64_t>();
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

class TrainingPlot : public ::testing::Test {
 protected:
  ScratchDir dir;
  std::string log_path = dir.file("log.jsonl");
  std::string png_path = dir.file("loss.png");
  TrainingPlotOptions options;

  void SetUp() override {
    options.keys = {"loss_a", "loss_b", "p_loss"};
    options.width = 480;
    options.height = 270;
  }
};

TEST_F(TrainingPlot, DrawsEachKeyWithLegendAndTitle) {
  write_bytes(log_path, synthetic_log());
  options.title = "Training run 7";
  plot_training_log(log_path, png_path, options);
  const Pixels png = read_png(png_path);
  EXPECT_EQ(png.width(), 480);
  EXPECT_EQ(png.height(), 270);
  EXPECT_EQ(png.count({255, 255, 255}, 0, 0, 0.02, 0.02), 9 * 5) << "a white canvas (the top-left 9 x 5 corner)";
  for (size_t k = 0; k < options.keys.size(); ++k) {
    // The legend is on the right; the left part holds only the curves in colour.
    EXPECT_GT(png.count(curve_colour(k), 0, 0, 0.6, 1), 40) << options.keys[k] << " curve";
    EXPECT_GT(png.count(curve_colour(k), 0.75, 0, 1, 1), 20) << options.keys[k] << " legend";
  }
  EXPECT_GT(png.dark(0, 0, 1, 0.08), 100) << "the title, dark and bold";
  // Small anti-aliased text is mostly grey: the tick labels are looked for left of the y axis' ticks
  // and below the x axis' ticks, where nothing else is drawn.
  EXPECT_GT(png.dark(0, 0.1, 0.05, 1, 128), 50) << "y tick labels";
  EXPECT_GT(png.dark(0, 0.89, 1, 1, 128), 50) << "x tick labels and the axis' name";
  EXPECT_EQ(png.dark(0.1, 0.15, 0.6, 0.8, 128), 0) << "nothing dark inside the plot";
  EXPECT_EQ(dir.listing().size(), 2u) << "no temporary file is left";
}

TEST_F(TrainingPlot, LogScaleSmoothingSinglePointAndFlatValues) {
  write_bytes(log_path, synthetic_log());
  options.log_y = true;
  options.smooth = 5;
  options.width = 640;
  options.height = 300;
  plot_training_log(log_path, png_path, options);  // p_loss is <= 0 from step 30 on: left out
  const Pixels png = read_png(png_path);
  EXPECT_EQ(png.width(), 640);
  EXPECT_EQ(png.height(), 300);
  for (size_t k = 0; k < options.keys.size(); ++k) EXPECT_GT(png.count(curve_colour(k), 0, 0, 0.6, 1), 20);

  write_bytes(log_path, "{\"step\": 7, \"loss\": 0.25}\n");
  options.keys = {"loss"};
  options.log_y = false;
  options.smooth = 1;
  plot_training_log(log_path, png_path, options);
  EXPECT_GT(read_png(png_path).count(curve_colour(0), 0, 0, 0.6, 1), 20) << "a single point is a dot";

  write_bytes(log_path, "{\"step\": 1, \"loss\": 0}\n{\"step\": 2, \"loss\": 0}\n{\"step\": 3, \"loss\": 0}\n");
  plot_training_log(log_path, png_path, options);
  EXPECT_GT(read_png(png_path).count(curve_colour(0), 0, 0, 0.6, 1), 100) << "a flat line";

  write_bytes(log_path, "{\"step\": 1, \"loss\": 0.5}\n{\"step\": 2, \"loss\": 0.5000000000000001}\n");
  plot_training_log(log_path, png_path, options);
  EXPECT_GT(read_png(png_path).count(curve_colour(0), 0, 0, 0.6, 1), 100) << "flat but for rounding";
}

TEST_F(TrainingPlot, WritesSvgAndPdfByExtension) {
  write_bytes(log_path, synthetic_log());
  options.title = "Run 7";
  const std::string svg_path = dir.file("loss.svg"), pdf_path = dir.file("loss.PDF");
  plot_training_log(log_path, svg_path, options);
  plot_training_log(log_path, pdf_path, options);
  const std::string svg = read_bytes(svg_path), pdf = read_bytes(pdf_path);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u) << svg.substr(0, 40);
  EXPECT_TRUE(contains(svg, "<svg")) << svg.substr(0, 200);
  EXPECT_TRUE(contains(svg, "</svg>")) << "a finished document";
  EXPECT_GT(svg.size(), 2000u);
  EXPECT_EQ(pdf.rfind("%PDF", 0), 0u) << pdf.substr(0, 20);
  EXPECT_TRUE(contains(pdf, "%%EOF")) << "a finished document";
  EXPECT_TRUE(contains(pdf, "Run 7")) << "the title in the document's metadata";
  EXPECT_EQ(dir.listing().size(), 3u) << "the log and the two plots, no temporary file";
}

TEST_F(TrainingPlot, BadLogsAndOptionsFailNamingTheFile) {
  write_bytes(log_path, "");
  EXPECT_TRUE(contains(error_of([&] { plot_training_log(log_path, png_path, options); }, log_path), "empty"));

  write_bytes(log_path, "{\"step\": 1, \"loss_a\": 1}\n{\"step\": 2, \"loss_a\": \n");
  EXPECT_TRUE(contains(error_of([&] { plot_training_log(log_path, png_path, options); }, log_path + ":2"), "JSON"));

  write_bytes(log_path, "[1, 2]\n");
  error_of([&] { plot_training_log(log_path, png_path, options); }, log_path + ":1");

  write_bytes(log_path, "{\"step\": 1, \"loss_a\": \"high\"}\n");
  EXPECT_TRUE(contains(error_of([&] { plot_training_log(log_path, png_path, options); }, log_path + ":1"), "\"loss_a\""));

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
  options.width = 9000;
  error_of([&] { plot_training_log(log_path, png_path, options); }, png_path);
  options.width = 480;
  options.smooth = 0;
  error_of([&] { plot_training_log(log_path, png_path, options); }, png_path);
  options.smooth = 1;
  error_of([&] { plot_training_log(dir.file("missing.jsonl"), png_path, options); }, dir.file("missing.jsonl"));
  error_of([&] { plot_training_log(log_path, dir.file("no_such_dir/loss.svg"), options); }, dir.file("no_such_dir/loss.svg"));
  EXPECT_EQ(dir.listing().size(), 1u) << "only the log: no plot, no temporary file";
}

TEST_F(TrainingPlot, AnotherExtensionFailsBeforeAnythingIsRead) {
  const std::string jpg_path = dir.file("loss.jpg");
  // The log does not exist: the extension is checked first, so the error names the output.
  const std::string message = error_of([&] { plot_training_log(dir.file("missing.jsonl"), jpg_path, options); }, jpg_path);
  EXPECT_TRUE(contains(message, "must end in .png, .svg or .pdf")) << message;
  error_of([&] { plot_training_log(dir.file("missing.jsonl"), dir.file("loss"), options); }, dir.file("loss"));
  EXPECT_TRUE(dir.listing().empty()) << "nothing written";
}

}  // namespace
}  // namespace tokenflow::plot
