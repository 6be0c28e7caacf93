// .npy: round trips of every dtype, numpy's own files and byte layout, and damaged files.
#include <tokenflow/npy.h>
#include "io_test_util.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace tokenflow::io {
namespace {

using test::error_of;
using test::parity_file;
using test::read_bytes;
using test::ScratchDir;
using test::write_bytes;

using test::contains;

// A .npy file with the given version, header dict and data (header padded as numpy does).
std::string npy_bytes(int major, std::string header, const std::string& data) {
  const size_t preamble = 6 + 2 + (major == 1 ? 2 : 4);
  header.append(64 - (preamble + header.size() + 1) % 64, ' ');
  header += '\n';
  std::string bytes = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  const auto length = static_cast<uint32_t>(header.size());
  bytes.append(reinterpret_cast<const char*>(&length), major == 1 ? 2 : 4);
  return bytes + header + data;
}

TEST(Npy, RoundTripOfEveryDtype) {
  ScratchDir dir;
  const std::vector<torch::Tensor> tensors = {
      torch::randn({2, 3, 4}),
      torch::randn({5}, torch::kFloat64),
      torch::randn({3, 2}).to(torch::kFloat16),
      torch::arange(-6, 6, torch::kInt64).reshape({3, 4}) * (int64_t{1} << 40),
      torch::arange(-3, 3, torch::kInt32),
      torch::arange(-3, 3, torch::kInt16),
      torch::arange(-3, 3, torch::kInt8),
      torch::arange(250, 256, torch::kUInt8).reshape({2, 3}),
      torch::tensor({true, false, true}),
      torch::tensor(3.25f),                                   // 0-d
      torch::zeros({0, 4}),                                   // empty
      torch::arange(12, torch::kFloat32).reshape({3, 4}).t(),  // not contiguous
  };
  for (size_t i = 0; i < tensors.size(); ++i) {
    const std::string path = dir.file("tensor" + std::to_string(i) + ".npy");
    save_npy(path, tensors[i]);
    const torch::Tensor loaded = load_npy(path);
    EXPECT_EQ(loaded.scalar_type(), tensors[i].scalar_type()) << i;
    EXPECT_EQ(loaded.sizes(), tensors[i].sizes()) << i;
    EXPECT_TRUE(torch::equal(loaded, tensors[i])) << i;
  }
  for (const std::string& name : dir.listing()) EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
}

TEST(Npy, Bfloat16HasNoNpyDtype) {
  ScratchDir dir;
  const std::string path = dir.file("brain.npy");
  EXPECT_TRUE(contains(error_of([&] { save_npy(path, torch::zeros({2}, torch::kBFloat16)); }, path), "BFloat16 has no .npy dtype"));
  EXPECT_TRUE(dir.listing().empty());
}

TEST(Npy, ReadsNumpyFilesAndWritesTheSameBytes) {
  const std::string indices_path = parity_file("clipb224/indices.npy");
  const std::string input_path = parity_file("clipb224/input.npy");
  TOKENFLOW_REQUIRE_FIXTURE(indices_path);
  const torch::Tensor indices = load_npy(indices_path);
  EXPECT_EQ(indices.scalar_type(), torch::kInt64);
  EXPECT_EQ(indices.sizes(), torch::IntArrayRef({2, 561}));
  EXPECT_GE(indices.min().item<int64_t>(), 0);
  EXPECT_LT(indices.max().item<int64_t>(), 1024);

  const torch::Tensor input = load_npy(input_path);
  EXPECT_EQ(input.scalar_type(), torch::kFloat32);
  EXPECT_EQ(input.sizes(), torch::IntArrayRef({2, 3, 224, 224}));
  EXPECT_GE(input.min().item<float>(), -1.f);
  EXPECT_LE(input.max().item<float>(), 1.f);

  ScratchDir dir;
  for (const auto& [path, tensor] : {std::pair{indices_path, indices}, std::pair{input_path, input}}) {
    const std::string copy = dir.file("copy.npy");
    save_npy(copy, tensor);
    EXPECT_EQ(read_bytes(copy), read_bytes(path)) << path;
  }
}

TEST(Npy, FormatVersions2And3) {
  ScratchDir dir;
  const std::vector<float> values = {1.5f, -2.f};
  const std::string data(reinterpret_cast<const char*>(values.data()), 8);
  for (int major : {2, 3}) {
    const std::string path = dir.file("v" + std::to_string(major) + ".npy");
    write_bytes(path, npy_bytes(major, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data));
    EXPECT_TRUE(torch::equal(load_npy(path), torch::tensor(values))) << major;
  }
  const torch::Tensor big = torch::zeros(std::vector<int64_t>(20, 1));  // header still small: version 1
  save_npy(dir.file("many_dims.npy"), big);
  EXPECT_EQ(read_bytes(dir.file("many_dims.npy"))[6], '\x01');
}

TEST(Npy, UnsupportedAndDamagedFilesAreErrors) {
  ScratchDir dir;
  const std::string path = dir.file("bad.npy");
  const std::string data(16, '\0');
  auto error_for = [&](const std::string& bytes) {
    write_bytes(path, bytes);
    return error_of([&] { load_npy(path); }, path);
  };

  EXPECT_TRUE(contains(error_for(npy_bytes(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", data)), "Fortran-order"));
  EXPECT_TRUE(contains(error_for(npy_bytes(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", data)), "unsupported .npy dtype '>f4'"));
  EXPECT_TRUE(contains(error_for(npy_bytes(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", data)), "structured"));
  EXPECT_TRUE(contains(error_for(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", data)), "truncated .npy file (16 bytes of data, 20 expected)"));
  EXPECT_TRUE(contains(error_for(npy_bytes(1, "{'descr': '<f4', 'shape': (4,), }", data)), "invalid .npy header"));
  EXPECT_TRUE(contains(error_for(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", data)), "invalid .npy header"));
  EXPECT_TRUE(contains(error_for(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", data)), "invalid .npy header"));
  EXPECT_TRUE(contains(error_for(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", data)), "shape too large"));
  EXPECT_TRUE(contains(error_for(npy_bytes(4, "{}", data)), "unsupported .npy format version 4"));
  EXPECT_TRUE(contains(error_for(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", data).substr(0, 40)), "truncated .npy file"));
  EXPECT_TRUE(contains(error_for("PK\x03\x04 definitely not numpy"), "not a .npy file (no \\x93NUMPY magic)"));
  EXPECT_TRUE(contains(error_for(""), "not a .npy file (too short)"));

  const std::string missing = dir.file("missing.npy");
  EXPECT_TRUE(contains(error_of([&] { load_npy(missing); }, missing), "cannot open (No such file or directory)"));
}

}  // namespace
}  // namespace tokenflow::io
