// The training-log plot: the log read into one curve per key, the axes' ticks and labels, and the
// drawing with cairo (anti-aliased lines, the toy text API) onto an image surface written as PNG or a
// stream surface written as SVG or PDF, each through an atomic file writer.
#include <tokenflow/error.h>
#include <tokenflow/files.h>
#include <tokenflow/plot.h>

#include "io/files.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <tuple>

namespace tokenflow::plot {
namespace {

using Colour = std::array<uint8_t, 3>;

struct Point {
  double x, y;
};

// ---------------------------------------------------------------------------------------------
// The log

std::string join(const std::set<std::string>& items) {
  std::string joined;
  for (const auto& item : items) joined += (joined.empty() ? "" : ", ") + item;
  return joined;
}

// nlohmann's message without its "[json.exception.parse_error.101] " tag.
std::string json_message(const nlohmann::json::exception& e) {
  const std::string message = e.what();
  const size_t tag_end = message.find("] ");
  return tag_end == std::string::npos ? message : message.substr(tag_end + 2);
}

// The values of each key by step, NaN where a line has null (nlohmann writes NaN and infinities so).
std::vector<std::map<double, double>> read_log(const std::string& path, const std::vector<std::string>& keys) {
  const std::string contents = io::read_text_file(path);
  std::vector<std::map<double, double>> values(keys.size());
  std::vector<bool> found(keys.size(), false);
  std::set<std::string> log_keys;
  int64_t line = 0, records = 0;
  for (size_t start = 0; start < contents.size();) {
    const size_t end = std::min(contents.find('\n', start), contents.size());
    const std::string text = contents.substr(start, end - start);
    start = end + 1;
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string at = path + ":" + std::to_string(line) + ": ";
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw Error(at + "not valid JSON (" + first_line(json_message(e)) + ")");
    }
    if (!record.is_object()) throw Error(at + "expected a JSON object, one per line");
    const auto step = record.find("step");
    if (step == record.end() || !step->is_number() || !std::isfinite(step->get<double>()))
      throw Error(at + "has no numeric \"step\"");
    ++records;
    for (const auto& item : record.items()) log_keys.insert(item.key());
    for (size_t k = 0; k < keys.size(); ++k) {
      const auto value = record.find(keys[k]);
      if (value == record.end()) continue;
      if (!value->is_null() && !value->is_number()) throw Error(at + "\"" + keys[k] + "\" is not a number");
      found[k] = true;
      values[k][step->get<double>()] =
          value->is_null() ? std::numeric_limits<double>::quiet_NaN() : value->get<double>();
    }
  }
  if (records == 0) throw Error(path + ": empty log (no JSON lines)");
  for (size_t k = 0; k < keys.size(); ++k)
    if (!found[k]) throw Error(path + ": no line has the key \"" + keys[k] + "\" (the log has " + join(log_keys) + ")");
  return values;
}

struct Curve {
  std::vector<Point> points;  // (step, value) by step; log10 of the value on a log scale
  int64_t left_out = 0;       // values <= 0, which a log scale cannot show
};

// The finite values of one key (positive ones on a log scale), each the mean of the last `smooth`.
// Every window is summed afresh: a running sum would carry a diverged step's rounding error onwards.
Curve curve_of(const std::map<double, double>& values, const TrainingPlotOptions& options) {
  Curve curve;
  std::vector<Point> kept;
  for (const auto& [step, value] : values) {
    if (!std::isfinite(value)) continue;
    if (options.log_y && value <= 0) {
      ++curve.left_out;
      continue;
    }
    kept.push_back({step, value});
  }
  for (size_t i = 0; i < kept.size(); ++i) {
    const size_t first = i + 1 >= size_t(options.smooth) ? i + 1 - options.smooth : 0;
    double sum = 0;
    for (size_t j = first; j <= i; ++j) sum += kept[j].y;
    const double mean = sum / double(i + 1 - first);
    curve.points.push_back({kept[i].x, options.log_y ? std::log10(mean) : mean});
  }
  return curve;
}

// ---------------------------------------------------------------------------------------------
// Axes

struct Tick {
  double position;  // on the axis (log10 of the value on a log scale)
  std::string label;
};

struct Axis {
  double low = 0, high = 1;  // the range shown, in positions
  std::vector<Tick> ticks;
};

// [low, high] with a margin of 4% of the span each side, so that no point lies on the frame. A
// range too narrow to label (one value, or rounding noise around one) is first opened to +-`flat_pad`,
// or to +-0.1% where that is wider (1e17 +- 1 would round back to 1e17).
Axis padded_axis(double low, double high, double flat_pad) {
  if (high - low <= 1e-9 * std::max(std::fabs(low), std::fabs(high))) {
    const double middle = (low + high) / 2, pad = std::max(flat_pad, 1e-3 * std::fabs(middle));
    low = middle - pad;
    high = middle + pad;
  }
  const double margin = 0.04 * (high - low);
  return {low - margin, high + margin, {}};
}

std::string printed(const char* format, int precision, double value) {
  char text[64];
  std::snprintf(text, sizeof(text), format, precision, value);
  return text;
}

// The fewest decimals (up to 6) that print `value` within `tolerance`; -1 when 6 do not.
int decimals_for(double value, double tolerance) {
  for (int decimals = 0; decimals <= 6; ++decimals)
    if (std::fabs(std::strtod(printed("%.*f", decimals, value).c_str(), nullptr) - value) <= tolerance) return decimals;
  return -1;
}

// The shortest scientific notation within `tolerance`, with a short exponent: 1e-5, 2.5e7.
std::string scientific(double value, double tolerance) {
  std::string text;
  for (int digits = 0; digits <= 5; ++digits) {
    text = printed("%.*e", digits, value);
    if (std::fabs(std::strtod(text.c_str(), nullptr) - value) <= tolerance) break;
  }
  const size_t e = text.find('e');
  return text.substr(0, e) + "e" + std::to_string(std::atoi(text.c_str() + e + 1));
}

// Plain decimals where up to 4 do and the numbers are below a million, else scientific notation.
// `tolerance` absorbs the rounding of ticks computed as k * step (0.30000000000000004 prints 0.3).
std::string number_label(double value, int decimals, double tolerance) {
  if (std::fabs(value) <= tolerance) value = 0;  // never "-0"
  if (decimals >= 0 && decimals <= 4 && std::fabs(value) < 1e6) return printed("%.*f", decimals, value);
  return value == 0 ? "0" : scientific(value, tolerance);
}

// Ticks at the multiples first * step, (first + 1) * step, ..., last * step, all labelled with the
// same number of decimals. Counted in int, as first + 1 may round to first for huge steps.
std::vector<Tick> ticks_every(double step, double first, double last) {
  const double tolerance = step * 1e-6;
  std::vector<double> values;
  for (int i = 0; i <= int(last - first); ++i) values.push_back((first + i) * step);
  int decimals = 0;
  for (double value : values) {
    const int needed = decimals_for(value, tolerance);
    decimals = needed < 0 || decimals < 0 ? -1 : std::max(decimals, needed);
  }
  std::vector<Tick> ticks;
  for (double value : values) ticks.push_back({value, number_label(value, decimals, tolerance)});
  return ticks;
}

// At most `max_ticks` ticks 1, 2 or 5 times a power of ten apart: the closest such spacing.
std::vector<Tick> linear_ticks(double low, double high, int max_ticks) {
  const double smallest = std::pow(10.0, std::floor(std::log10((high - low) / max_ticks)));
  const double factors[] = {1, 2, 5};
  for (int i = 0;; ++i) {
    const double step = smallest * std::pow(10.0, i / 3) * factors[i % 3];
    const double first = std::ceil(low / step - 1e-9), last = std::floor(high / step + 1e-9);
    if (last - first + 1 <= max_ticks) return ticks_every(step, first, last);
  }
}

// Ticks on a log axis over the exponents [low, high]: the values m * 10^k for m in 1..9, else in
// {1, 2, 5}, else powers of ten (every n-th where there are too many) — the first that fits. A range
// too narrow to hold three such values gets evenly spaced values instead.
std::vector<Tick> log_ticks(double low, double high, int max_ticks) {
  const std::vector<std::vector<double>> mantissa_sets = {{1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 5}, {1}};
  for (size_t set = 0; set < mantissa_sets.size(); ++set) {
    std::vector<Tick> ticks;
    for (double exponent = std::floor(low); exponent <= std::ceil(high); ++exponent)
      for (double mantissa : mantissa_sets[set]) {
        const double value = mantissa * std::pow(10.0, exponent);
        const double position = std::log10(value);
        const double tolerance = std::fabs(value) * 1e-6;
        if (position >= low && position <= high)
          ticks.push_back({position, number_label(value, decimals_for(value, tolerance), tolerance)});
      }
    if (set == 0 && ticks.size() < 3) break;
    if (int(ticks.size()) <= max_ticks) return ticks;
    if (set == mantissa_sets.size() - 1) {
      const size_t stride = (ticks.size() + max_ticks - 1) / max_ticks;
      std::vector<Tick> every_nth;
      for (size_t i = 0; i < ticks.size(); i += stride) every_nth.push_back(ticks[i]);
      return every_nth;
    }
  }
  std::vector<Tick> ticks = linear_ticks(std::pow(10.0, low), std::pow(10.0, high), max_ticks);
  for (Tick& tick : ticks) tick.position = std::log10(tick.position);
  return ticks;
}


// ---------------------------------------------------------------------------------------------
// Text

// `text` as valid UTF-8 without control characters (cairo refuses invalid UTF-8 and C strings end at
// a NUL): each byte that does not start a valid sequence becomes '?', each control character a space.
std::string printable(const std::string& text) {
  std::string result;
  for (size_t i = 0; i < text.size();) {
    const auto byte = [&](size_t j) { return static_cast<unsigned char>(text[j]); };
    const unsigned char lead = byte(i);
    if (lead < 0x80) {
      result += lead < 0x20 || lead == 0x7f ? ' ' : char(lead);
      ++i;
      continue;
    }
    const size_t length = (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xe ? 3 : (lead >> 3) == 0x1e ? 4 : 0;
    bool valid = length > 0 && i + length <= text.size();
    uint32_t code = valid ? lead & (0x7f >> length) : 0;
    for (size_t j = 1; valid && j < length; ++j) {
      valid = (byte(i + j) & 0xc0) == 0x80;
      code = (code << 6) | (byte(i + j) & 0x3f);
    }
    const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    valid = valid && code >= smallest[length] && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff);
    if (valid) {
      result.append(text, i, length);
      i += length;
    } else {
      result += '?';
      ++i;
    }
  }
  return result;
}

void set_font(cairo_t* cr, double size, bool bold) {
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

double text_width(cairo_t* cr, const std::string& text) {
  cairo_text_extents_t extents;
  cairo_text_extents(cr, text.c_str(), &extents);
  return extents.x_advance;
}

// `text` (valid UTF-8) shortened to `max_width` in the current font with "…" where it was cut: at the
// start when `keep_end` (a path, whose end names the run), else at the end. Cut between characters.
std::string fitted(cairo_t* cr, const std::string& text, double max_width, bool keep_end) {
  if (text_width(cr, text) <= max_width) return text;
  const std::string ellipsis = "\u2026";
  std::string kept = text;
  while (!kept.empty()) {
    if (keep_end) {
      size_t cut = 1;
      while (cut < kept.size() && (static_cast<unsigned char>(kept[cut]) & 0xc0) == 0x80) ++cut;
      kept.erase(0, cut);
    } else {
      size_t cut = kept.size() - 1;
      while (cut > 0 && (static_cast<unsigned char>(kept[cut]) & 0xc0) == 0x80) --cut;
      kept.erase(cut);
    }
    const std::string shown = keep_end ? ellipsis + kept : kept + ellipsis;
    if (text_width(cr, shown) <= max_width) return shown;
  }
  return "";
}

void set_colour(cairo_t* cr, const Colour& colour) {
  cairo_set_source_rgb(cr, colour[0] / 255.0, colour[1] / 255.0, colour[2] / 255.0);
}

// Draws `text` with its left end at x and its baseline at y.
void show_text(cairo_t* cr, double x, double y, const std::string& text, const Colour& colour) {
  set_colour(cr, colour);
  cairo_move_to(cr, x, y);
  cairo_show_text(cr, text.c_str());
}

double widest_label(cairo_t* cr, const std::vector<Tick>& ticks) {
  double widest = 0;
  for (const Tick& tick : ticks) widest = std::max(widest, text_width(cr, tick.label));
  return widest;
}

// ---------------------------------------------------------------------------------------------
// The plot

const Colour kTitleColour = {20, 20, 20};
const Colour kTextColour = {50, 50, 50};
const Colour kFrameColour = {90, 90, 90};
const Colour kGridColour = {228, 228, 228};

struct LegendEntry {
  std::string key;
  std::string note;  // what of the key is not drawn, on a line of its own; may be empty
  Colour colour;
};

// What is drawn, whatever the format.
struct Figure {
  std::vector<Curve> curves;
  std::vector<LegendEntry> legend;  // one per curve
  Axis x_axis, y_axis;
  std::string title;
  bool title_is_path = false;
};

// The x axis (steps) and the y axis over every point, padded.
std::pair<Axis, Axis> axes_of(const std::vector<Curve>& curves, bool log_y) {
  double step_low = std::numeric_limits<double>::infinity(), step_high = -step_low;
  double value_low = step_low, value_high = step_high;
  for (const Curve& curve : curves)
    for (const Point& point : curve.points) {
      step_low = std::min(step_low, point.x);
      step_high = std::max(step_high, point.x);
      value_low = std::min(value_low, point.y);
      value_high = std::max(value_high, point.y);
    }
  const double flat_value_pad = log_y ? 0.1 : (value_low != 0 ? std::fabs(value_low) * 0.1 : 1);
  return {padded_axis(step_low, step_high, 1), padded_axis(value_low, value_high, flat_value_pad)};
}

// The centre of a line `width` wide nearest to `position`, such that the line covers whole pixels.
double on_pixels(double position, double width) { return std::round(position - width / 2) + width / 2; }

// Draws `figure` onto `cr`, whose surface is options.width x options.height units (pixels or points).
void render(cairo_t* cr, Figure figure, const TrainingPlotOptions& options) {
  const double width = options.width, height = options.height;
  cairo_font_options_t* font_options = cairo_font_options_create();
  cairo_font_options_set_antialias(font_options, CAIRO_ANTIALIAS_GRAY);
  // Full hinting puts the stems of small text on whole pixels, where they stay dark (PNG only: the
  // vector formats draw the outlines as they are).
  cairo_font_options_set_hint_style(font_options, CAIRO_HINT_STYLE_FULL);
  cairo_set_font_options(cr, font_options);
  cairo_font_options_destroy(font_options);
  cairo_set_antialias(cr, CAIRO_ANTIALIAS_GRAY);

  // Sizes grow with the image, from 13 units of text at the default 960 x 540; never below 9.
  const double font_size = std::max(9.0, 13.0 * std::min(width / 960, height / 540));
  const double title_size = 1.2 * font_size, margin = 0.8 * font_size, gap = 0.4 * font_size;
  const double tick_length = 0.35 * font_size, line_width = std::max(2.0, std::round(font_size / 6.5));

  set_font(cr, title_size, true);
  cairo_font_extents_t title_font;
  cairo_font_extents(cr, &title_font);
  const std::string title = fitted(cr, printable(figure.title), width - 2 * margin, figure.title_is_path);
  const double title_width = text_width(cr, title);

  set_font(cr, font_size, false);
  cairo_font_extents_t font;
  cairo_font_extents(cr, &font);
  cairo_text_extents_t digit;
  cairo_text_extents(cr, "0", &digit);  // digit.height: the height of a number; -y_bearing its top
  const double row = font.ascent + font.descent;

  // Rows from the top: title, plot, tick labels, the x axis' name. Columns: y tick labels, plot, legend.
  struct {
    double left, top, right, bottom;
  } plot;
  plot.top = std::round(margin + title_font.ascent + title_font.descent + gap);
  const double name_baseline = height - margin - font.descent;
  const double tick_baseline = name_baseline - font.ascent - gap;
  plot.bottom = std::round(tick_baseline - digit.height - gap - tick_length);
  const int y_max_ticks = std::max(2, int((plot.bottom - plot.top) / (2.5 * row)));
  Axis& x_axis = figure.x_axis;
  Axis& y_axis = figure.y_axis;
  y_axis.ticks = options.log_y ? log_ticks(y_axis.low, y_axis.high, y_max_ticks)
                               : linear_ticks(y_axis.low, y_axis.high, y_max_ticks);
  plot.left = std::round(margin + widest_label(cr, y_axis.ticks) + gap + tick_length);

  // The legend's lines: each key, and its note below it, beside the swatch; the smoothing at the end.
  const double swatch_length = 2.2 * font_size, legend_gap = 0.8 * font_size, legend_room = 0.3 * width;
  struct LegendLine {
    std::string text;
    Colour colour;
    bool swatch;
  };
  std::vector<LegendLine> legend_lines;
  for (const LegendEntry& entry : figure.legend) {
    legend_lines.push_back({entry.key, entry.colour, true});
    if (!entry.note.empty()) legend_lines.push_back({entry.note, entry.colour, false});
  }
  double legend_text_width = 0;
  for (LegendLine& line : legend_lines) {
    line.text = fitted(cr, printable(line.text), legend_room, false);
    legend_text_width = std::max(legend_text_width, text_width(cr, line.text));
  }
  const std::string smoothing =
      options.smooth > 1 ? fitted(cr, "mean of last " + std::to_string(options.smooth), legend_room, false) : "";
  legend_text_width = std::max(legend_text_width, text_width(cr, smoothing) - swatch_length - gap);
  plot.right = std::round(width - margin - legend_text_width - gap - swatch_length - legend_gap);
  for (int max_ticks = 10;; --max_ticks) {  // as many as leave room between the labels
    x_axis.ticks = linear_ticks(x_axis.low, x_axis.high, max_ticks);
    const double room = widest_label(cr, x_axis.ticks) + 2 * font_size;
    if (max_ticks <= 2 || double(x_axis.ticks.size()) * room <= plot.right - plot.left) break;
  }

  const auto x_of = [&](double step) {
    return plot.left + (step - x_axis.low) / (x_axis.high - x_axis.low) * (plot.right - plot.left);
  };
  const auto y_of = [&](double value) {
    return plot.bottom - (value - y_axis.low) / (y_axis.high - y_axis.low) * (plot.bottom - plot.top);
  };

  set_colour(cr, {255, 255, 255});
  cairo_paint(cr);

  // The grid and the ticks: lines one unit wide on whole pixels.
  cairo_set_line_width(cr, 1);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
  for (const Tick& tick : x_axis.ticks) {
    const double x = on_pixels(x_of(tick.position), 1);
    set_colour(cr, kGridColour);
    cairo_move_to(cr, x, plot.top);
    cairo_line_to(cr, x, plot.bottom);
    cairo_stroke(cr);
    set_colour(cr, kFrameColour);
    cairo_move_to(cr, x, plot.bottom);
    cairo_line_to(cr, x, plot.bottom + tick_length);
    cairo_stroke(cr);
    const double label_width = text_width(cr, tick.label);
    show_text(cr, std::clamp(x - label_width / 2, 0.0, width - label_width), tick_baseline, tick.label, kTextColour);
  }
  for (const Tick& tick : y_axis.ticks) {
    const double y = on_pixels(y_of(tick.position), 1);
    set_colour(cr, kGridColour);
    cairo_move_to(cr, plot.left, y);
    cairo_line_to(cr, plot.right, y);
    cairo_stroke(cr);
    set_colour(cr, kFrameColour);
    cairo_move_to(cr, plot.left - tick_length, y);
    cairo_line_to(cr, plot.left, y);
    cairo_stroke(cr);
    const double label_right = plot.left - tick_length - gap;
    show_text(cr, label_right - text_width(cr, tick.label), y + digit.height / 2, tick.label, kTextColour);
  }
  const std::string x_name = "step";
  show_text(cr, (plot.left + plot.right - text_width(cr, x_name)) / 2, name_baseline, x_name, kTextColour);

  // The curves, clipped to the plot; a lone point as a dot that can be seen.
  cairo_save(cr);
  cairo_rectangle(cr, plot.left, plot.top, plot.right - plot.left, plot.bottom - plot.top);
  cairo_clip(cr);
  cairo_set_line_width(cr, line_width);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  for (size_t k = 0; k < figure.curves.size(); ++k) {
    const std::vector<Point>& points = figure.curves[k].points;
    if (points.empty()) continue;
    set_colour(cr, figure.legend[k].colour);
    if (points.size() == 1) {
      cairo_arc(cr, x_of(points[0].x), y_of(points[0].y), 2 * line_width, 0, 2 * 3.14159265358979323846);
      cairo_fill(cr);
      continue;
    }
    cairo_move_to(cr, x_of(points[0].x), y_of(points[0].y));
    for (size_t i = 1; i < points.size(); ++i) cairo_line_to(cr, x_of(points[i].x), y_of(points[i].y));
    cairo_stroke(cr);
  }
  cairo_restore(cr);

  // The frame, just outside the plot.
  cairo_set_line_width(cr, 1);
  set_colour(cr, kFrameColour);
  cairo_rectangle(cr, plot.left - 0.5, plot.top - 0.5, plot.right - plot.left + 1, plot.bottom - plot.top + 1);
  cairo_stroke(cr);

  // The legend, from the plot's top.
  cairo_text_extents_t x_height;
  cairo_text_extents(cr, "x", &x_height);
  const double legend_left = std::round(plot.right + legend_gap), line_spacing = 1.3 * row;
  double baseline = plot.top + font.ascent;
  cairo_set_line_width(cr, line_width);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
  for (const LegendLine& line : legend_lines) {
    if (line.swatch) {
      const double middle = on_pixels(baseline + x_height.y_bearing / 2, line_width);
      set_colour(cr, line.colour);
      cairo_move_to(cr, legend_left, middle);
      cairo_line_to(cr, legend_left + std::round(swatch_length), middle);
      cairo_stroke(cr);
    }
    show_text(cr, legend_left + swatch_length + gap, baseline, line.text, line.swatch ? kTextColour : line.colour);
    baseline += line_spacing;
  }
  if (!smoothing.empty()) show_text(cr, legend_left, baseline + line_spacing / 2, smoothing, kTextColour);

  // The title, centred over the plot as far as the surface allows.
  set_font(cr, title_size, true);
  show_text(cr, std::clamp((plot.left + plot.right - title_width) / 2, margin, std::max(margin, width - margin - title_width)),
            margin + title_font.ascent, title, kTitleColour);
}

// ---------------------------------------------------------------------------------------------
// Output

using Surface = std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)>;

// Where a stream surface or the PNG writer sends its bytes. An exception cannot cross cairo's C code:
// the first is kept, and cairo is told the write failed.
struct Stream {
  io::AtomicFileWriter* writer;
  std::exception_ptr error;
};

cairo_status_t write_to_stream(void* closure, const unsigned char* data, unsigned int length) {
  auto* stream = static_cast<Stream*>(closure);
  if (stream->error) return CAIRO_STATUS_WRITE_ERROR;
  try {
    stream->writer->write(data, length);
    return CAIRO_STATUS_SUCCESS;
  } catch (...) {
    stream->error = std::current_exception();
    return CAIRO_STATUS_WRITE_ERROR;
  }
}

// Throws the writer's own error, else one naming `path` for a cairo status other than success.
void check(cairo_status_t status, const Stream* stream, const std::string& path) {
  if (stream != nullptr && stream->error) std::rethrow_exception(stream->error);
  if (status != CAIRO_STATUS_SUCCESS)
    throw Error(path + ": cannot draw the plot (cairo: " + cairo_status_to_string(status) + ")");
}

void draw(cairo_surface_t* surface, const Figure& figure, const TrainingPlotOptions& options, const Stream* stream,
          const std::string& path) {
  check(cairo_surface_status(surface), stream, path);
  std::unique_ptr<cairo_t, decltype(&cairo_destroy)> cr(cairo_create(surface), cairo_destroy);
  render(cr.get(), figure, options);
  check(cairo_status(cr.get()), stream, path);
}

}  // namespace

