#pragma once
// `tokenflow plot`: the curves of a training log (log.jsonl, one JSON object per logged step, as a
// training run writes it) drawn with cairo as PNG, SVG or PDF: a title, axes with numbered ticks
// (x: the step), a light grid, one coloured line per key and a legend, in anti-aliased lines and text.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tokenflow::plot {

struct TrainingPlotOptions {
  std::vector<std::string> keys = {"loss", "rec_loss", "p_loss", "vqkd_loss", "vq_loss"};
  int smooth = 1;  // each point is the mean of the last `smooth` values of its key (1: as logged)
  int width = 960, height = 540;  // pixels for PNG, points for SVG and PDF
  bool log_y = false;  // values <= 0 cannot be drawn then: they are left out and the legend counts them
  std::string title;   // empty: the log's path
};

// Reads the log at `log_path` and writes the plot to `output_path`, whose extension (.png, .svg or
// .pdf, in any case) chooses the format. The file is written through a temporary file, so a failure
// leaves none. Values that are null (NaN or infinite when logged) are skipped, as are lines without a
// key; a step logged twice (a resumed run) keeps its last value. Throws tokenflow::Error naming the
// file, and the line where one is at fault, for an empty or malformed log, a key that no line has,
// nothing to draw, a size below 240 x 160 or above 8192 x 8192, smooth below 1, or an output_path
// with another extension (checked before anything is read or written).
void plot_training_log(const std::string& log_path, const std::string& output_path,
                       const TrainingPlotOptions& options = {});

// The colour of the line and the legend entry of options.keys[index] (Tableau 10, repeating).
std::array<uint8_t, 3> curve_colour(size_t index);

}  // namespace tokenflow::plot
