#pragma once
// Lists of images (one path a line) and captions.tsv, as `tokenflow evaluate`, `eval-teacher` and
// `train-teacher` read them.
#include <tokenflow/evaluate.h>

#include "eval/retrieval.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tokenflow::eval {

// The images of a list file that captions.tsv describes.
struct CaptionedImages {
  std::vector<CaptionedImage> images;  // in list order; paths absolute
  int64_t uncaptioned = 0;             // listed images without a caption, left out
};

// `captions`: lines `path<TAB>caption`, paths relative to the file's folder; an image may have several
// lines. `list`: image paths one a line, relative to the list's folder (blank lines and lines starting
// with '#' skipped), as train::ImageDataset reads list files. Throws tokenflow::Error naming the file
// for a line without a tab, or a list none of whose images has a caption.
CaptionedImages read_captioned_images(const std::string& captions, const std::string& list);

}  // namespace tokenflow::eval
