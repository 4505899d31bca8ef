// Implements: what the parts of the .npy reader share (private to cams):
// dtype descriptors, building C-order arrays from raw bytes, the native
// payloads of unpickled numpy / torch objects, and the pickle hooks
// (npy_pickle.cpp: numpy; npy_torch.cpp: torch tensors without LibTorch).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cams/npy.h"
#include "util/pickle.h"
#include "util/torch_storage.h"

namespace c2am::cams::npy_detail {

// A numpy dtype as a descriptor gives it ('<f4', '|b1', '|O') or a pickled
// numpy.dtype ('f4' plus its byte order from the BUILD state).
struct DTypeSpec {
  DType dtype = DType::kFloat64;
  bool big_endian = false;
  bool supported = false;
  std::string text;  // the descriptor, for messages
};
// Parses "<f4", "f4", "|b1", ">i8", "O", "O8", ...; unknown or unsupported
// kinds (complex, strings, datetimes, structured) give supported = false.
DTypeSpec parse_descr(std::string_view descr);

// Strided gather: the elements of the view (shape, strides in elements,
// offset in elements) of `src` (a buffer of `src_elems` elements of `elem`
// bytes) in C order. Throws c2am::Error "<what>: ..." when the view reaches
// outside the buffer.
std::vector<std::uint8_t> gather(const std::uint8_t* src, std::size_t src_elems, std::size_t elem,
                                 const std::vector<std::int64_t>& shape,
                                 const std::vector<std::int64_t>& strides, std::int64_t offset,
                                 const std::string& what);

// A numeric array from the raw bytes of a file or pickle: checks the size,
// swaps big-endian elements and turns Fortran order into C order.
NpyArray make_array(const DTypeSpec& spec, std::vector<std::int64_t> shape, bool fortran,
                    std::string_view raw, const std::string& what);

// Native payloads of unpickled objects (util::pickle::Value::native).
struct PendingArray {};  // numpy _reconstruct before its BUILD
struct Unreadable {      // an object the hooks understood but could not decode
  std::string why;
};
struct TorchStorage {  // a torch storage's elements (little-endian)
  util::torch_storage::ElementType type = util::torch_storage::ElementType::kUInt8;
  std::string bytes;
};

// The pickle hooks of object arrays: numpy arrays, dtypes and scalars; torch
// tensors (through torch_call). Decoding failures give Unreadable objects.
class NpyHooks : public util::pickle::Hooks {
 public:
  util::pickle::ValuePtr call(const std::string& name,
                              const std::vector<util::pickle::ValuePtr>& args) override;
  bool build(util::pickle::Value& target, const util::pickle::ValuePtr& state) override;
};

// The torch globals of a pickle (torch.storage._load_from_bytes,
// torch._utils._rebuild_tensor_v2/v3, ...): a value, or nullptr when `name`
// is no torch global. In npy_torch.cpp.
util::pickle::ValuePtr torch_call(const std::string& name, const std::vector<util::pickle::ValuePtr>& args,
                                  util::pickle::Hooks* hooks);

}  // namespace c2am::cams::npy_detail