std::array<uint8_t, 3> curve_colour(size_t index) {
  static const Colour kTableau10[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
                                      {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
                                      {188, 189, 34},  {23, 190, 207}};
  return kTableau10[index % std::size(kTableau10)];
}

void plot_training_log(const std::string& log_path, const std::string& output_path, const TrainingPlotOptions& options) {
  const std::string format = io::lowercase_extension(output_path);
  if (format != ".png" && format != ".svg" && format != ".pdf")
    throw Error(output_path + ": the plot must end in .png, .svg or .pdf");
  if (options.width < 240 || options.height < 160 || options.width > 8192 || options.height > 8192)
    throw Error(output_path + ": plot size " + std::to_string(options.width) + " x " + std::to_string(options.height) +
                " is outside 240 x 160 to 8192 x 8192");
  if (options.smooth < 1)
    throw Error(output_path + ": the smoothing window must be 1 or more, got " + std::to_string(options.smooth));
  if (options.keys.empty()) throw Error(log_path + ": no keys to plot");

  const auto values = read_log(log_path, options.keys);
  Figure figure;
  bool any_point = false;
  for (size_t k = 0; k < options.keys.size(); ++k) {
    figure.curves.push_back(curve_of(values[k], options));
    const Curve& curve = figure.curves.back();
    std::string note;
    if (curve.left_out > 0)
      note = "(" + std::to_string(curve.left_out) + " <= 0 left out)";
    else if (curve.points.empty())
      note = "(no finite values)";
    figure.legend.push_back({options.keys[k], note, curve_colour(k)});
    any_point = any_point || !curve.points.empty();
  }
  if (!any_point) {
    std::set<std::string> keys(options.keys.begin(), options.keys.end());
    throw Error(log_path + ": nothing to draw: no " + (options.log_y ? "value above 0 (log scale)" : "finite value") +
                " for " + join(keys));
  }
  std::tie(figure.x_axis, figure.y_axis) = axes_of(figure.curves, options.log_y);
  if (!std::isfinite(figure.x_axis.high - figure.x_axis.low) || !std::isfinite(figure.y_axis.high - figure.y_axis.low))
    throw Error(log_path + ": the values span too wide a range to draw");
  figure.title_is_path = options.title.empty();
  figure.title = figure.title_is_path ? log_path : options.title;

  if (format == ".png") {  // drawn in memory first: the file is opened only once there is a picture
    Surface surface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, options.width, options.height), cairo_surface_destroy);
    draw(surface.get(), figure, options, nullptr, output_path);
    cairo_surface_flush(surface.get());
    io::AtomicFileWriter writer(output_path);
    Stream stream{&writer, nullptr};
    check(cairo_surface_write_to_png_stream(surface.get(), write_to_stream, &stream), &stream, output_path);
    writer.commit();
    return;
  }
  // A stream surface writes as it draws and when finished. It is declared after the writer and the
  // stream, so that on an exception it is destroyed (and flushed into the stream) before they are.
  io::AtomicFileWriter writer(output_path);
  Stream stream{&writer, nullptr};
  const std::string plain_title = printable(figure.title);
  Surface surface(format == ".svg" ? cairo_svg_surface_create_for_stream(write_to_stream, &stream, options.width,
                                                                         options.height)
                                   : cairo_pdf_surface_create_for_stream(write_to_stream, &stream, options.width,
                                                                         options.height),
                  cairo_surface_destroy);
  check(cairo_surface_status(surface.get()), &stream, output_path);
  if (format == ".svg") {
    cairo_svg_surface_set_document_unit(surface.get(), CAIRO_SVG_UNIT_PT);
  } else {
    cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_TITLE, plain_title.c_str());
    cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_CREATOR, "tokenflow");
  }
  draw(surface.get(), figure, options, &stream, output_path);
  cairo_surface_finish(surface.get());
  check(cairo_surface_status(surface.get()), &stream, output_path);
  writer.commit();
}

}  // namespace tokenflow::plot
