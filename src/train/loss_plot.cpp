// The training-log plot: the log read into one curve per key, the axes' ticks and labels, and the
// drawing (anti-aliased lines, a bitmap font) into an RGB image that is written as PNG.
#include "train/loss_plot.h"

#include "io/files.h"
#include "io/image.h"

#include <tokenflow/error.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <set>

namespace tokenflow::train {
namespace {

using Colour = std::array<uint8_t, 3>;

// ---------------------------------------------------------------------------------------------
// Font: 5 x 7 glyphs drawn for this file, for letters, digits and the punctuation of numbers, keys and
// paths. Capitals and digits fill rows 0-6, lower case has its x-height in rows 2-6, and rows 7-8
// hold descenders (g j p q y , _). Each row is 5 bits, bit 4 the leftmost column.

constexpr int kGlyphWidth = 5, kGlyphRows = 9, kCapHeight = 7, kAdvance = 6;

struct Glyph {
  char character;
  uint8_t rows[kGlyphRows];
};

constexpr Glyph kFont[] = {
    {' ', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}},
    {'0', {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e, 0x00, 0x00}},
    {'1', {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}},
    {'2', {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f, 0x00, 0x00}},
    {'3', {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e, 0x00, 0x00}},
    {'4', {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02, 0x00, 0x00}},
    {'5', {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e, 0x00, 0x00}},
    {'6', {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e, 0x00, 0x00}},
    {'7', {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08, 0x00, 0x00}},
    {'8', {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e, 0x00, 0x00}},
    {'9', {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c, 0x00, 0x00}},
    {'A', {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11, 0x00, 0x00}},
    {'B', {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e, 0x00, 0x00}},
    {'C', {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e, 0x00, 0x00}},
    {'D', {0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c, 0x00, 0x00}},
    {'E', {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f, 0x00, 0x00}},
    {'F', {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10, 0x00, 0x00}},
    {'G', {0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f, 0x00, 0x00}},
    {'H', {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11, 0x00, 0x00}},
    {'I', {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}},
    {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c, 0x00, 0x00}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11, 0x00, 0x00}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f, 0x00, 0x00}},
    {'M', {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11, 0x00, 0x00}},
    {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x00, 0x00}},
    {'O', {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e, 0x00, 0x00}},
    {'P', {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10, 0x00, 0x00}},
    {'Q', {0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d, 0x00, 0x00}},
    {'R', {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11, 0x00, 0x00}},
    {'S', {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e, 0x00, 0x00}},
    {'T', {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x00}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e, 0x00, 0x00}},
    {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04, 0x00, 0x00}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a, 0x00, 0x00}},
    {'X', {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11, 0x00, 0x00}},
    {'Y', {0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04, 0x00, 0x00}},
    {'Z', {0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f, 0x00, 0x00}},
    {'a', {0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f, 0x00, 0x00}},
    {'b', {0x10, 0x10, 0x1e, 0x11, 0x11, 0x11, 0x1e, 0x00, 0x00}},
    {'c', {0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e, 0x00, 0x00}},
    {'d', {0x01, 0x01, 0x0f, 0x11, 0x11, 0x11, 0x0f, 0x00, 0x00}},
    {'e', {0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e, 0x00, 0x00}},
    {'f', {0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08, 0x00, 0x00}},
    {'g', {0x00, 0x00, 0x0f, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e}},
    {'h', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00, 0x00}},
    {'i', {0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}},
    {'j', {0x02, 0x00, 0x06, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c}},
    {'k', {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12, 0x00, 0x00}},
    {'l', {0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}},
    {'m', {0x00, 0x00, 0x1a, 0x15, 0x15, 0x15, 0x15, 0x00, 0x00}},
    {'n', {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00, 0x00}},
    {'o', {0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e, 0x00, 0x00}},
    {'p', {0x00, 0x00, 0x1e, 0x11, 0x11, 0x11, 0x1e, 0x10, 0x10}},
    {'q', {0x00, 0x00, 0x0f, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x01}},
    {'r', {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10, 0x00, 0x00}},
    {'s', {0x00, 0x00, 0x0f, 0x10, 0x0e, 0x01, 0x1e, 0x00, 0x00}},
    {'t', {0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06, 0x00, 0x00}},
    {'u', {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d, 0x00, 0x00}},
    {'v', {0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04, 0x00, 0x00}},
    {'w', {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a, 0x00, 0x00}},
    {'x', {0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x00, 0x00}},
    {'y', {0x00, 0x00, 0x11, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e}},
    {'z', {0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f, 0x00, 0x00}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c, 0x00, 0x00}},
    {',', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c, 0x04, 0x08}},
    {'-', {0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x00}},
    {'_', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x00}},
    {'+', {0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00, 0x00, 0x00}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03, 0x00, 0x00}},
    {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00, 0x00, 0x00}},
    {':', {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00, 0x00, 0x00}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02, 0x00, 0x00}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08, 0x00, 0x00}},
    {'<', {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02, 0x00, 0x00}},
    {'=', {0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00}},
    {'>', {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08, 0x00, 0x00}},
    {'?', {0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04, 0x00, 0x00}},
    {'[', {0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e, 0x00, 0x00}},
    {']', {0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e, 0x00, 0x00}},
    {'\'', {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}},
    {'#', {0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a, 0x00, 0x00}},
    {'*', {0x00, 0x04, 0x15, 0x0e, 0x15, 0x04, 0x00, 0x00, 0x00}},
    {'!', {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04, 0x00, 0x00}},
    {'~', {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00, 0x00, 0x00}},
};

