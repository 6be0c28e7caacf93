// TorchScript archives (torch.jit.save, as OpenAI's CLIP files are): the pickled module tree is read
// as the state dict torch.jit.load(path).state_dict() gives, from hand-made pickles in the layout
// torch.jit.save writes, and hostile variants stay inert.
#include "io/checkpoint.h"
#include "io/torch_pickle.h"
#include "io_test_util.h"
#include "pickle_bytes.h"

#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace tokenflow::io {
namespace {

using test::contains;
using test::error_of;
using test::PickleBytes;
using test::ScratchDir;
using Kind = pickle::Value::Kind;

constexpr uint8_t kNewObj = 0x81;
constexpr uint8_t kBuild = 'b';

// torch.jit.save's object: GLOBAL class, EMPTY_TUPLE, NEWOBJ, then its attribute dict is opened; the
// attributes follow as key, value pairs up to end_object, which sets them with BUILD.
PickleBytes& begin_object(PickleBytes& pickle, const std::string& module, const std::string& name) {
  return pickle.global(module, name).empty_tuple().op(kNewObj).empty_dict().mark();
}

PickleBytes& end_object(PickleBytes& pickle) { return pickle.setitems().op(kBuild); }

// The records torch.jit.save writes: data.pkl and its storages, constants.pkl and the code.
void write_torchscript_archive(const std::string& path, const std::string& pickle,
                               const std::vector<std::pair<std::string, std::string>>& storages) {
  caffe2::serialize::PyTorchStreamWriter writer(path);
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  for (const auto& [name, bytes] : storages) writer.writeRecord(name, bytes.data(), bytes.size());
  const std::string code = "class CLIP(Module):\n  __parameters__ = [\"positional_embedding\", ]\n";
  writer.writeRecord("code/__torch__.py", code.data(), code.size());
  PickleBytes constants;
  constants.empty_tuple().stop();
  writer.writeRecord("constants.pkl", constants.str().data(), constants.str().size());
  writer.writeEndOfFile();
}

std::string float_bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

// A CLIP-like module tree as torch.jit.save pickles it, with the attribute kinds TorchScript writes.
std::string clip_module_pickle() {
  PickleBytes pickle;
  begin_object(pickle, "__torch__.model", "CLIP");
  pickle.string("positional_embedding").float_tensor("0", 4, 0, 4);
  pickle.string("training").op(0x89);                 // NEWFALSE
  pickle.string("_is_full_backward_hook").op('N');
  pickle.string("visual");
  begin_object(pickle, "__torch__.model", "VisionTransformer");
  pickle.string("class_embedding").float_tensor("1", 5, 1, 3);
  pickle.string("proj").float_tensor("1", 5, 0, 2);     // a second tensor on the same storage
  pickle.string("training").op(0x89);
  pickle.string("conv1");
  begin_object(pickle, "__torch__.torch.nn.modules.conv", "Conv2d");
  pickle.string("weight").float_tensor("2", 2, 0, 2).put(1);
  pickle.string("bias").op('N');
  pickle.string("padding").global("torch.jit._pickle", "build_intlist");  // a List[int] attribute
  pickle.mark().op(']').mark().int1(0).int1(0).op('e').tuple().reduce();
  end_object(pickle);
  pickle.string("transformer");
  begin_object(pickle, "__torch__.model", "Transformer");
  pickle.string("resblocks");
  begin_object(pickle, "__torch__.torch.nn.modules.container", "Sequential");
  for (const char* block : {"0", "1"}) {
    pickle.string(block);
    begin_object(pickle, "__torch__.model", "ResidualAttentionBlock");
    pickle.string("attn");
    begin_object(pickle, "__torch__.torch.nn.modules.activation", "MultiheadAttention");
    pickle.string("in_proj_weight").float_tensor("3", 3, 0, 3);
    end_object(pickle);
    end_object(pickle);
  }
  end_object(pickle);
  end_object(pickle);
  // Python's BUILD with a (state, slotstate) tuple sets the attributes of both dicts.
  pickle.string("ln_post").global("__torch__.model", "LayerNorm").empty_tuple().op(kNewObj);
  pickle.op('N').empty_dict().string("weight").float_tensor("2", 2, 1, 1).setitem().op(0x86).op(kBuild);
  end_object(pickle);
  pickle.string("tied").get(1);  // the same tensor under a second name, as tied weights are
  // A Dict[str, Tensor] attribute holds neither parameters nor buffers: not in state_dict().
  pickle.string("cache").empty_dict().string("w").float_tensor("0", 4, 0, 1).setitem();
  end_object(pickle);
  return pickle.stop().str();
}

std::vector<std::pair<std::string, std::string>> clip_storages() {
  return {{"data/0", float_bytes({1, 2, 3, 4})},
          {"data/1", float_bytes({5, 6, 7, 8, 9})},
          {"data/2", float_bytes({10, 11})},
          {"data/3", float_bytes({12, 13, 14})}};
}

TEST(TorchScript, ModuleTreeGivesTheStateDictNames) {
  ScratchDir dir;
  const std::string path = dir.file("ViT-tiny.pt");
  write_torchscript_archive(path, clip_module_pickle(), clip_storages());

  const StateDict state = load_state_dict(path);
  const std::vector<std::string> names = {"positional_embedding",
                                          "visual.class_embedding",
                                          "visual.proj",
                                          "visual.conv1.weight",
                                          "visual.transformer.resblocks.0.attn.in_proj_weight",
                                          "visual.transformer.resblocks.1.attn.in_proj_weight",
                                          "visual.ln_post.weight",
                                          "tied"};
  ASSERT_EQ(state.names, names);
  auto expect_values = [&](const std::string& name, const std::vector<float>& values) {
    EXPECT_TRUE(torch::equal(state.tensors.at(name), torch::tensor(values))) << name;
  };
  expect_values("positional_embedding", {1, 2, 3, 4});
  expect_values("visual.class_embedding", {6, 7, 8});
  expect_values("visual.proj", {5, 6});
  expect_values("visual.conv1.weight", {10, 11});
  expect_values("visual.transformer.resblocks.1.attn.in_proj_weight", {12, 13, 14});
  expect_values("visual.ln_post.weight", {11});
  expect_values("tied", {10, 11});
}

TEST(TorchScript, KeySelectsASubmodule) {
  ScratchDir dir;
  const std::string path = dir.file("clip.pt");
  write_torchscript_archive(path, clip_module_pickle(), clip_storages());

  const StateDict visual = load_state_dict(path, "visual");
  ASSERT_EQ(visual.names.size(), 6u);
  EXPECT_EQ(visual.names.front(), "class_embedding");
  EXPECT_EQ(visual.names.back(), "ln_post.weight");
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path, "training"); }, path),
                       "entry `training` is not a state dict (bool)"));
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path, "text"); }, path),
                       "no entry `text` (the file holds: positional_embedding, training, "
                       "_is_full_backward_hook, visual, tied, cache)"));
}

