// The torch.save pickle reader on hand-made input: what it builds, and that hostile or broken input
// yields inert values or a tokenflow::Error, never execution or a crash.
#include "io/torch_pickle.h"
#include "io_test_util.h"
#include "pickle_bytes.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace tokenflow::io::pickle {
namespace {

using test::error_of;
using test::PickleBytes;
using Kind = Value::Kind;

Unpickled parse(const PickleBytes& pickle) { return unpickle(pickle.str().data(), pickle.str().size()); }

TEST(TorchPickle, BuildsScalarsAndContainers) {
  PickleBytes pickle;
  pickle.empty_dict().put(0).mark();
  pickle.string("int").op('J').u32(0xfffffffe);                                  // BININT -2
  pickle.string("long").op(0x8a).byte(5).u32(0).byte(1);                         // LONG1 2**32
  pickle.string("float").op('G');                                                // BINFLOAT 1.5
  for (uint8_t b : {0x3f, 0xf8, 0, 0, 0, 0, 0, 0}) pickle.byte(b);
  pickle.string("flags").op(0x88).op(0x89).op('N').op(0x87);                     // (True, False, None)
  pickle.string("list").op(']').mark().int1(1).int1(2).op('e');                  // [1, 2]
  pickle.string("self").get(0);                                                  // the dict itself
  pickle.string("int").int1(7);                                                  // a repeated key replaces
  pickle.setitems().stop();

  const Unpickled result = parse(pickle);
  const Value& root = result.root();
  ASSERT_EQ(root.kind, Kind::Dict);
  ASSERT_EQ(root.entries.size(), 6u);
  EXPECT_EQ(root.entries[0].first->text, "int");
  EXPECT_EQ(root.get("int")->integer, 7);
  EXPECT_EQ(root.get("long")->integer, int64_t{1} << 32);
  EXPECT_EQ(root.get("float")->real, 1.5);
  const Value& flags = *root.get("flags");
  ASSERT_EQ(flags.items.size(), 3u);
  EXPECT_EQ(flags.items[0]->integer, 1);
  EXPECT_EQ(flags.items[1]->kind, Kind::Bool);
  EXPECT_EQ(flags.items[2]->kind, Kind::None);
  ASSERT_EQ(root.get("list")->items.size(), 2u);
  EXPECT_EQ(root.get("list")->items[1]->integer, 2);
  EXPECT_EQ(root.get("self"), &root);
  EXPECT_EQ(root.get("missing"), nullptr);
}

TEST(TorchPickle, TensorsStayReferencesIntoTheirStorage) {
  PickleBytes pickle;
  pickle.empty_dict().string("w").float_tensor("7", 10, 2, 5).setitem().stop();
  const Unpickled result = parse(pickle);
  const Value* w = result.root().get("w");
  ASSERT_NE(w, nullptr);
  ASSERT_EQ(w->kind, Kind::Tensor);
  EXPECT_EQ(w->tensor->storage_key, "7");
  EXPECT_EQ(w->tensor->dtype, c10::ScalarType::Float);
  EXPECT_EQ(w->tensor->storage_numel, 10);
  EXPECT_EQ(w->tensor->storage_offset, 2);
  EXPECT_EQ(w->tensor->sizes, std::vector<int64_t>{5});
  EXPECT_EQ(w->tensor->strides, std::vector<int64_t>{1});
}

TEST(TorchPickle, ViewOutsideItsStorageIsAnError) {
  PickleBytes pickle;
  pickle.float_tensor("0", 10, 6, 5).stop();  // elements 6..10 of 10
  EXPECT_NE(error_of([&] { parse(pickle); }).find("past its storage"), std::string::npos);
}

TEST(TorchPickle, UnknownGlobalsAreInertEvenWhenCalled) {
  const std::string marker = (std::filesystem::temp_directory_path() / "tokenflow_pickle_pwned").string();
  std::filesystem::remove(marker);
  PickleBytes pickle;
  pickle.empty_dict().mark();
  pickle.string("system").global("os", "system").string("touch " + marker).op(0x85).reduce();
  pickle.string("eval").global("builtins", "eval").string("open('" + marker + "', 'w')").op(0x85).reduce();
  pickle.string("namespace").global("argparse", "Namespace").empty_tuple().op(0x81);  // NEWOBJ
  pickle.empty_dict().string("lr").int1(1).setitem().op('b');                         // BUILD with state
  pickle.setitems().stop();

  const Unpickled result = parse(pickle);
  EXPECT_FALSE(std::filesystem::exists(marker));
  EXPECT_EQ(result.root().get("system")->kind, Kind::Opaque);
  EXPECT_EQ(result.root().get("system")->describe(), "os.system");
  EXPECT_EQ(result.root().get("eval")->kind, Kind::Opaque);
  EXPECT_EQ(result.root().get("namespace")->describe(), "argparse.Namespace");
}

TEST(TorchPickle, AllowListedFunctionsRejectMisuse) {
  PickleBytes call_storage_class;
  call_storage_class.global("torch", "FloatStorage").empty_tuple().reduce().stop();
  EXPECT_NE(error_of([&] { parse(call_storage_class); }).find("cannot call torch.FloatStorage"), std::string::npos);

  PickleBytes call_string;
  call_string.string("os.system").empty_tuple().reduce().stop();
  EXPECT_NE(error_of([&] { parse(call_string); }).find("cannot call a str"), std::string::npos);

  PickleBytes bad_persistent_id;
  bad_persistent_id.string("storage").op('Q').stop();
  EXPECT_NE(error_of([&] { parse(bad_persistent_id); }).find("persistent id"), std::string::npos);
}

TEST(TorchPickle, MemoAndStackAbuseAreErrors) {
  PickleBytes huge_memo_index;
  huge_memo_index.op('j').u32(0xffffffff).stop();  // LONG_BINGET
  EXPECT_NE(error_of([&] { parse(huge_memo_index); }).find("memo entry 4294967295"), std::string::npos);

  PickleBytes underflow;
  underflow.reduce().stop();
  EXPECT_NE(error_of([&] { parse(underflow); }).find("stack underflow"), std::string::npos);

  PickleBytes below_mark;  // ops may not reach below a MARK
  below_mark.global("torch", "FloatStorage").empty_tuple().mark().reduce().stop();
  EXPECT_NE(error_of([&] { parse(below_mark); }).find("stack underflow"), std::string::npos);

  PickleBytes tuple_without_mark;
  tuple_without_mark.int1(1).tuple().stop();
  EXPECT_NE(error_of([&] { parse(tuple_without_mark); }).find("no MARK"), std::string::npos);

  PickleBytes setitem_on_list;
  setitem_on_list.op(']').int1(1).int1(2).setitem().stop();
  EXPECT_NE(error_of([&] { parse(setitem_on_list); }).find("SETITEM on a list"), std::string::npos);

  PickleBytes empty;
  EXPECT_NE(error_of([&] { parse(empty); }).find("truncated"), std::string::npos);
}

TEST(TorchPickle, TruncatedAndUnknownInputIsAnError) {
  PickleBytes long_string;
  long_string.op('X').u32(1000).stop();
  EXPECT_NE(error_of([&] { parse(long_string); }).find("truncated"), std::string::npos);

  PickleBytes open_global;
  open_global.op('c').byte('o').byte('s');
  EXPECT_NE(error_of([&] { parse(open_global); }).find("GLOBAL"), std::string::npos);

  PickleBytes text_opcode;
  text_opcode.op('I').stop();  // protocol 0 INT: not something torch.save writes
  EXPECT_NE(error_of([&] { parse(text_opcode); }).find("unsupported opcode 0x49"), std::string::npos);
}

TEST(TorchPickle, DeepNestingDoesNotRecurse) {
  // A million nested one-element tuples (TUPLE1 nests the top once per byte) are built and freed
  // without recursion.
  PickleBytes nested;
  nested.op(']');
  for (int i = 0; i < 1000000; ++i) nested.op(0x85);
  nested.stop();
  const Unpickled result = parse(nested);
  EXPECT_EQ(result.root().kind, Kind::Tuple);
}

}  // namespace
}  // namespace tokenflow::io::pickle