const Glyph& glyph_of(char character) {
  for (const Glyph& glyph : kFont)
    if (glyph.character == character) return glyph;
  return glyph_of('?');  // for the characters the font lacks
}

// ---------------------------------------------------------------------------------------------
// Drawing

struct Rect {  // the pixels [left, right) x [top, bottom)
  int left, top, right, bottom;
};

struct Point {
  double x, y;
};

class Canvas {
 public:
  Canvas(int width, int height) {
    image_.width = width;
    image_.height = height;
    image_.pixels.assign(size_t(width) * height * 3, 255);
  }

  // Mixes `colour` into pixel (x, y) by `alpha` in [0, 1]; pixels outside the canvas are ignored.
  void blend(int x, int y, const Colour& colour, double alpha) {
    if (x < 0 || y < 0 || x >= image_.width || y >= image_.height) return;
    uint8_t* pixel = &image_.pixels[(size_t(y) * image_.width + x) * 3];
    for (int c = 0; c < 3; ++c) pixel[c] = uint8_t(std::lround(pixel[c] + (colour[c] - pixel[c]) * alpha));
  }

  void fill(const Rect& rect, const Colour& colour) {
    for (int y = rect.top; y < rect.bottom; ++y)
      for (int x = rect.left; x < rect.right; ++x) blend(x, y, colour, 1);
  }

  const io::RgbImage& image() const { return image_; }

 private:
  io::RgbImage image_;
};

int text_width(const std::string& text, int scale) {
  return text.empty() ? 0 : (int(text.size()) * kAdvance - 1) * scale;
}

// (x, y) is the top-left corner of the first glyph; each font pixel becomes scale x scale pixels.
void draw_text(Canvas& canvas, int x, int y, const std::string& text, int scale, const Colour& colour) {
  for (char character : text) {
    const Glyph& glyph = glyph_of(character);
    for (int row = 0; row < kGlyphRows; ++row)
      for (int column = 0; column < kGlyphWidth; ++column)
        if ((glyph.rows[row] >> (kGlyphWidth - 1 - column)) & 1)
          canvas.fill({x + column * scale, y + row * scale, x + (column + 1) * scale, y + (row + 1) * scale}, colour);
    x += kAdvance * scale;
  }
}

// `text` shortened to `max_width` pixels with ".." where it was cut: at the start when `keep_end`
// (a path, whose end names the run), else at the end.
std::string fitted(const std::string& text, int max_width, int scale, bool keep_end) {
  const size_t fits = size_t(std::max(0, (max_width / scale + 1) / kAdvance));
  if (text.size() <= fits) return text;
  if (fits <= 2) return text.substr(0, fits);
  return keep_end ? ".." + text.substr(text.size() - (fits - 2)) : text.substr(0, fits - 2) + "..";
}

