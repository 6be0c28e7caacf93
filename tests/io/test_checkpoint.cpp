// Loading torch.save checkpoints: the official files of the parity fixtures, every dtype and view,
// the choice of state dict, and broken or hostile archives.
#include "io/checkpoint.h"
#include "io/torch_pickle.h"
#include "io_test_util.h"
#include "pickle_bytes.h"

#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

namespace tokenflow::io {
namespace {

using test::data_file;
using test::error_of;
using test::parity_file;
using test::PickleBytes;
using test::read_bytes;
using test::ScratchDir;
using test::write_bytes;

using test::contains;

// A torch.save-style archive with the given data.pkl and storage records (`data/<key>`).
void write_archive(const std::string& path, const std::string& pickle,
                   const std::vector<std::pair<std::string, std::string>>& records = {}) {
  caffe2::serialize::PyTorchStreamWriter writer(path);
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  for (const auto& [name, bytes] : records) writer.writeRecord(name, bytes.data(), bytes.size());
  writer.writeEndOfFile();
}

std::string float_bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

TEST(Checkpoint, OfficialCheckpointGivesTheModelEntry) {
  const std::string path = parity_file("clipb224/model.pt");
  TOKENFLOW_REQUIRE_FIXTURE(path);
  const StateDict state = load_state_dict(path);  // `args` (an argparse.Namespace) and `steps` are skipped
  ASSERT_EQ(state.names.size(), 429u);
  EXPECT_EQ(state.names.front(), "encoder.conv_in.weight");
  EXPECT_EQ(state.names.back(), "quantize.embedding_vqgan.weight");
  const torch::Tensor& codebook = state.tensors.at("quantize.embedding_vqkd.weight");
  EXPECT_EQ(codebook.sizes(), torch::IntArrayRef({1024, 32}));
  EXPECT_EQ(codebook.scalar_type(), torch::kFloat32);
  // Values read once with torch.load.
  EXPECT_FLOAT_EQ(codebook[0][0].item<float>(), -0.15835583209991455f);
  EXPECT_FLOAT_EQ(codebook[0][2].item<float>(), -0.35548272728919983f);
  EXPECT_EQ(state.tensors.at("encoder.conv_in.weight").sizes(), torch::IntArrayRef({32, 3, 3, 3}));
  int64_t parameters = 0;
  for (const auto& [name, tensor] : state.tensors) parameters += tensor.numel();
  EXPECT_EQ(parameters, 5013435);
  EXPECT_TRUE(state.metadata.empty());
}

TEST(Checkpoint, EmaIsPreferredOverModel) {
  const std::string path = parity_file("clipb256e/model.pt");
  TOKENFLOW_REQUIRE_FIXTURE(path);
  const StateDict chosen = load_state_dict(path);
  const StateDict ema = load_state_dict(path, "ema");
  const StateDict decoy = load_state_dict(path, "model");
  ASSERT_EQ(chosen.names, ema.names);
  ASSERT_EQ(decoy.names.size(), ema.names.size());
  for (const std::string& name : ema.names) {
    EXPECT_TRUE(torch::equal(chosen.tensors.at(name), ema.tensors.at(name))) << name;
    if (name != "decoder.conv_out.bias") {
      EXPECT_TRUE(torch::equal(decoy.tensors.at(name), ema.tensors.at(name))) << name;
    }
  }
  // The decoy's bias is the EMA's plus 0.5 (as the fixture was made).
  const torch::Tensor& ema_bias = ema.tensors.at("decoder.conv_out.bias");
  EXPECT_FLOAT_EQ(ema_bias[0].item<float>(), 0.08121953904628754f);
  EXPECT_TRUE(torch::allclose(decoy.tensors.at("decoder.conv_out.bias"), ema_bias + 0.5));

  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path, "optimizer"); }, path), "no entry `optimizer` (the file holds: ema, steps, model)"));
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path, "steps"); }, path), "entry `steps` is not a state dict (int)"));
}

