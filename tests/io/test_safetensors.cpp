// safetensors: round trips, the file layout, conversion of an official checkpoint, and damaged files.
#include "io/checkpoint.h"
#include "io_test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>

namespace tokenflow::io {
namespace {

using test::error_of;
using test::parity_file;
using test::read_bytes;
using test::ScratchDir;
using test::write_bytes;

using test::contains;

StateDict sample_state() {
  StateDict state;
  state.insert("weight", torch::randn({3, 4}));
  state.insert("half", torch::randn({5}).to(torch::kFloat16));
  state.insert("brain", torch::randn({2, 2}).to(torch::kBFloat16));
  state.insert("indices", torch::arange(-3, 3, torch::kInt64).reshape({2, 3}) * (int64_t{1} << 40));
  state.insert("double", torch::randn({2}, torch::kFloat64));
  state.insert("int", torch::arange(4, torch::kInt32));
  state.insert("bytes", torch::arange(250, 256, torch::kUInt8));
  state.insert("mask", torch::tensor({true, false}));
  state.insert("scalar", torch::tensor(1.5f));
  state.insert("empty", torch::zeros({0, 7}));
  state.insert("transposed", torch::arange(6, torch::kFloat32).reshape({2, 3}).t());  // not contiguous
  state.metadata = {{"format", "pt"}, {"semantic_heads", "2"}};
  return state;
}

void expect_same(const StateDict& actual, const StateDict& expected) {
  ASSERT_EQ(actual.names, expected.names);
  for (const std::string& name : expected.names) {
    const torch::Tensor& a = actual.tensors.at(name);
    const torch::Tensor& b = expected.tensors.at(name);
    EXPECT_EQ(a.scalar_type(), b.scalar_type()) << name;
    EXPECT_EQ(a.sizes(), b.sizes()) << name;
    EXPECT_TRUE(torch::equal(a, b)) << name;
  }
}

// Writes a safetensors file from a header and data given by hand.
void write_safetensors_bytes(const std::string& path, const std::string& header, const std::string& data) {
  const uint64_t size = header.size();
  std::string bytes(reinterpret_cast<const char*>(&size), sizeof(size));
  write_bytes(path, bytes + header + data);
}

TEST(Safetensors, RoundTripKeepsDtypesOrderAndMetadata) {
  ScratchDir dir;
  const std::string path = dir.file("state.safetensors");
  const StateDict state = sample_state();
  save_safetensors(path, state);
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"state.safetensors"});  // no .tmp left

  const StateDict loaded = load_state_dict(path);
  expect_same(loaded, state);
  EXPECT_EQ(loaded.metadata, state.metadata);

  // The layout: 8-byte size, a JSON header padded with spaces so the data starts 8-byte aligned.
  const std::string bytes = read_bytes(path);
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), sizeof(header_size));
  EXPECT_EQ((8 + header_size) % 8, 0u);
  const auto header = nlohmann::json::parse(bytes.substr(8, header_size));
  EXPECT_EQ(header["__metadata__"]["format"], "pt");
  EXPECT_EQ(header["weight"]["dtype"], "F32");
  EXPECT_EQ(header["half"]["dtype"], "F16");
  EXPECT_EQ(header["brain"]["dtype"], "BF16");
  EXPECT_EQ(header["indices"]["dtype"], "I64");
  EXPECT_EQ(header["mask"]["dtype"], "BOOL");
  EXPECT_EQ(header["indices"]["shape"], nlohmann::json::array({2, 3}));
  EXPECT_EQ(header["scalar"]["shape"], nlohmann::json::array());
  EXPECT_EQ(header["weight"]["data_offsets"], nlohmann::json::array({0, 48}));
  EXPECT_EQ(bytes.size(), 8 + header_size + header["transposed"]["data_offsets"][1].get<uint64_t>());
}

TEST(Safetensors, ConvertedOfficialCheckpointReloadsBitIdentically) {
  const std::string official = parity_file("clipb224/model.pt");
  TOKENFLOW_REQUIRE_FIXTURE(official);
  ScratchDir dir;
  const std::string path = dir.file("clipb224.safetensors");
  const StateDict state = load_state_dict(official);
  save_safetensors(path, state);
  expect_same(load_state_dict(path), state);
}

TEST(Safetensors, WriteFailureLeavesNothing) {
  ScratchDir dir;
  const std::string path = dir.file("missing_dir/state.safetensors");
  EXPECT_TRUE(contains(error_of([&] { save_safetensors(path, sample_state()); }, path), "cannot write"));

  StateDict complex;
  complex.insert("z", torch::zeros({2}, torch::kComplexFloat));
  const std::string complex_path = dir.file("complex.safetensors");
  EXPECT_TRUE(contains(error_of([&] { save_safetensors(complex_path, complex); }, complex_path), "safetensors cannot store"));
  EXPECT_TRUE(dir.listing().empty());
}

TEST(Safetensors, DamagedFilesAreErrors) {
  ScratchDir dir;
  const std::string good = dir.file("good.safetensors");
  save_safetensors(good, sample_state());
  const std::string bytes = read_bytes(good);

  const std::string truncated = dir.file("truncated.safetensors");
  write_bytes(truncated, bytes.substr(0, bytes.size() - 10));
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(truncated); }, truncated), "outside the"));

  write_bytes(truncated, bytes.substr(0, 40));  // inside the header
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(truncated); }, truncated), "truncated safetensors file"));

  const std::string path = dir.file("bad.safetensors");
  const std::string data(16, '\0');
  write_safetensors_bytes(path, R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}})", data);
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path); }, path), "data_offsets [8, 24] outside the 16 bytes"));

  write_safetensors_bytes(path, R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}})", data);
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path); }, path), "does not match its dtype and shape"));

  write_safetensors_bytes(path, R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                    "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", data);
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path); }, path), "overlap"));

  write_safetensors_bytes(path, R"({"w": {"dtype": "F8_E4M3", "shape": [16], "data_offsets": [0, 16]}})", data);
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path); }, path), "unsupported dtype F8_E4M3"));

  write_safetensors_bytes(path, R"({"w": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}})", data);
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path); }, path), "invalid shape"));

  write_safetensors_bytes(path, R"({"w": {"dtype": "F32", "shape": [4]}})", data);
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path); }, path), "no data_offsets"));

  write_safetensors_bytes(path, R"({"__metadata__": {"n": 1}})", data);
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path); }, path), "__metadata__ value for n is not a string"));

  write_safetensors_bytes(path, R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]})", data);
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path); }, path), "header is not a JSON object"));

  write_safetensors_bytes(path, R"({"__metadata__": {}})", data);
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path); }, path), "no tensors found"));

  std::string huge_header(16, '\0');
  huge_header[6] = 1;  // 2^48 bytes of header
  huge_header[8] = '{';
  write_bytes(path, huge_header);
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path); }, path), "truncated safetensors file"));
}

}  // namespace
}  // namespace tokenflow::io