TEST(TorchScript, HostileObjectStatesStayInert) {
  ScratchDir dir;
  const std::string marker = dir.file("pwned");
  PickleBytes pickle;
  begin_object(pickle, "__torch__.model", "CLIP");
  pickle.string("weight").float_tensor("0", 4, 0, 4);
  pickle.string("system").global("os", "system");
  pickle.string("run").global("os", "system").string("touch " + marker).op(0x85).reduce();
  pickle.string("evil");  // an object whose own state calls os.system and which is built twice
  begin_object(pickle, "__torch__.model", "Evil");
  pickle.string("payload").global("builtins", "eval").string("open('" + marker + "', 'w')").op(0x85).reduce();
  end_object(pickle);
  pickle.global("os", "system").string("touch " + marker).op(0x85).reduce().op(kBuild);  // a state for __setstate__
  end_object(pickle);
  pickle.stop();
  const std::string path = dir.file("hostile.pt");
  write_torchscript_archive(path, pickle.str(), {{"data/0", float_bytes({1, 2, 3, 4})}});

  const StateDict state = load_state_dict(path);
  EXPECT_FALSE(std::filesystem::exists(marker));
  ASSERT_EQ(state.names, std::vector<std::string>{"weight"});

  const pickle::Unpickled parsed = pickle::unpickle(pickle.str().data(), pickle.str().size());
  const pickle::Value& root = parsed.root();
  EXPECT_EQ(root.describe(), "__torch__.model.CLIP");
  EXPECT_EQ(root.get("system")->kind, Kind::Opaque);
  EXPECT_EQ(root.get("run")->describe(), "os.system");
  const pickle::Value& evil = *root.get("evil");
  ASSERT_EQ(evil.entries.size(), 1u);
  EXPECT_EQ(evil.get("payload")->kind, Kind::Opaque);
  EXPECT_EQ(evil.get("payload")->describe(), "builtins.eval");
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST(TorchScript, BuildUpdatesObjectsOnly) {
  PickleBytes pickle;
  pickle.empty_dict().mark();
  pickle.string("object").global("__torch__", "M").empty_tuple().op(kNewObj);
  pickle.empty_dict().string("a").int1(1).setitem().string("b").int1(2).setitem().op(kBuild);
  pickle.empty_dict().string("a").int1(3).setitem().string("c").int1(4).setitem().op(kBuild);  // as __dict__.update
  pickle.string("ordered").global("collections", "OrderedDict").empty_tuple().reduce();
  pickle.string("w").int1(5).setitem();
  pickle.empty_dict().string("_metadata").empty_dict().setitem().op(kBuild);  // an OrderedDict's attribute
  pickle.setitems().stop();

  const pickle::Unpickled parsed = pickle::unpickle(pickle.str().data(), pickle.str().size());
  const pickle::Value& object = *parsed.root().get("object");
  ASSERT_EQ(object.entries.size(), 3u);
  EXPECT_EQ(object.entries[0].first->text, "a");
  EXPECT_EQ(object.get("a")->integer, 3);
  EXPECT_EQ(object.get("b")->integer, 2);
  EXPECT_EQ(object.get("c")->integer, 4);
  const pickle::Value& ordered = *parsed.root().get("ordered");
  ASSERT_EQ(ordered.entries.size(), 1u);
  EXPECT_EQ(ordered.get("_metadata"), nullptr);
}

TEST(TorchScript, SharedStatesCannotMultiply) {
  // One state dict of 1024 attributes built into 1025 objects: more copies than the limit allows.
  PickleBytes copies;
  copies.global("__torch__", "M").put(0).empty_dict().put(1).mark();
  for (int key = 0; key < 1024; ++key) copies.op('M').byte(key & 255).byte(key >> 8).op('N');  // BININT2 key: None
  copies.setitems();
  for (int object = 0; object < 1025; ++object) copies.get(0).empty_tuple().op(kNewObj).get(1).op(kBuild).op('0');
  copies.stop();
  EXPECT_TRUE(contains(error_of([&] { pickle::unpickle(copies.str().data(), copies.str().size()); }),
                       "BUILD states hold more than"));

  // Ten levels of objects whose eight attributes all hold the next level: 8^10 names in a small file.
  ScratchDir dir;
  PickleBytes tree;
  begin_object(tree, "__torch__", "Leaf");
  tree.string("w").float_tensor("0", 1, 0, 1);
  end_object(tree).put(0);
  for (int level = 1; level <= 10; ++level) {
    begin_object(tree, "__torch__", "Level");
    for (char key = 'a'; key < 'i'; ++key) tree.string(std::string(1, key)).get(static_cast<uint8_t>(level - 1));
    end_object(tree).put(static_cast<uint8_t>(level));
  }
  tree.stop();
  const std::string path = dir.file("tree.pt");
  write_torchscript_archive(path, tree.str(), {{"data/0", float_bytes({1})}});
  EXPECT_TRUE(contains(error_of([&] { load_state_dict(path); }, path), "nest into too many names"));
}

}  // namespace
}  // namespace tokenflow::io