TEST(Checkpoint, TopLevelFloat16StateDict) {
  const std::string path = parity_file("train_step/lpips_vgg16.pt");
  TOKENFLOW_REQUIRE_FIXTURE(path);
  const StateDict state = load_state_dict(path);
  ASSERT_EQ(state.names.size(), 33u);
  EXPECT_EQ(state.names[0], "scaling_layer.shift");
  EXPECT_EQ(state.names.back(), "lin4.model.1.weight");
  for (const auto& [name, tensor] : state.tensors) EXPECT_EQ(tensor.scalar_type(), torch::kFloat16) << name;
  const torch::Tensor shift = state.tensors.at("scaling_layer.shift");
  EXPECT_EQ(shift.sizes(), torch::IntArrayRef({1, 3, 1, 1}));
  const torch::Tensor expected = torch::tensor({-0.029998779296875, -0.0880126953125, -0.18798828125}).view({1, 3, 1, 1});
  EXPECT_TRUE(torch::equal(shift.to(torch::kFloat64), expected.to(torch::kFloat64)));
  EXPECT_EQ(state.tensors.at("net.slice5.28.weight").sizes(), torch::IntArrayRef({512, 512, 3, 3}));
}

// tests/data/io/dtypes.pt, made by make_fixtures.py; the expected values use the same formulas.
TEST(Checkpoint, EveryDtypeAndView) {
  const StateDict state = load_state_dict(data_file("dtypes.pt"));  // the `state_dict` entry
  const std::vector<std::string> names = {"f32", "f64",    "f16",   "bf16",       "i64",             "i32",   "u8",
                                          "bool", "scalar", "empty", "view.slice", "view.transposed", "param", "nested.inner.w"};
  ASSERT_EQ(state.names, names);
  auto expect_equal = [&](const std::string& name, const torch::Tensor& expected) {
    const torch::Tensor& actual = state.tensors.at(name);
    EXPECT_EQ(actual.scalar_type(), expected.scalar_type()) << name;
    EXPECT_EQ(actual.sizes(), expected.sizes()) << name;
    EXPECT_TRUE(actual.is_contiguous()) << name;
    EXPECT_TRUE(torch::equal(actual, expected)) << name;
  };
  const auto f32 = torch::kFloat32;
  expect_equal("f32", torch::arange(6, f32).reshape({2, 3}) * 0.5);
  expect_equal("f64", torch::arange(6, torch::kFloat64) / 3);
  expect_equal("f16", (torch::arange(6, f32) / 7).to(torch::kFloat16));
  expect_equal("bf16", (torch::arange(6, f32) / 7).to(torch::kBFloat16));
  expect_equal("i64", torch::arange(-3, 3, torch::kInt64) * (int64_t{1} << 40));
  expect_equal("i32", torch::arange(-3, 3, torch::kInt32));
  expect_equal("u8", torch::arange(250, 256, torch::kUInt8));
  expect_equal("bool", torch::tensor({true, false, true}));
  expect_equal("scalar", torch::tensor(2.5f));
  expect_equal("empty", torch::zeros({0, 3}));
  const torch::Tensor base = torch::arange(24, f32).reshape({4, 6});
  expect_equal("view.slice", base.slice(0, 1, 3).slice(1, 2, 5));
  expect_equal("view.transposed", base.t());
  expect_equal("param", torch::full({2, 2}, 0.25));
  expect_equal("nested.inner.w", torch::ones({2}));
}

TEST(Checkpoint, HostileGlobalsAreNeverRun) {
  ScratchDir dir;
  const std::string marker = dir.file("pwned");
  PickleBytes pickle;
  pickle.empty_dict().mark();
  pickle.string("evil").global("os", "system").string("touch " + marker).op(0x85).reduce();
  pickle.string("model").empty_dict().string("w").float_tensor("0", 4, 1, 3).setitem();
  pickle.setitems().stop();
  const std::string path = dir.file("hostile.pt");
  write_archive(path, pickle.str(), {{"data/0", float_bytes({1, 2, 3, 4})}});

  const StateDict state = load_state_dict(path);
  EXPECT_FALSE(std::filesystem::exists(marker));
  ASSERT_EQ(state.names, std::vector<std::string>{"w"});
  EXPECT_TRUE(torch::equal(state.tensors.at("w"), torch::tensor({2.f, 3.f, 4.f})));

  PickleBytes only_evil;
  only_evil.global("os", "system").string("touch " + marker).op(0x85).reduce().stop();
  write_archive(path, only_evil.str());
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path); }, path), "the pickled object is not a dict (os.system)"));
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST(Checkpoint, BrokenPicklesAreErrors) {
  ScratchDir dir;
  const std::string path = dir.file("broken.pt");

  PickleBytes huge_memo_index;
  huge_memo_index.op('j').u32(0xfffffff0).stop();
  write_archive(path, huge_memo_index.str());
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path); }, path), "data.pkl: pickle byte 2: memo entry"));

  PickleBytes underflow;
  underflow.empty_dict().setitems().stop();
  write_archive(path, underflow.str());
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path); }, path), "no MARK"));

  PickleBytes no_tensors;
  no_tensors.empty_dict().string("steps").int1(3).setitem().stop();
  write_archive(path, no_tensors.str());
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path); }, path), "no tensors found (not a TokenFlow checkpoint?)"));
}

