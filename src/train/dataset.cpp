#include "train/dataset.h"

#include "io/files.h"
#include "io/image.h"

#include <tokenflow/error.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>

namespace tokenflow::train {

namespace {

namespace fs = std::filesystem;

constexpr const char* kImageExtensions[] = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga", ".ppm", ".pgm"};

// ".png, .jpg, ...", for error messages.
std::string image_extension_list() {
  std::string list;
  for (const char* extension : kImageExtensions) list += (list.empty() ? "" : ", ") + std::string(extension);
  return list;
}

bool has_image_extension(const std::string& name) {
  const size_t dot = name.find_last_of('.');
  if (dot == std::string::npos || name.find('/', dot) != std::string::npos) return false;
  std::string extension = name.substr(dot);
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(std::begin(kImageExtensions), std::end(kImageExtensions), extension) != std::end(kImageExtensions);
}

std::string trimmed(const std::string& text) {
  const auto is_space = [](unsigned char c) { return std::isspace(c) != 0; };
  const auto first = std::find_if_not(text.begin(), text.end(), is_space);
  const auto last = std::find_if_not(text.rbegin(), text.rend(), is_space).base();
  return first < last ? std::string(first, last) : std::string();
}

// The tar format: 512-byte blocks; each member is a header block followed by its data, padded to
// whole blocks; the archive ends with zero blocks (or, from some writers, simply at the end of file).
constexpr uint64_t kBlock = 512;
using TarHeader = std::array<char, kBlock>;

// A NUL-terminated header field of at most `length` characters.
std::string header_text(const TarHeader& header, size_t offset, size_t length) {
  const char* field = header.data() + offset;
  return std::string(field, std::find(field, field + length, '\0'));
}

// A numeric header field: octal digits between optional spaces and NULs, or, when the first byte has
// its high bit set, a big-endian base-256 number (GNU tar, for sizes of 8 GiB and more).
bool parse_header_number(const TarHeader& header, size_t offset, size_t length, uint64_t& value) {
  const auto* field = reinterpret_cast<const unsigned char*>(header.data() + offset);
  value = 0;
  if (field[0] & 0x80) {
    if (field[0] != 0x80) return false;  // negative, or too large
    for (size_t i = 1; i < length; ++i) {
      if (value >> 56) return false;
      value = (value << 8) | field[i];
    }
    return true;
  }
  size_t i = 0;
  while (i < length && field[i] == ' ') ++i;
  for (; i < length && field[i] >= '0' && field[i] <= '7'; ++i) {
    if (value >> 61) return false;
    value = value * 8 + (field[i] - '0');
  }
  for (; i < length; ++i) {
    if (field[i] != ' ' && field[i] != '\0') return false;
  }
  return true;
}

// The header checksum: the sum of its bytes with the checksum field read as spaces. Some old writers
// summed signed chars; either sum is accepted.
bool checksum_matches(const TarHeader& header) {
  constexpr size_t kChecksumOffset = 148, kChecksumLength = 8;
  uint64_t stored = 0;
  if (!parse_header_number(header, kChecksumOffset, kChecksumLength, stored)) return false;
  int64_t unsigned_sum = 0, signed_sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    const bool in_field = i >= kChecksumOffset && i < kChecksumOffset + kChecksumLength;
    unsigned_sum += in_field ? ' ' : static_cast<unsigned char>(header[i]);
    signed_sum += in_field ? ' ' : static_cast<signed char>(header[i]);
  }
  return static_cast<int64_t>(stored) == unsigned_sum || static_cast<int64_t>(stored) == signed_sum;
}

// The records of a pax extended header, "<length> <key>=<value>\n" each; only `path` and `size` matter
// here. Returns false when the records are malformed.
bool parse_pax_records(const std::string& records, std::string& path, uint64_t& size, bool& has_size) {
  for (size_t position = 0; position < records.size();) {
    const size_t space = records.find(' ', position);
    if (space == std::string::npos) return false;
    uint64_t length = 0;
    for (size_t i = position; i < space; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(records[i])) || length > records.size()) return false;
      length = length * 10 + (records[i] - '0');
    }
    const bool fits = length > space - position + 1 && position + length <= records.size();
    if (!fits || records[position + length - 1] != '\n') return false;
    const std::string record = records.substr(space + 1, position + length - space - 2);
    const size_t equals = record.find('=');
    if (equals == std::string::npos) return false;
    const std::string key = record.substr(0, equals), value = record.substr(equals + 1);
    if (key == "path") path = value;
    if (key == "size") {
      if (value.empty() || value.size() > 19 || !std::all_of(value.begin(), value.end(), ::isdigit)) return false;
      size = std::stoull(value);
      has_size = true;
    }
    position += length;
  }
  return true;
}

std::string read_member_text(std::ifstream& file, uint64_t size, const std::string& tar, const std::string& what) {
  std::string text(size, '\0');
  io::read_exactly(file, text.data(), size, tar, what);
  return text;
}

}  // namespace

ImageDataset::ImageDataset(const std::vector<std::string>& sources) {
  if (sources.empty()) throw Error("training data: no source given");
  for (const std::string& source : sources) {
    std::error_code ignored;
    if (fs::is_directory(source, ignored)) {
      add_folder(source);
    } else if (fs::path(source).extension() == ".tar") {
      add_tar(source);
    } else {
      add_list(source);
    }
  }
}

