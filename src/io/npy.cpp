#include <tokenflow/npy.h>

#include "io/files.h"

#include <tokenflow/error.h>

#include <cctype>
#include <cstring>
#include <limits>
#include <optional>

namespace tokenflow::io {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
constexpr size_t kMaxDims = 64;  // numpy's own limit
constexpr size_t kGrowthAxisDigits = 21;

// Descriptors as numpy writes them on a little-endian machine ('|' where byte order is moot).
const std::vector<std::pair<std::string, torch::ScalarType>>& descriptors() {
  static const std::vector<std::pair<std::string, torch::ScalarType>> table = {
      {"<f2", torch::kFloat16}, {"<f4", torch::kFloat32}, {"<f8", torch::kFloat64}, {"|i1", torch::kInt8},
      {"<i2", torch::kInt16},   {"<i4", torch::kInt32},   {"<i8", torch::kInt64},   {"|u1", torch::kUInt8},
      {"|b1", torch::kBool},
  };
  return table;
}

// The header: a Python dict literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// Parses exactly the literal syntax numpy writes: string keys; string, True/False and int-tuple values.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : text_(text), path_(path) {}

  Header parse() {
    Header header;
    bool has_descr = false, has_order = false, has_shape = false;
    expect('{');
    while (!accept('}')) {
      const std::string key = string();
      expect(':');
      if (key == "descr") {
        if (peek() == '[') fail("structured dtypes are not supported");
        header.descr = string();
        has_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = boolean();
        has_order = true;
      } else if (key == "shape") {
        header.shape = tuple();
        has_shape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      if (!accept(',')) {
        expect('}');
        break;
      }
    }
    if (!has_descr || !has_order || !has_shape) fail("descr, fortran_order or shape missing");
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const { throw Error(path_ + ": invalid .npy header (" + problem + ")"); }

  void skip_space() {
    while (position_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[position_]))) ++position_;
  }

  char peek() {
    skip_space();
    return position_ < text_.size() ? text_[position_] : '\0';
  }

  bool accept(char c) {
    if (peek() != c) return false;
    ++position_;
    return true;
  }

  void expect(char c) {
    if (!accept(c)) fail(std::string("expected '") + c + "'");
  }

  std::string string() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a string");
    const size_t end = text_.find(quote, position_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string value = text_.substr(position_ + 1, end - position_ - 1);
    position_ = end + 1;
    return value;
  }

  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair<const char*, bool>{"True", true}, {"False", false}}) {
      if (text_.compare(position_, std::strlen(word), word) == 0) {
        position_ += std::strlen(word);
        return value;
      }
    }
    fail("expected True or False");
  }

  std::vector<int64_t> tuple() {
    std::vector<int64_t> values;
    expect('(');
    while (!accept(')')) {
      values.push_back(integer());
      if (values.size() > kMaxDims) fail("too many dimensions");
      if (!accept(',')) {
        expect(')');
        break;
      }
    }
    return values;
  }

  int64_t integer() {
    skip_space();
    int64_t value = 0;
    const size_t start = position_;
    while (position_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[position_]))) {
      const int digit = text_[position_++] - '0';
      if (value > (std::numeric_limits<int64_t>::max() - digit) / 10) fail("dimension too large");
      value = value * 10 + digit;
    }
    if (position_ == start) fail("expected a non-negative integer");
    // numpy may write Python 2 longs as 3L.
    if (position_ < text_.size() && text_[position_] == 'L') ++position_;
    return value;
  }

  const std::string& text_;
  const std::string& path_;
  size_t position_ = 0;
};

std::string shape_literal(torch::IntArrayRef sizes) {
  std::string text = "(";
  for (size_t i = 0; i < sizes.size(); ++i) text += (i ? ", " : "") + std::to_string(sizes[i]);
  return text + (sizes.size() == 1 ? ",)" : ")");
}

}  // namespace

