// Lists of held-out images and their captions, as evaluations and teacher training read them.
#include "eval/image_lists.h"

#include <tokenflow/error.h>

#include "io/files.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace tokenflow::eval {

namespace {

namespace fs = std::filesystem;

std::string trimmed(const std::string& text) {
  const auto is_space = [](unsigned char c) { return std::isspace(c) != 0; };
  const auto first = std::find_if_not(text.begin(), text.end(), is_space);
  const auto last = std::find_if_not(text.rbegin(), text.rend(), is_space).base();
  return first < last ? std::string(first, last) : std::string();
}

// The same file named from two folders gets the same key.
std::string resolved(const fs::path& folder, const std::string& path) {
  return fs::absolute(fs::path(path).is_absolute() ? fs::path(path) : folder / path).lexically_normal().string();
}

}  // namespace

CaptionedImages read_captioned_images(const std::string& captions, const std::string& list) {
  std::map<std::string, std::vector<std::string>> captions_of;
  {
    std::ifstream file = io::open_for_reading(captions);
    const fs::path folder = fs::path(captions).parent_path();
    int64_t number = 0;
    for (std::string line; std::getline(file, line);) {
      ++number;
      if (trimmed(line).empty()) continue;
      const size_t tab = line.find('\t');
      if (tab == std::string::npos) {
        throw Error(captions + ": line " + std::to_string(number) + " is not `path<TAB>caption`");
      }
      const std::string caption = trimmed(line.substr(tab + 1));
      if (!caption.empty()) captions_of[resolved(folder, trimmed(line.substr(0, tab)))].push_back(caption);
    }
    if (file.bad()) throw Error(captions + ": cannot read the captions");
  }
  CaptionedImages result;
  const auto listed = read_image_list(list);
  for (const auto& image : listed) {
    const auto found = captions_of.find(image);
    if (found == captions_of.end()) {
      ++result.uncaptioned;
    } else {
      result.images.push_back({image, found->second});
    }
  }
  if (result.images.empty()) {
    throw Error(list + ": none of its " + std::to_string(listed.size()) + " images has a caption in " + captions);
  }
  return result;
}

std::vector<std::string> read_image_list(const std::string& list) {
  std::ifstream file = io::open_for_reading(list);
  const fs::path folder = fs::path(list).parent_path();
  std::vector<std::string> images;
  std::set<std::string> listed;
  for (std::string line; std::getline(file, line);) {
    const std::string path = trimmed(line);
    if (path.empty() || path[0] == '#') continue;
    const std::string image = resolved(folder, path);
    if (listed.insert(image).second) images.push_back(image);
  }
  if (file.bad()) throw Error(list + ": cannot read the list of images");
  return images;
}

}  // namespace tokenflow::eval
