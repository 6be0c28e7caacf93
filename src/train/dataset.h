#pragma once
// The training images, listed once up front from folders, list files and tar shards (read in place,
// never extracted). Reading and decoding an image is thread-safe, so the loader's workers share one
// dataset.
#include "io/pil_resize.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tokenflow::train {

class ImageDataset {
 public:
  // The images of each source in turn. A source is
  //   a folder: its image files, searched recursively (following links), sorted by path;
  //   a .tar file: its image members in archive order (ustar or GNU tar; long names from GNU 'L'
  //     records and pax 'path' headers);
  //   any other file: a list of image paths, one a line, relative ones resolved against the list's
  //     folder; blank lines and lines starting with '#' are skipped.
  // Image files are those that stb_image decodes: .png .jpg .jpeg .bmp .gif .tga .ppm .pgm, in any
  // case (not .webp). Throws "<source>: ..." when a source cannot be read or holds no image.
  explicit ImageDataset(const std::vector<std::string>& sources);

  size_t size() const { return images_.size(); }

  // The image's path, or "<shard>:<member>" for a member of a tar shard.
  std::string name(size_t index) const;

  // Reads and decodes the image, converted to RGB. Throws "<name>: ..." when it cannot.
  io::RgbImage load(size_t index) const;

 private:
  struct Image {
    std::string path;    // the file, or the member's name in its shard
    int64_t shard = -1;  // index into shards_; -1 for a file
    uint64_t offset = 0;  // where a member's bytes start in its shard
    uint64_t size = 0;
  };

  void add_folder(const std::string& folder);
  void add_list(const std::string& list);
  void add_tar(const std::string& tar);

  std::vector<std::string> shards_;
  std::vector<Image> images_;
};

}  // namespace tokenflow::train
