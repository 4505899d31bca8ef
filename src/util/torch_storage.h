// Implements: what torch's pickles say about tensors, without LibTorch: the
// one table of torch storage classes (torch.FloatStorage, ...,
// torch.UntypedStorage) and dtype globals (torch.float32, torch.half, ...) to
// a torch-free element type; the persistent id of a storage; and the parsed,
// checked arguments of torch._utils._rebuild_tensor_v2/_v3. Users:
// model/torch_pickle.cpp (torch.save archives, into torch::Tensor) and
// cams/npy_torch.cpp (torch tensors inside numpy object pickles, no LibTorch).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/pickle.h"

namespace c2am::util::torch_storage {

// The element types of torch storages and tensors that the readers know.
enum class ElementType {
  kFloat32,
  kFloat64,
  kFloat16,
  kBFloat16,  // the upper half of a float32
  kInt64,
  kInt32,
  kInt16,
  kInt8,
  kUInt8,
  kBool,
  kComplex64,
  kComplex128,
};

// Bytes per element (kBFloat16: 2).
std::size_t element_size(ElementType type);
// torch's dtype name without "torch." ("float32", "bfloat16", ...), for messages.
const char* element_name(ElementType type);

// The element type of a storage class global: "torch.FloatStorage", ... and
// PyTorch 2's "torch.UntypedStorage" / "torch.storage.UntypedStorage", whose
// elements are bytes (kUInt8). nullopt for any other name.
std::optional<ElementType> storage_type(const std::string& global);
// The element type of a torch.<dtype> global ("torch.float32", "torch.float",
// "torch.half", ...). nullopt for any other name.
std::optional<ElementType> dtype_type(const std::string& global);

// A storage's persistent id: ('storage', storage class, key, location, numel).
struct StorageId {
  ElementType type = ElementType::kUInt8;
  std::string key;
  std::optional<std::int64_t> numel;  // nullopt when the id's numel is no int
};
// Parses a persistent id; throws pickle::PickleError saying what is wrong (not
// such a tuple, an unknown storage class).
StorageId parse_storage_id(const pickle::Value& pid);

// The view that _rebuild_tensor_v2(storage, storage_offset, size, stride,
// requires_grad, backward_hooks[, metadata]) or _rebuild_tensor_v3(...,
// backward_hooks, dtype[, metadata]) makes of its storage, in elements of the
// tensor's type: v3's dtype, else the storage's (dtype.value_or(storage type)).
struct TensorView {
  std::int64_t offset = 0;
  std::vector<std::int64_t> sizes;
  std::vector<std::int64_t> strides;  // never negative
  std::optional<ElementType> dtype;   // v3's dtype; nullopt for v2
};

// Parses args[1...] of _rebuild_tensor_v2 (v3 = false) or _v3 and checks what
// can be checked without the storage: the number of arguments, an int offset
// and int sizes and strides of the same length, none negative, a known v3
// dtype global, no int64 overflow in the element count or the last element's
// index. args[0], the storage, is the caller's. Throws pickle::PickleError
// saying which argument is wrong and how.
TensorView parse_rebuild_args(const std::vector<pickle::ValuePtr>& args, bool v3);

// Checks `view` (as parse_rebuild_args gives it, so free of overflow and
// negative values) against its storage, `storage_bytes` bytes of elements of
// `storage_type`: the bytes are whole elements of the tensor's type, and every
// element the view addresses lies inside them (an empty view: its offset lies
// at most at the storage's end). Throws pickle::PickleError naming the view
// and the storage's size.
void check_inside(const TensorView& view, ElementType storage_type, std::uint64_t storage_bytes);

}  // namespace c2am::util::torch_storage