TEST(Checkpoint, SelfContainingDictEnds) {
  ScratchDir dir;
  PickleBytes pickle;  // d = {'w': tensor}; d['self'] = d
  pickle.empty_dict().put(0).string("w").float_tensor("0", 2, 0, 2).setitem().string("self").get(0).setitem().stop();
  const std::string path = dir.file("cycle.pt");
  write_archive(path, pickle.str(), {{"data/0", float_bytes({5, 6})}});
  const StateDict state = load_state_dict(path);
  EXPECT_EQ(state.names.front(), "w");
  EXPECT_LE(state.names.size(), 16u);  // self.w, self.self.w, ... up to the nesting limit
}

TEST(Checkpoint, BadStorageRecordsAreErrors) {
  ScratchDir dir;
  const std::string path = dir.file("storage.pt");
  PickleBytes pickle;
  pickle.empty_dict().string("w").float_tensor("0", 4, 0, 4).setitem().stop();

  write_archive(path, pickle.str());
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path); }, path), "missing storage record data/0"));

  write_archive(path, pickle.str(), {{"data/0", float_bytes({1, 2})}});
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path); }, path), "storage data/0 has 8 bytes, 16 expected"));

  write_archive(path, pickle.str(), {{"data/0", float_bytes({1, 2, 3, 4})}, {"byteorder", "big"}});
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path); }, path), "big-endian"));
}

TEST(Checkpoint, ForeignAndDamagedFilesAreErrors) {
  ScratchDir dir;
  const std::string missing = dir.file("missing.pt");
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(missing); }, missing), "cannot open (No such file or directory)"));

  const std::string empty = dir.file("empty.pt");
  write_bytes(empty, "");
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(empty); }, empty), "empty file, not a PyTorch or safetensors checkpoint"));

  const std::string random = dir.file("random.pt");
  std::mt19937 generator(7);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(generator());
  noise[8] = 'x';
  write_bytes(random, noise);
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(random); }, random), "not a PyTorch or safetensors checkpoint"));

  const std::string legacy = dir.file("legacy.pt");
  write_bytes(legacy, std::string("\x80\x02\x8a\x0a", 4));
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(legacy); }, legacy), "bare pickle"));

  const std::string zip = dir.file("other.zip");
  write_bytes(zip, std::string("PK\x03\x04", 4) + noise);
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(zip); }, zip), "truncated or corrupt zip archive"));

  const std::string official = parity_file("clipb224/model.pt");
  if (std::filesystem::exists(official)) {
    const std::string truncated = dir.file("truncated.pt");
    const std::string bytes = read_bytes(official);
    write_bytes(truncated, bytes.substr(0, bytes.size() / 2));
    EXPECT_TRUE(contains(error_of([&] { load_state_dict(truncated); }, truncated), "truncated or corrupt zip archive"));
  }
}

// Random damage to a real data.pkl must give a value tree or a tokenflow::Error, never a crash.
TEST(Checkpoint, DamagedPicklesNeverCrash) {
  caffe2::serialize::PyTorchStreamReader reader(data_file("dtypes.pt"));
  const auto [data, size] = reader.getRecord("data.pkl");
  const std::string original(static_cast<const char*>(data.get()), size);
  std::mt19937 generator(1234);
  int failures = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string damaged = original;
    const int edits = 1 + static_cast<int>(generator() % 4);
    for (int e = 0; e < edits; ++e) damaged[generator() % damaged.size()] = static_cast<char>(generator());
    if (round % 3 == 0) damaged.resize(generator() % damaged.size());
    try {
      pickle::unpickle(damaged.data(), damaged.size());
    } catch (const Error&) {
      ++failures;
    }
  }
  EXPECT_GT(failures, 0);
}

}  // namespace
}  // namespace tokenflow::io
