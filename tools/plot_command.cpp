// plot: the curves of a training log drawn as PNG, SVG or PDF.
#include "commands.h"

#include <tokenflow/plot.h>

#include <memory>

namespace tokenflow::cli {

namespace {

struct PlotOptions {
  std::string log;
  std::string output;
  plot::TrainingPlotOptions plot;
};

}  // namespace

std::vector<Command> add_plot_command(CLI::App& app) {
  auto o = std::make_shared<PlotOptions>();
  CLI::App* c = app.add_subcommand("plot", "draw the curves of a training log (PNG, SVG or PDF)")->group("Training");
  c->add_option("LOG", o->log, "a training run's log.jsonl")->required();
  add_output_option(c, o->output, ".png, .svg or .pdf")->required();
  c->add_option("--keys", o->plot.keys, "log keys to draw (space- or comma-separated)")->delimiter(',')->capture_default_str();
  c->add_option("--smooth", o->plot.smooth, "moving average over N logged values")->capture_default_str();
  c->add_option("--width", o->plot.width, "pixels (points for SVG and PDF)")->capture_default_str()->group(kOutputGroup);
  c->add_option("--height", o->plot.height, "pixels (points for SVG and PDF)")->capture_default_str()->group(kOutputGroup);
  c->add_flag("--log-y", o->plot.log_y, "logarithmic y axis (values <= 0 are left out)");
  c->add_option("--title", o->plot.title, "the title (default: the log's path)")->group(kOutputGroup);
  return {{c, [o](const std::vector<std::string>&) {
             plot::plot_training_log(o->log, o->output, o->plot);
             return 0;
           }}};
}

}  // namespace tokenflow::cli