std::string ImageDataset::name(size_t index) const {
  const Image& image = images_.at(index);
  return image.shard < 0 ? image.path : shards_[image.shard] + ":" + image.path;
}

io::RgbImage ImageDataset::load(size_t index) const {
  const Image& image = images_.at(index);
  const std::string image_name = name(index);
  std::ifstream stream = io::open_for_reading(image.shard < 0 ? image.path : shards_[image.shard]);
  uint64_t size = image.size;
  if (image.shard < 0) {
    size = io::file_size(stream);
  } else {
    stream.seekg(static_cast<std::streamoff>(image.offset));
  }
  std::vector<uint8_t> bytes(size);
  io::read_exactly(stream, bytes.data(), size, image_name, "image data");
  return io::decode_image(bytes.data(), bytes.size(), image_name);
}

void ImageDataset::add_folder(const std::string& folder) {
  const size_t first = images_.size();
  std::error_code error;
  const auto options = fs::directory_options::follow_directory_symlink | fs::directory_options::skip_permission_denied;
  fs::recursive_directory_iterator entry(folder, options, error);
  for (; !error && entry != fs::recursive_directory_iterator(); entry.increment(error)) {
    std::error_code not_a_file;
    if (has_image_extension(entry->path().filename().string()) && entry->is_regular_file(not_a_file)) {
      images_.push_back(Image{entry->path().string()});
    }
  }
  if (error) throw Error(folder + ": cannot list (" + error.message() + ")");
  if (images_.size() == first) {
    throw Error(folder + ": no images found (searched recursively for " + image_extension_list() + ")");
  }
  std::sort(images_.begin() + static_cast<std::ptrdiff_t>(first), images_.end(),
            [](const Image& a, const Image& b) { return a.path < b.path; });
}

void ImageDataset::add_list(const std::string& list) {
  std::ifstream file = io::open_for_reading(list);
  const fs::path folder = fs::path(list).parent_path();
  const size_t first = images_.size();
  for (std::string line; std::getline(file, line);) {
    const std::string path = trimmed(line);
    if (path.empty() || path[0] == '#') continue;
    images_.push_back(Image{fs::path(path).is_absolute() ? path : (folder / path).string()});
  }
  if (file.bad()) throw Error(list + ": cannot read list of images");
  if (images_.size() == first) throw Error(list + ": no images listed");
}

void ImageDataset::add_tar(const std::string& tar) {
  std::ifstream file = io::open_for_reading(tar);
  const uint64_t tar_size = io::file_size(file);
  const auto shard = static_cast<int64_t>(shards_.size());
  shards_.push_back(tar);
  const size_t first = images_.size();

  // A GNU 'L' record or a pax 'x' header describes the member that follows it.
  std::string long_name;
  uint64_t pax_size = 0;
  bool has_pax_size = false;
  TarHeader header;
  for (uint64_t offset = 0; offset + kBlock <= tar_size;) {
    file.seekg(static_cast<std::streamoff>(offset));
    io::read_exactly(file, header.data(), kBlock, tar, "tar header");
    if (std::all_of(header.begin(), header.end(), [](char c) { return c == '\0'; })) break;
    const std::string at = " at offset " + std::to_string(offset);
    uint64_t size = 0;
    if (!checksum_matches(header) || !parse_header_number(header, 124, 12, size)) {
      throw Error(tar + ": not a tar archive (bad header" + at + ")");
    }
    const char type = header[156];
    const bool is_extension_record = type == 'x' || type == 'g' || type == 'L' || type == 'K';
    if (!is_extension_record && has_pax_size) size = pax_size;
    const uint64_t data = offset + kBlock;
    if (size > tar_size - data) throw Error(tar + ": truncated tar archive (member" + at + ")");

    if (type == 'L') {
      long_name = read_member_text(file, size, tar, "GNU long name");
      long_name.erase(std::find(long_name.begin(), long_name.end(), '\0'), long_name.end());
    } else if (type == 'x') {
      if (!parse_pax_records(read_member_text(file, size, tar, "pax header"), long_name, pax_size, has_pax_size)) {
        throw Error(tar + ": malformed pax header" + at);
      }
    } else if (!is_extension_record) {  // a pax global header ('g') or GNU long link name ('K') is skipped
      const bool regular_file = type == '0' || type == '\0' || type == '7';  // '7': contiguous file
      std::string member = long_name;
      if (member.empty()) {
        member = header_text(header, 0, 100);
        // POSIX ustar splits long names into prefix and name; GNU tar ("ustar  ") uses the field otherwise.
        const std::string prefix = header_text(header, 345, 155);
        if (header_text(header, 257, 6) == "ustar" && !prefix.empty()) member = prefix + "/" + member;
      }
      if (regular_file && has_image_extension(member)) images_.push_back(Image{member, shard, data, size});
      long_name.clear();
      has_pax_size = false;
    }
    offset = data + (size + kBlock - 1) / kBlock * kBlock;
  }
  if (images_.size() == first) {
    throw Error(tar + ": no images found (members ending in " + image_extension_list() + ")");
  }
}

}  // namespace tokenflow::train