// A line `width` pixels wide through `points` (a dot of that diameter for one point), with round ends
// and joins, anti-aliased and clipped to `clip`. Each pixel takes the largest coverage of any segment,
// so that the joins are not painted twice.
void draw_polyline(Canvas& canvas, const std::vector<Point>& points, double width, const Colour& colour,
                   const Rect& clip) {
  if (points.empty()) return;
  const int clip_width = clip.right - clip.left;
  std::vector<float> coverage(size_t(clip_width) * (clip.bottom - clip.top), 0.0f);
  const double radius = width / 2;
  const size_t segments = std::max<size_t>(1, points.size() - 1);
  for (size_t i = 0; i < segments; ++i) {
    const Point a = points[i], b = points[std::min(i + 1, points.size() - 1)];
    const int left = std::max(clip.left, int(std::floor(std::min(a.x, b.x) - radius - 1)));
    const int right = std::min(clip.right, int(std::ceil(std::max(a.x, b.x) + radius + 1)));
    const int top = std::max(clip.top, int(std::floor(std::min(a.y, b.y) - radius - 1)));
    const int bottom = std::min(clip.bottom, int(std::ceil(std::max(a.y, b.y) + radius + 1)));
    const double dx = b.x - a.x, dy = b.y - a.y, length_squared = dx * dx + dy * dy;
    for (int y = top; y < bottom; ++y) {
      for (int x = left; x < right; ++x) {
        const double px = x + 0.5 - a.x, py = y + 0.5 - a.y;  // the pixel's centre, from a
        const double t = length_squared > 0 ? std::clamp((px * dx + py * dy) / length_squared, 0.0, 1.0) : 0.0;
        const double distance = std::hypot(px - t * dx, py - t * dy);
        float& pixel = coverage[size_t(y - clip.top) * clip_width + (x - clip.left)];
        pixel = std::max(pixel, float(std::clamp(radius + 0.5 - distance, 0.0, 1.0)));
      }
    }
  }
  for (int y = clip.top; y < clip.bottom; ++y)
    for (int x = clip.left; x < clip.right; ++x) {
      const float alpha = coverage[size_t(y - clip.top) * clip_width + (x - clip.left)];
      if (alpha > 0) canvas.blend(x, y, colour, alpha);
    }
}

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
  std::ifstream file = io::open_for_reading(path);
  std::vector<std::map<double, double>> values(keys.size());
  std::vector<bool> found(keys.size(), false);
  std::set<std::string> log_keys;
  int64_t line = 0, records = 0;
  std::string text;
  while (std::getline(file, text)) {
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string at = path + ":" + std::to_string(line) + ": ";
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw Error(at + "not valid JSON (" + json_message(e) + ")");
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
  if (file.bad()) throw Error(path + ": read error after line " + std::to_string(line));
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
Curve curve_of(const std::map<double, double>& values, const LossPlotOptions& options) {
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

int widest_label(const std::vector<Tick>& ticks, int scale) {
  int widest = 0;
  for (const Tick& tick : ticks) widest = std::max(widest, text_width(tick.label, scale));
  return widest;
}

// ---------------------------------------------------------------------------------------------
// The plot

const Colour kTitleColour = {20, 20, 20};
const Colour kTextColour = {60, 60, 60};
const Colour kFrameColour = {90, 90, 90};
const Colour kGridColour = {228, 228, 228};

struct LegendEntry {
  std::string key;
  std::string note;  // what of the key is not drawn, on a line of its own; may be empty
  Colour colour;
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

Canvas render(const std::vector<Curve>& curves, const std::vector<LegendEntry>& legend, Axis x_axis, Axis y_axis,
              const std::string& title, bool title_is_path, const LossPlotOptions& options) {
  const int width = options.width, height = options.height;
  // The font scale, line width and spacing grow with the image: 2 at the default 960 x 540.
  const int scale = std::max(1, int(std::lround(std::min(width / 480.0, height / 270.0))));
  const double line_width = std::max(2, scale);
  const int margin = 6 * scale, tick_length = 3 * scale, gap = 2 * scale, row = kGlyphRows * scale;


  // Rows from the top: title, plot, tick labels, the x axis' name. Columns: y tick labels, plot, legend.
  Rect plot;
  plot.top = margin + row + 5 * scale;
  plot.bottom = height - margin - row - gap - kCapHeight * scale - gap - tick_length - 1;
  const int y_max_ticks = std::max(2, (plot.bottom - plot.top) / (3 * row));
  y_axis.ticks = options.log_y ? log_ticks(y_axis.low, y_axis.high, y_max_ticks)
                               : linear_ticks(y_axis.low, y_axis.high, y_max_ticks);
  plot.left = margin + widest_label(y_axis.ticks, scale) + gap + tick_length + 1;
  const int swatch_length = 3 * kAdvance * scale, legend_gap = 6 * scale;
  // The legend's lines: each key, and its note below it, beside the swatch; the smoothing at the end.
  struct LegendLine {
    std::string text;
    Colour colour;
    bool swatch;
  };
  std::vector<LegendLine> legend_lines;
  for (const LegendEntry& entry : legend) {
    legend_lines.push_back({entry.key, entry.colour, true});
    if (!entry.note.empty()) legend_lines.push_back({entry.note, entry.colour, false});
  }
  int legend_text_width = 0;
  for (LegendLine& line : legend_lines) {
    line.text = fitted(line.text, width * 3 / 10, scale, false);
    legend_text_width = std::max(legend_text_width, text_width(line.text, scale));
  }
  const std::string smoothing =
      options.smooth > 1 ? fitted("mean of last " + std::to_string(options.smooth), width * 3 / 10, scale, false) : "";
  legend_text_width = std::max(legend_text_width, text_width(smoothing, scale) - swatch_length - gap);
  plot.right = width - margin - legend_text_width - gap - swatch_length - legend_gap - 1;
  for (int max_ticks = 10;; --max_ticks) {  // as many as leave room between the labels
    x_axis.ticks = linear_ticks(x_axis.low, x_axis.high, max_ticks);
    const int room = widest_label(x_axis.ticks, scale) + 3 * kAdvance * scale;
    if (max_ticks <= 2 || int(x_axis.ticks.size()) * room <= plot.right - plot.left) break;
  }

  const auto x_of = [&](double step) {
    return plot.left + (step - x_axis.low) / (x_axis.high - x_axis.low) * (plot.right - plot.left);
  };
  const auto y_of = [&](double value) {
    return plot.bottom - (value - y_axis.low) / (y_axis.high - y_axis.low) * (plot.bottom - plot.top);
  };
  const auto column_of = [&](double step) { return std::clamp(int(x_of(step)), plot.left, plot.right - 1); };
  const auto row_of = [&](double value) { return std::clamp(int(y_of(value)), plot.top, plot.bottom - 1); };

  Canvas canvas(width, height);
  for (const Tick& tick : x_axis.ticks) {
    const int x = column_of(tick.position);
    canvas.fill({x, plot.top, x + 1, plot.bottom}, kGridColour);
    canvas.fill({x, plot.bottom + 1, x + 1, plot.bottom + 1 + tick_length}, kFrameColour);
    const int label_width = text_width(tick.label, scale);
    const int label_left = std::clamp(x - label_width / 2, 0, width - label_width);
    draw_text(canvas, label_left, plot.bottom + 1 + tick_length + gap, tick.label, scale, kTextColour);
  }
  for (const Tick& tick : y_axis.ticks) {
    const int y = row_of(tick.position);
    canvas.fill({plot.left, y, plot.right, y + 1}, kGridColour);
    canvas.fill({plot.left - 1 - tick_length, y, plot.left - 1, y + 1}, kFrameColour);
    const int label_right = plot.left - 1 - tick_length - gap;
    draw_text(canvas, label_right - text_width(tick.label, scale), y - kCapHeight * scale / 2, tick.label, scale,
              kTextColour);
  }
  const std::string x_name = "step";
  draw_text(canvas, (plot.left + plot.right - text_width(x_name, scale)) / 2, height - margin - row, x_name, scale,
            kTextColour);

  for (size_t k = 0; k < curves.size(); ++k) {
    std::vector<Point> pixels;
    for (const Point& point : curves[k].points) pixels.push_back({x_of(point.x), y_of(point.y)});
    // A lone point is drawn larger, as a dot that can be seen.
    draw_polyline(canvas, pixels, pixels.size() == 1 ? 3 * line_width : line_width, legend[k].colour, plot);
  }
  canvas.fill({plot.left - 1, plot.top - 1, plot.right + 1, plot.top}, kFrameColour);
  canvas.fill({plot.left - 1, plot.bottom, plot.right + 1, plot.bottom + 1}, kFrameColour);
  canvas.fill({plot.left - 1, plot.top - 1, plot.left, plot.bottom + 1}, kFrameColour);
  canvas.fill({plot.right, plot.top - 1, plot.right + 1, plot.bottom + 1}, kFrameColour);

  const int legend_left = plot.right + 1 + legend_gap, line_spacing = 12 * scale;
  int top = plot.top;
  for (const LegendLine& line : legend_lines) {
    const double middle = top + kCapHeight * scale / 2.0;
    if (line.swatch)
      draw_polyline(canvas, {{legend_left + line_width / 2, middle}, {legend_left + swatch_length - line_width / 2, middle}},
                    line_width, line.colour, {0, 0, width, height});
    draw_text(canvas, legend_left + swatch_length + gap, top, line.text, scale, line.colour);
    top += line_spacing;
  }
  if (!smoothing.empty()) draw_text(canvas, legend_left, top + line_spacing / 2, smoothing, scale, kTextColour);

  // Centred over the plot, as far as the canvas allows.
  const std::string shown_title = fitted(title, width - 2 * margin, scale, title_is_path);
  const int title_width = text_width(shown_title, scale);
  draw_text(canvas, std::clamp((plot.left + plot.right - title_width) / 2, margin, width - margin - title_width), margin,
            shown_title, scale, kTitleColour);
  return canvas;
}

std::string lowercase_extension(const std::string& path) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return extension;
}

}  // namespace

std::array<uint8_t, 3> loss_plot_colour(size_t index) {
  static const Colour kTableau10[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
                                      {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
                                      {188, 189, 34},  {23, 190, 207}};
  return kTableau10[index % std::size(kTableau10)];
}

void plot_training_log(const std::string& log_path, const std::string& png_path, const LossPlotOptions& options) {
  if (lowercase_extension(png_path) != ".png") throw Error(png_path + ": the plot is written as PNG, name it .png");
  if (options.width < 240 || options.height < 160 || options.width > 8192 || options.height > 8192)
    throw Error(png_path + ": plot size " + std::to_string(options.width) + " x " + std::to_string(options.height) +
                " is outside 240 x 160 to 8192 x 8192");
  if (options.smooth < 1) throw Error(png_path + ": the smoothing window must be 1 or more, got " + std::to_string(options.smooth));
  if (options.keys.empty()) throw Error(log_path + ": no keys to plot");

  const auto values = read_log(log_path, options.keys);
  std::vector<Curve> curves;
  std::vector<LegendEntry> legend;
  bool any_point = false;
  for (size_t k = 0; k < options.keys.size(); ++k) {
    curves.push_back(curve_of(values[k], options));
    const Curve& curve = curves.back();
    std::string note;
    if (curve.left_out > 0)
      note = "(" + std::to_string(curve.left_out) + " <= 0 left out)";
    else if (curve.points.empty())
      note = "(no finite values)";
    legend.push_back({options.keys[k], note, loss_plot_colour(k)});
    any_point = any_point || !curve.points.empty();
  }
  if (!any_point) {
    std::set<std::string> keys(options.keys.begin(), options.keys.end());
    throw Error(log_path + ": nothing to draw: no " + (options.log_y ? "value above 0 (log scale)" : "finite value") +
                " for " + join(keys));
  }
  const auto [x_axis, y_axis] = axes_of(curves, options.log_y);
  if (!std::isfinite(x_axis.high - x_axis.low) || !std::isfinite(y_axis.high - y_axis.low))
    throw Error(log_path + ": the values span too wide a range to draw");
  const bool title_is_path = options.title.empty();
  const Canvas canvas =
      render(curves, legend, x_axis, y_axis, title_is_path ? log_path : options.title, title_is_path, options);
  io::save_image(png_path, io::to_tensor(canvas.image()));
}

}  // namespace tokenflow::train
