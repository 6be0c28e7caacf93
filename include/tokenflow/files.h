#pragma once
// Naming and writing a command's outputs: extensions checked before any work, several files written
// as one (all or none), and the names of a batch's images.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tokenflow::io {

// ".png" for "a/b.PNG"; "" when the file name has no extension.
std::string lowercase_extension(const std::string& path);
bool has_extension(const std::string& path, const std::vector<std::string>& extensions);
// Throws tokenflow::Error("<path>: <what> must end in .a or .b") unless `path` has one of them.
void require_extension(const std::string& path, const std::vector<std::string>& extensions, const std::string& what);

// The file of image `index` of a batch of `batch` images written to `pattern`:
//   a pattern with one printf integer conversion (%d, %3d, %03d, ...) names every image with it,
//   whatever the batch size ("out_%03d.png" -> out_000.png, out_001.png, ...); "%%" is a literal %;
//   otherwise one image keeps the name and several get _0, _1, ... before the extension
//   (out.png -> out_0.png, out_1.png, ...).
// Throws tokenflow::Error for a pattern with another conversion or more than one.
std::string batch_output_path(const std::string& pattern, int64_t index, int64_t batch);
// Throws as batch_output_path would, before any work.
void check_output_pattern(const std::string& pattern);

// The files of one command. Each is written to a temporary name and renamed into place; if the
// object is destroyed before keep() (a later step failed), the files it wrote are removed again, so a
// failed command leaves no output.
class OutputFiles {
 public:
  OutputFiles() = default;
  OutputFiles(const OutputFiles&) = delete;
  OutputFiles& operator=(const OutputFiles&) = delete;
  ~OutputFiles();

  void write_text(const std::string& path, const std::string& text);
  void write_npy(const std::string& path, const torch::Tensor& tensor);
  // images: B x 3 x H x W in [-1, 1], or B x H x W x 3 uint8 pixels. A .npy gets the whole batch (as
  // float32, or the pixels); an image file (.png, .jpg, .jpeg) gets one file per image, named by
  // batch_output_path(pattern, i, B).
  void write_images(const std::string& pattern, const torch::Tensor& images);
  // A file written by other means, to be removed with the rest.
  void add(const std::string& path);
  void keep();

 private:
  std::vector<std::string> paths_;
  bool kept_ = false;
};

}  // namespace tokenflow::io
