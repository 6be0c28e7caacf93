// Writing torch.save checkpoints: the pickle byte for byte as torch.save writes it, the archive's
// records, round trips of every dtype and view through io::load_state_dict and of every other value
// through the unpickler, and failures that leave no file behind.
#include "io/checkpoint.h"
#include "io/torch_pickle.h"
#include "io/torch_save.h"
#include "io_test_util.h"

#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <limits>

namespace tokenflow::io {
namespace {

using pickle::SaveValue;
using test::contains;
using test::error_of;
using test::read_bytes;
using test::ScratchDir;

std::string record(const std::string& path, const std::string& name) {
  caffe2::serialize::PyTorchStreamReader reader(path);
  const auto [data, size] = reader.getRecord(name);
  return std::string(static_cast<const char*>(data.get()), size);
}

std::string hex_to_bytes(const std::string& hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return bytes;
}

// Equal dtype, sizes and bytes (so -0.0 differs from 0.0 and NaN payloads count).
void expect_identical(const torch::Tensor& actual, const torch::Tensor& expected, const std::string& name) {
  ASSERT_EQ(actual.scalar_type(), expected.scalar_type()) << name;
  ASSERT_EQ(actual.sizes(), expected.sizes()) << name;
  const torch::Tensor contiguous = expected.contiguous();
  EXPECT_EQ(std::memcmp(actual.data_ptr(), contiguous.data_ptr(), contiguous.nbytes()), 0) << name;
}

// The checkpoint made in Python (torch 1.13) with
//   torch.save({"model": OrderedDict([("w", torch.arange(6, dtype=torch.float32).reshape(2, 3)),
//                                     ("step", torch.tensor(3.0))]),
//               "steps": 5,
//               "args": argparse.Namespace(lr=1e-4, name="w", flag=True, resume=None),
//               "values": (1, 2.5, "s", -3, 300, 70000, 2**40, -2**40),
//               "list": [1], "empty": {}, "nested": {0: {"a": [True, False]}}}, f)
// and the data.pkl it wrote.
SaveValue python_example() {
  SaveValue model = SaveValue::ordered_dict();
  model.set("w", torch::arange(6, torch::kFloat32).reshape({2, 3})).set("step", torch::tensor(3.0f));
  SaveValue args = SaveValue::argparse_namespace();
  args.set("lr", 1e-4).set("name", "w").set("flag", true).set("resume", nullptr);
  SaveValue checkpoint = SaveValue::dict();
  checkpoint.set("model", model).set("steps", 5).set("args", args);
  checkpoint.set("values", SaveValue::tuple({1, 2.5, "s", -3, 300, 70000, int64_t{1} << 40, -(int64_t{1} << 40)}));
  checkpoint.set("list", SaveValue::list({1})).set("empty", SaveValue::dict());
  checkpoint.set("nested", SaveValue::dict().set(0, SaveValue::dict().set("a", SaveValue::list({true, false}))));
  return checkpoint;
}

const char* const kPythonExamplePickle =
    "80027d71002858050000006d6f64656c710163636f6c6c656374696f6e730a4f726465726564446963740a7102295271"
    "0328580100000077710463746f7263682e5f7574696c730a5f72656275696c645f74656e736f725f76320a7105282858"
    "0700000073746f72616765710663746f7263680a466c6f617453746f726167650a710758010000003071085803000000"
    "63707571094b0674710a514b004b024b0386710b4b034b0186710c8968022952710d74710e52710f5804000000737465"
    "7071106805282868066807580100000031711168094b01747112514b0029298968022952711374711452711575580500"
    "0000737465707371164b0558040000006172677371176361726770617273650a4e616d6573706163650a711829817119"
    "7d711a2858020000006c72711b473f1a36e2eb1c432d58040000006e616d65711c68045804000000666c6167711d8858"
    "06000000726573756d65711e4e7562580600000076616c756573711f284b014740040000000000005801000000737120"
    "4afdffffff4d2c014a701101008a060000000000018a060000000000ff74712158040000006c69737471225d71234b01"
    "615805000000656d70747971247d712558060000006e657374656471267d71274b007d712858010000006171295d712a"
    "288889657373752e";

TEST(TorchSave, PickleIsTheOneTorchSaveWrites) {
  ScratchDir scratch;
  const std::string path = scratch.file("example.pt");
  save_torch_archive(path, python_example());
  EXPECT_EQ(record(path, "data.pkl"), hex_to_bytes(kPythonExamplePickle));
  const torch::Tensor w = torch::arange(6, torch::kFloat32);
  EXPECT_EQ(record(path, "data/0"), std::string(static_cast<const char*>(w.data_ptr()), w.nbytes()));
  const float step = 3.0f;
  EXPECT_EQ(record(path, "data/1"), std::string(reinterpret_cast<const char*>(&step), sizeof(step)));
  EXPECT_EQ(record(path, "version"), "3\n");
  EXPECT_EQ(record(path, "byteorder"), "little");
  EXPECT_EQ(scratch.listing(), std::vector<std::string>{"example.pt"});
}

TEST(TorchSave, RecordsAreStoredUnderArchiveAndAligned) {
  ScratchDir scratch;
  const std::string path = scratch.file("aligned.pt");
  save_torch_archive(path, SaveValue::dict().set("a", torch::ones({3})).set("b", torch::zeros({5}, torch::kInt64)));
  // The first local file header (30 bytes, the name's length at 26) names the first record.
  const std::string bytes = read_bytes(path);
  ASSERT_GT(bytes.size(), 46u);
  EXPECT_EQ(bytes.substr(0, 4), std::string("PK\x03\x04"));
  const size_t name_length = static_cast<uint8_t>(bytes[26]) | static_cast<uint8_t>(bytes[27]) << 8;
  EXPECT_EQ(bytes.substr(30, name_length), "archive/data.pkl");

  caffe2::serialize::PyTorchStreamReader reader(path);
  const std::vector<std::string> records = reader.getAllRecords();  // without the `archive/` prefix
  for (const std::string name : {"data.pkl", "byteorder", "data/0", "data/1", "version"}) {
    EXPECT_NE(std::find(records.begin(), records.end(), name), records.end()) << name << " not in " << ::testing::PrintToString(records);
  }
  EXPECT_EQ(reader.getRecordOffset("data/0") % 64, 0u);
  EXPECT_EQ(reader.getRecordOffset("data/1") % 64, 0u);
}

TEST(TorchSave, EveryDtypeAndViewRoundTripsBitForBit) {
  torch::manual_seed(0);
  const torch::Tensor base = torch::randn({4, 6});
  std::vector<std::pair<std::string, torch::Tensor>> tensors = {
      {"f32", base},
      {"f32.negative_zero_and_nan", torch::tensor({-0.0f, std::numeric_limits<float>::quiet_NaN(), 1e-45f})},
      {"f64", base.to(torch::kFloat64) / 3},
      {"f16", base.to(torch::kFloat16)},
      {"bf16", base.to(torch::kBFloat16)},
      {"i64", torch::arange(-3, 3, torch::kInt64) * (int64_t{1} << 40)},
      {"i32", torch::randint(-100000, 100000, {7}, torch::kInt32)},
      {"i16", torch::arange(-3, 3, torch::kInt16)},
      {"i8", torch::arange(-3, 3, torch::kInt8)},
      {"u8", torch::arange(250, 256, torch::kUInt8)},
      {"bool", torch::tensor({true, false, true})},
      {"scalar", torch::tensor(2.5f)},
      {"empty", torch::zeros({0, 3})},
      {"transposed", base.t()},
      {"strided_with_offset", base.slice(0, 1, 3).slice(1, 1, 6, 2)},
      {"expanded", torch::arange(3, torch::kFloat32).expand({2, 3})},
  };
  SaveValue model = SaveValue::ordered_dict();
  for (const auto& [name, tensor] : tensors) model.set(name, tensor);

  ScratchDir scratch;
  const std::string path = scratch.file("dtypes.pt");
  save_torch_archive(path, SaveValue::dict().set("model", model).set("steps", 1));
  const StateDict loaded = load_state_dict(path, "model");
  ASSERT_EQ(loaded.names.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, tensor] = tensors[i];
    EXPECT_EQ(loaded.names[i], name);
    expect_identical(loaded.tensors.at(name), tensor, name);
  }
  EXPECT_EQ(load_state_dict(path).names, loaded.names);  // `model` is the official choice
}

TEST(TorchSave, StateDictKeepsItsOrder) {
  StateDict state;
  state.insert("z.weight", torch::ones({2, 2}));
  state.insert("a.bias", torch::zeros({2}, torch::kBFloat16));
  ScratchDir scratch;
  const std::string path = scratch.file("state.pt");
  save_torch_archive(path, SaveValue::dict().set("ema", SaveValue::ordered_dict(state)));
  const StateDict loaded = load_state_dict(path);
  EXPECT_EQ(loaded.names, state.names);
  for (const std::string& name : state.names) expect_identical(loaded.tensors.at(name), state.tensors.at(name), name);
}

TEST(TorchSave, ValuesRoundTripThroughTheUnpickler) {
  SaveValue many = SaveValue::list();  // more than a batch of APPENDS, and memo indices past 255
  for (int i = 0; i < 1500; ++i) many.append("item " + std::to_string(i % 700));
  SaveValue wide = SaveValue::dict();  // more than a batch of SETITEMS
  for (int64_t key = 0; key < 2001; ++key) wide.set(key * 1000003, -key);
  SaveValue args = SaveValue::argparse_namespace();
  args.set("lr", 1e-4).set("betas", SaveValue::tuple({0.9, 0.95}));
  const SaveValue root = SaveValue::dict()
                             .set("none", nullptr)
                             .set("true", true)
                             .set("false", false)
                             .set("ints", SaveValue::list({0, 255, 256, 65535, 65536, -1, INT32_MIN, INT32_MAX,
                                                           int64_t{INT32_MAX} + 1, INT64_MAX, INT64_MIN, 128, -129}))
                             .set("floats", SaveValue::tuple({0.1, -0.0, std::numeric_limits<double>::infinity(), 1e308}))
                             .set("text", SaveValue::tuple({"", "ünïcödé ✓ 𝄞", "a\nb"}))
                             .set("empty", SaveValue::tuple({SaveValue::dict(), SaveValue::list(), SaveValue::tuple(),
                                                             SaveValue::ordered_dict(), SaveValue::argparse_namespace()}))
                             .set("many", many)
                             .set("wide", wide)
                             .set("args", args)
                             .set("after", "still read");
  ScratchDir scratch;
  const std::string path = scratch.file("values.pt");
  save_torch_archive(path, root);
  const std::string bytes = record(path, "data.pkl");
  const pickle::Unpickled unpickled = pickle::unpickle(bytes.data(), bytes.size());
  const pickle::Value& value = unpickled.root();
  using Kind = pickle::Value::Kind;
  ASSERT_EQ(value.kind, Kind::Dict);
  ASSERT_EQ(value.entries.size(), 11u);
  EXPECT_EQ(value.get("none")->kind, Kind::None);
  EXPECT_EQ(value.get("true")->kind, Kind::Bool);
  EXPECT_EQ(value.get("true")->integer, 1);
  EXPECT_EQ(value.get("false")->integer, 0);

  const std::vector<int64_t> ints = {0, 255, 256, 65535, 65536, -1, INT32_MIN, INT32_MAX, int64_t{INT32_MAX} + 1, INT64_MAX, INT64_MIN, 128, -129};
  const pickle::Value& read_ints = *value.get("ints");
  ASSERT_EQ(read_ints.kind, Kind::List);
  ASSERT_EQ(read_ints.items.size(), ints.size());
  for (size_t i = 0; i < ints.size(); ++i) {
    EXPECT_EQ(read_ints.items[i]->kind, Kind::Int);
    EXPECT_EQ(read_ints.items[i]->integer, ints[i]);
  }

  const pickle::Value& floats = *value.get("floats");
  ASSERT_EQ(floats.kind, Kind::Tuple);
  ASSERT_EQ(floats.items.size(), 4u);
  EXPECT_EQ(floats.items[0]->real, 0.1);
  EXPECT_TRUE(std::signbit(floats.items[1]->real));
  EXPECT_EQ(floats.items[2]->real, std::numeric_limits<double>::infinity());
  EXPECT_EQ(floats.items[3]->real, 1e308);

  const pickle::Value& text = *value.get("text");
  ASSERT_EQ(text.items.size(), 3u);
  EXPECT_EQ(text.items[0]->text, "");
  EXPECT_EQ(text.items[1]->text, "ünïcödé ✓ 𝄞");
  EXPECT_EQ(text.items[2]->text, "a\nb");

  const pickle::Value& empty = *value.get("empty");
  ASSERT_EQ(empty.items.size(), 5u);
  EXPECT_EQ(empty.items[0]->kind, Kind::Dict);
  EXPECT_EQ(empty.items[1]->kind, Kind::List);
  EXPECT_EQ(empty.items[2]->kind, Kind::Tuple);
  EXPECT_EQ(empty.items[3]->kind, Kind::Dict);
  EXPECT_EQ(empty.items[4]->describe(), "argparse.Namespace");
  for (const pickle::Value* item : empty.items) EXPECT_TRUE(item->items.empty() && item->entries.empty());

  const pickle::Value& read_many = *value.get("many");
  ASSERT_EQ(read_many.items.size(), 1500u);
  for (size_t i = 0; i < 1500; ++i) EXPECT_EQ(read_many.items[i]->text, "item " + std::to_string(i % 700)) << i;

  const pickle::Value& read_wide = *value.get("wide");
  ASSERT_EQ(read_wide.entries.size(), 2001u);
  for (size_t i = 0; i < 2001; ++i) {
    EXPECT_EQ(read_wide.entries[i].first->integer, static_cast<int64_t>(i) * 1000003);
    EXPECT_EQ(read_wide.entries[i].second->integer, -static_cast<int64_t>(i));
  }

  // Our reader keeps a Namespace inert and drops its attributes; that they parse is what counts here
  // (Python's torch.load was checked by hand to give them back).
  EXPECT_EQ(value.get("args")->describe(), "argparse.Namespace");
  EXPECT_EQ(value.get("after")->text, "still read");
}

TEST(TorchSave, SetReplacesAnEntryInPlace) {
  SaveValue dict = SaveValue::dict();
  dict.set("a", 1).set(2, "two").set("b", 3).set("a", 4).set(2, SaveValue::list());
  ASSERT_EQ(dict.entries().size(), 3u);
  EXPECT_EQ(dict.entries()[0].first.text(), "a");
  EXPECT_EQ(dict.entries()[0].second.integer(), 4);
  EXPECT_EQ(dict.entries()[1].first.kind(), SaveValue::Kind::Int);
  EXPECT_EQ(dict.entries()[1].second.kind(), SaveValue::Kind::List);
  EXPECT_EQ(dict.entries()[2].first.text(), "b");
  SaveValue string_key = SaveValue::dict().set("2", 1).set(2, 2);  // "2" and 2 are different keys
  EXPECT_EQ(string_key.entries().size(), 2u);
}

TEST(TorchSave, ValueKindsAreChecked) {
  EXPECT_EQ(SaveValue().kind(), SaveValue::Kind::None);
  EXPECT_EQ(SaveValue(false).kind(), SaveValue::Kind::Bool);
  EXPECT_EQ(SaveValue(0).kind(), SaveValue::Kind::Int);
  EXPECT_EQ(SaveValue(size_t{7}).integer(), 7);
  EXPECT_EQ(SaveValue(0.0f).kind(), SaveValue::Kind::Float);
  EXPECT_EQ(SaveValue("text").kind(), SaveValue::Kind::String);
  EXPECT_TRUE(contains(error_of([] { (void)SaveValue(std::numeric_limits<uint64_t>::max()); }), "larger than int64"));
  EXPECT_TRUE(contains(error_of([] { SaveValue::list().set("a", 1); }), "cannot set an entry in a value of type list"));
  EXPECT_TRUE(contains(error_of([] { SaveValue(1).set("a", 1); }), "cannot set an entry in a value of type int"));
  EXPECT_TRUE(contains(error_of([] { SaveValue::dict().append(1); }), "cannot append to a value of type dict"));
  EXPECT_TRUE(contains(error_of([] { SaveValue::tuple().append(1); }), "cannot append to a value of type tuple"));
  EXPECT_TRUE(contains(error_of([] { SaveValue::argparse_namespace().set(1, 2); }), "needs a string name"));
}

// Sets the largest file this process may write, so that a write fails part way (with EFBIG rather
// than the default SIGXFSZ); restores both on destruction.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    previous_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, previous_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
  void (*previous_handler_)(int) = nullptr;
};