torch::Tensor load_npy(const std::string& path) {
  std::ifstream file = open_for_reading(path);
  const uint64_t size = file_size(file);
  char preamble[kMagicSize + 2] = {};
  if (size < sizeof(preamble)) throw Error(path + ": not a .npy file (too short)");
  read_exactly(file, preamble, sizeof(preamble), path, "preamble");
  if (std::memcmp(preamble, kMagic, kMagicSize) != 0) throw Error(path + ": not a .npy file (no \\x93NUMPY magic)");
  const int major = static_cast<unsigned char>(preamble[kMagicSize]);
  if (major < 1 || major > 3) throw Error(path + ": unsupported .npy format version " + std::to_string(major));

  uint32_t header_size = 0;
  if (major == 1) {
    uint16_t short_size = 0;
    read_exactly(file, &short_size, sizeof(short_size), path, "header length");
    header_size = short_size;
  } else {
    read_exactly(file, &header_size, sizeof(header_size), path, "header length");
  }
  const uint64_t data_start = sizeof(preamble) + (major == 1 ? 2 : 4) + uint64_t{header_size};
  if (data_start > size) throw Error(path + ": truncated .npy file (header)");
  std::string header_text(header_size, '\0');
  read_exactly(file, header_text.data(), header_size, path, "header");
  const Header header = HeaderParser(header_text, path).parse();

  if (header.fortran_order) throw Error(path + ": Fortran-order .npy arrays are not supported (save a C-order copy)");
  std::optional<torch::ScalarType> dtype;
  for (const auto& [descr, known] : descriptors()) {
    if (descr == header.descr) dtype = known;
  }
  if (!dtype) throw Error(path + ": unsupported .npy dtype '" + header.descr + "'");

  uint64_t bytes = c10::elementSize(*dtype);
  for (int64_t dim : header.shape) {
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(dim), &bytes)) throw Error(path + ": .npy shape too large");
  }
  if (bytes > size - data_start) {
    throw Error(path + ": truncated .npy file (" + std::to_string(size - data_start) + " bytes of data, " +
                std::to_string(bytes) + " expected)");
  }
  // Bools are read as bytes and compared with zero, so that no byte other than 0/1 becomes a bool.
  const bool is_bool = *dtype == torch::kBool;
  torch::Tensor tensor = torch::empty(header.shape, torch::TensorOptions().dtype(is_bool ? torch::kUInt8 : *dtype));
  read_exactly(file, tensor.data_ptr(), bytes, path, "data");
  return is_bool ? tensor.ne(0) : tensor;
}

void save_npy(const std::string& path, const torch::Tensor& tensor) {
  const torch::Tensor data = tensor.detach().to(torch::kCPU).contiguous();
  const std::string* descr = nullptr;
  for (const auto& [name, known] : descriptors()) {
    if (known == data.scalar_type()) descr = &name;
  }
  if (!descr) throw Error(path + ": " + c10::toString(data.scalar_type()) + " has no .npy dtype");

  std::string header = "{'descr': '" + *descr + "', 'fortran_order': False, 'shape': " + shape_literal(data.sizes()) + ", }";
  // As numpy writes it: spaces that leave room for the first dimension to grow to 21 digits in
  // place, then spaces and a newline up to a 64-byte boundary (a whole 64 when already aligned).
  // Version 2.0 has a 4-byte header length, for headers that do not fit in 2 bytes.
  if (data.dim() > 0) header.append(kGrowthAxisDigits - std::to_string(data.size(0)).size(), ' ');
  auto padding = [&](size_t preamble) { return 64 - (preamble + header.size() + 1) % 64; };
  const bool version2 = header.size() + 1 + padding(kMagicSize + 2 + 2) > 0xffff;
  header.append(padding(kMagicSize + 2 + (version2 ? 4 : 2)), ' ');
  header += '\n';

  AtomicFileWriter out(path);
  out.write(kMagic, kMagicSize);
  const char version[2] = {static_cast<char>(version2 ? 2 : 1), 0};
  out.write(version, sizeof(version));
  if (version2) {
    const auto length = static_cast<uint32_t>(header.size());
    out.write(&length, sizeof(length));
  } else {
    const auto length = static_cast<uint16_t>(header.size());
    out.write(&length, sizeof(length));
  }
  out.write(header.data(), header.size());
  out.write(data.data_ptr(), data.numel() * data.element_size());
  out.commit();
}

}  // namespace tokenflow::io
