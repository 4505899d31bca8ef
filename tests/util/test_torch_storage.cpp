// Implements: tests of util/torch_storage.h on hand-built pickle values: the
// storage and dtype tables, the storage persistent id, and every check of the
// _rebuild_tensor_v2/_v3 arguments (the files torch writes are read in
// tests/model/test_torch_pickle.cpp and tests/cams/test_npy.cpp).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/error_message.h"
#include "util/pickle.h"
#include "util/torch_storage.h"

namespace {

namespace pk = c2am::util::pickle;
namespace ts = c2am::util::torch_storage;
using pk::Kind;
using pk::ValuePtr;
using ts::ElementType;

ValuePtr ints(const std::vector<std::int64_t>& values) {
  ValuePtr t = pk::make(Kind::kTuple);
  for (const std::int64_t v : values) t->items.push_back(pk::make_int(v));
  return t;
}

// The arguments of _rebuild_tensor_v2 (v3 with `dtype`): a placeholder storage,
// offset, size, stride, requires_grad, backward_hooks.
std::vector<ValuePtr> rebuild_args(std::int64_t offset, const std::vector<std::int64_t>& size,
                                   const std::vector<std::int64_t>& stride, const std::string& dtype = "") {
  std::vector<ValuePtr> args = {pk::make_object("storage"), pk::make_int(offset), ints(size), ints(stride),
                                pk::make(Kind::kBool),      pk::make(Kind::kDict)};
  if (!dtype.empty()) args.push_back(pk::make_text(Kind::kGlobal, dtype));
  return args;
}

// The message of checking a view of `size`, `stride`, `offset` into `bytes` bytes of float32 elements.
std::string view_error(std::int64_t offset, const std::vector<std::int64_t>& size,
                       const std::vector<std::int64_t>& stride, std::uint64_t bytes,
                       const std::string& dtype = "") {
  return c2am::testing_util::error_message([&] {
    const ts::TensorView v =
        ts::parse_rebuild_args(rebuild_args(offset, size, stride, dtype), !dtype.empty());
    ts::check_inside(v, ElementType::kFloat32, bytes);
  });
}

TEST(TorchStorage, StorageClassesAndDtypeGlobalsMapToOneElementType) {
  EXPECT_EQ(ts::storage_type("torch.FloatStorage"), ElementType::kFloat32);
  EXPECT_EQ(ts::storage_type("torch.BFloat16Storage"), ElementType::kBFloat16);
  EXPECT_EQ(ts::storage_type("torch.UntypedStorage"), ElementType::kUInt8);
  EXPECT_EQ(ts::storage_type("torch.storage.UntypedStorage"), ElementType::kUInt8);
  EXPECT_EQ(ts::dtype_type("torch.float32"), ElementType::kFloat32);
  EXPECT_EQ(ts::dtype_type("torch.half"), ElementType::kFloat16);
  EXPECT_EQ(ts::dtype_type("torch.bfloat16"), ElementType::kBFloat16);
  EXPECT_EQ(ts::dtype_type("torch.cdouble"), ElementType::kComplex128);
  // A storage class is no dtype, and the other way round.
  EXPECT_FALSE(ts::storage_type("torch.float32"));
  EXPECT_FALSE(ts::dtype_type("torch.FloatStorage"));
  EXPECT_FALSE(ts::dtype_type("torch.quint8"));
  EXPECT_EQ(ts::element_size(ElementType::kBFloat16), 2u);
  EXPECT_EQ(ts::element_size(ElementType::kComplex128), 16u);
  EXPECT_EQ(std::string(ts::element_name(ElementType::kInt16)), "int16");
}

TEST(TorchStorage, PersistentIdGivesTypeKeyAndNumel) {
  ValuePtr pid = pk::make(Kind::kTuple);
  pid->items = {pk::make_text(Kind::kStr, "storage"), pk::make_text(Kind::kGlobal, "torch.HalfStorage"),
                pk::make_text(Kind::kStr, "7"), pk::make_text(Kind::kStr, "cuda:0"), pk::make_int(12)};
  const ts::StorageId id = ts::parse_storage_id(*pid);
  EXPECT_EQ(id.type, ElementType::kFloat16);
  EXPECT_EQ(id.key, "7");
  EXPECT_EQ(id.numel, 12);

  pid->items[1] = pk::make_text(Kind::kGlobal, "torch.QInt8Storage");
  EXPECT_EQ(c2am::testing_util::error_message([&] { ts::parse_storage_id(*pid); }),
            "unsupported torch storage type 'torch.QInt8Storage'");
  pid->items.resize(4);
  EXPECT_NE(c2am::testing_util::error_message([&] {
              ts::parse_storage_id(*pid);
            }).find("expected ('storage', type, key, location, numel)"),
            std::string::npos);
}

TEST(TorchStorage, ViewsInsideTheStorageAreAccepted) {
  EXPECT_EQ(view_error(0, {2, 3}, {3, 1}, 24), "(no error)");            // the whole storage
  EXPECT_EQ(view_error(1, {2, 2}, {1, 3}, 24), "(no error)");            // transposed, with an offset
  EXPECT_EQ(view_error(5, {}, {}, 24), "(no error)");                    // 0-d: the last element
  EXPECT_EQ(view_error(6, {0, 3}, {3, 1}, 24), "(no error)");            // empty, at the storage's end
  EXPECT_EQ(view_error(0, {4}, {0}, 4), "(no error)");                   // expanded
  EXPECT_EQ(view_error(0, {3}, {1}, 6, "torch.float16"), "(no error)");  // v3 reinterprets the bytes
  const ts::TensorView v = ts::parse_rebuild_args(rebuild_args(2, {2}, {1}, "torch.int8"), true);
  EXPECT_EQ(v.dtype, ElementType::kInt8);
  EXPECT_EQ(v.offset, 2);
}

TEST(TorchStorage, ViewsOutsideTheStorageAreRefusedNamingTheView) {
  EXPECT_EQ(view_error(5, {2}, {1}, 24),
            "torch tensor of size [2], stride [1], offset 5 lies outside its storage of 6 float32 elements");
  EXPECT_EQ(view_error(0, {2, 3}, {4, 1}, 24),
            "torch tensor of size [2, 3], stride [4, 1], offset 0 lies outside its storage of 6 float32 "
            "elements");
  EXPECT_EQ(view_error(6, {}, {}, 24),
            "torch tensor of size [], stride [], offset 6 lies outside its storage of 6 float32 elements");
  EXPECT_EQ(view_error(7, {0}, {1}, 24),
            "torch tensor of size [0], stride [1], offset 7 lies outside its storage of 6 float32 elements");
  EXPECT_EQ(view_error(0, {4}, {1}, 6, "torch.float16"),
            "torch tensor of size [4], stride [1], offset 0 lies outside its storage of 3 float16 elements");
}

TEST(TorchStorage, MalformedArgumentsNameWhatIsWrong) {
  EXPECT_EQ(view_error(-1, {2}, {1}, 24), "torch tensor has a negative storage offset (-1)");
  EXPECT_EQ(view_error(0, {2, -1}, {1, 1}, 24), "torch tensor has a negative size (-1) in dimension 1");
  EXPECT_EQ(view_error(2, {2}, {-1}, 24), "torch tensor has a negative stride (-1) in dimension 0");
  EXPECT_EQ(view_error(0, {2, 3}, {1}, 24), "torch tensor size [2, 3] and stride [1] differ in length");
  EXPECT_EQ(view_error(0, {3}, {std::int64_t{1} << 62}, 24),
            "torch tensor of size [3], stride [4611686018427387904], offset 0 reaches beyond the largest "
            "int64 element index");
  EXPECT_EQ(view_error(0, {std::int64_t{1} << 32, std::int64_t{1} << 32}, {0, 0}, 24),
            "torch tensor of size [4294967296, 4294967296] has more elements than an int64 counts");
  EXPECT_EQ(view_error(0, {3}, {1}, 10, "torch.float32"),
            "torch storage of 10 bytes does not hold whole float32 elements (4 bytes each)");
  EXPECT_EQ(view_error(0, {3}, {1}, 24, "torch.qint8"), "unsupported torch tensor dtype 'torch.qint8'");

  std::vector<ValuePtr> args = rebuild_args(0, {2}, {1});
  const auto error = [&](bool v3) {
    return c2am::testing_util::error_message([&] { ts::parse_rebuild_args(args, v3); });
  };
  EXPECT_EQ(error(/*v3=*/true), "torch._utils._rebuild_tensor_v3 with 6 arguments (it takes at least 7)");
  args[1] = pk::make_text(Kind::kStr, "0");
  EXPECT_EQ(error(false), "torch tensor storage offset is a Python str, not an int");
  args[1] = pk::make_int(0);
  args[2] = pk::make_int(2);
  EXPECT_EQ(error(false), "torch tensor size is a Python int, not a tuple of ints");
  args[2] = ints({2});
  args[3]->items[0] = pk::make(Kind::kFloat);
  EXPECT_EQ(error(false), "torch tensor stride holds a Python float, not an int");
  args[3] = ints({1});
  args.push_back(pk::make_text(Kind::kStr, "float32"));
  EXPECT_EQ(error(true), "torch tensor dtype is a Python str, not a torch.<dtype> global");
}

}  // namespace