TEST(TorchSave, FailedWritesLeaveNoFile) {
  ScratchDir scratch;
  const std::string path = scratch.file("model.pt");
  const SaveValue good = SaveValue::dict().set("model", SaveValue::ordered_dict().set("w", torch::ones({2})));
  save_torch_archive(path, good);
  const std::string original = read_bytes(path);

  // Values that cannot be saved are refused before anything is written; the old file stays.
  const auto refused = [&](const SaveValue& value) { return error_of([&] { save_torch_archive(path, value); }, path); };
  EXPECT_TRUE(contains(refused(SaveValue::dict().set("w", torch::ones({2})).set("c", torch::ones({2}, torch::kComplexFloat))),
                       "cannot save a tensor of dtype ComplexFloat"));
  EXPECT_TRUE(contains(refused(SaveValue::list({torch::Tensor()})), "cannot save an undefined tensor"));
  EXPECT_TRUE(contains(refused(SaveValue::list({"ok", std::string("\xff", 1)})), "cannot save a string that is not UTF-8"));
  EXPECT_TRUE(contains(refused(SaveValue::list({std::string("\xc0\xaf", 2)})), "not UTF-8"));  // overlong '/'
  EXPECT_TRUE(contains(refused(SaveValue::list({std::string("\xe2\x9c", 2)})), "not UTF-8"));  // cut short
  EXPECT_EQ(read_bytes(path), original);
  EXPECT_EQ(scratch.listing(), std::vector<std::string>{"model.pt"});

  // A write that fails part way: the temporary file is removed and the old file stays.
  {
    FileSizeLimit limit(original.size() + 4096);
    const std::string message = error_of([&] { save_torch_archive(path, SaveValue::dict().set("w", torch::ones({1 << 20}))); }, path);
    EXPECT_TRUE(contains(message, std::string("cannot write (") + std::strerror(EFBIG))) << message;
  }
  EXPECT_EQ(read_bytes(path), original);
  EXPECT_EQ(scratch.listing(), std::vector<std::string>{"model.pt"});
  expect_identical(load_state_dict(path).tensors.at("w"), torch::ones({2}), "w");

  // A directory that does not exist.
  const std::string missing = scratch.file("missing/model.pt");
  EXPECT_TRUE(contains(error_of([&] { save_torch_archive(missing, good); }, missing), "cannot write"));
  EXPECT_EQ(scratch.listing(), std::vector<std::string>{"model.pt"});
}

}  // namespace
}  // namespace tokenflow::io
