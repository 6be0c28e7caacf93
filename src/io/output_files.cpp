// Naming and writing a command's outputs (include/tokenflow/files.h).
#include <tokenflow/files.h>

#include <tokenflow/error.h>
#include <tokenflow/image.h>
#include <tokenflow/npy.h>

#include "io/files.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <optional>

namespace tokenflow::io {

namespace {

namespace fs = std::filesystem;

std::string joined(const std::vector<std::string>& items, const std::string& separator) {
  std::string text;
  for (size_t i = 0; i < items.size(); ++i) text += (i ? separator : "") + items[i];
  return text;
}

// Where `pattern` holds its one integer conversion (%d with an optional zero flag and width): the
// position of the '%' and the conversion's length. nullopt when it holds none.
std::optional<std::pair<size_t, size_t>> integer_conversion(const std::string& pattern) {
  std::optional<std::pair<size_t, size_t>> found;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%') continue;
    if (i + 1 < pattern.size() && pattern[i + 1] == '%') {
      ++i;
      continue;
    }
    size_t end = i + 1;
    while (end < pattern.size() && std::isdigit(static_cast<unsigned char>(pattern[end]))) ++end;
    if (end == pattern.size() || pattern[end] != 'd' || end - i > 4) {
      throw Error(pattern + ": the output pattern may hold one %d (with a width such as %03d) and %% only");
    }
    if (found) throw Error(pattern + ": the output pattern holds more than one %d");
    found = std::make_pair(i, end + 1 - i);
    i = end;
  }
  return found;
}

std::string unescaped(const std::string& text) {
  std::string plain;
  for (size_t i = 0; i < text.size(); ++i) {
    plain += text[i];
    if (text[i] == '%' && i + 1 < text.size() && text[i + 1] == '%') ++i;
  }
  return plain;
}

}  // namespace

std::string lowercase_extension(const std::string& path) {
  std::string extension = fs::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension;
}

bool has_extension(const std::string& path, const std::vector<std::string>& extensions) {
  return std::find(extensions.begin(), extensions.end(), lowercase_extension(path)) != extensions.end();
}

void require_extension(const std::string& path, const std::vector<std::string>& extensions, const std::string& what) {
  if (!has_extension(path, extensions)) throw Error(path + ": " + what + " must end in " + joined(extensions, " or "));
}

void check_output_pattern(const std::string& pattern) { integer_conversion(pattern); }

std::string batch_output_path(const std::string& pattern, int64_t index, int64_t batch) {
  if (const auto conversion = integer_conversion(pattern)) {
    const auto [start, length] = *conversion;
    const std::string format = "%" + pattern.substr(start + 1, length - 2) + "lld";
    char number[32];
    std::snprintf(number, sizeof(number), format.c_str(), static_cast<long long>(index));
    return unescaped(pattern.substr(0, start)) + number + unescaped(pattern.substr(start + length));
  }
  const std::string path = unescaped(pattern);
  if (batch == 1) return path;
  const fs::path original(path);
  return (original.parent_path() / (original.stem().string() + "_" + std::to_string(index) + original.extension().string()))
      .string();
}

OutputFiles::~OutputFiles() {
  if (kept_) return;
  std::error_code ignored;
  for (const auto& path : paths_) fs::remove(path, ignored);
}

void OutputFiles::add(const std::string& path) { paths_.push_back(path); }

void OutputFiles::keep() { kept_ = true; }

void OutputFiles::write_text(const std::string& path, const std::string& text) {
  write_text_file(path, text);
  add(path);
}

void OutputFiles::write_npy(const std::string& path, const torch::Tensor& tensor) {
  save_npy(path, tensor.contiguous());
  add(path);
}

void OutputFiles::write_images(const std::string& pattern, const torch::Tensor& images) {
  if (has_extension(pattern, {".npy"})) {
    write_npy(pattern, images.scalar_type() == torch::kUInt8 ? images.cpu() : images.to(torch::kCPU, torch::kFloat32));
    return;
  }
  const int64_t batch = images.size(0);
  for (int64_t i = 0; i < batch; ++i) {
    const std::string path = batch_output_path(pattern, i, batch);
    save_image(path, images[i]);
    add(path);
  }
}

}  // namespace tokenflow::io
