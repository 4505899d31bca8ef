// Implements: a reader of numpy's .npy files without Python: format versions
// 1.0, 2.0 and 3.0; bool, int8..int64, uint8..uint64, float16/32/64 in either
// byte order; C and Fortran order (returned in C order); and object arrays
// (np.save of a dict, as IRN / PuzzleCAM / the C²AM authors' code write CAMs),
// whose pickle is run by util::pickle with hooks that rebuild the numpy arrays
// and the torch tensors inside it (torch tensors decoded without LibTorch).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/pickle.h"

namespace c2am::cams {

enum class DType {
  kBool,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kUInt8,
  kUInt16,
  kUInt32,
  kUInt64,
  kFloat16,
  kFloat32,
  kFloat64,
  kObject,  // Python objects (the elements of NpyArray::objects)
};

const char* dtype_name(DType d);  // numpy's name: "float32", "object", ...
std::size_t dtype_size(DType d);  // bytes per element; 0 for kObject
bool is_integer(DType d);         // bool and the integer types
bool is_floating(DType d);

// One array as read: elements in C order and little-endian byte order,
// whatever the file's order.
struct NpyArray {
  DType dtype = DType::kFloat64;
  std::vector<std::int64_t> shape;              // empty for a 0-d array
  std::vector<std::uint8_t> data;               // size() * dtype_size(dtype) bytes (numeric dtypes)
  std::vector<util::pickle::ValuePtr> objects;  // size() elements (kObject)

  std::int64_t size() const;       // the number of elements (1 for a 0-d array)
  std::string shape_text() const;  // as numpy prints it: "()", "(3,)", "(2, 4, 5)"
  std::string describe() const;    // "float32 array of shape (2, 4, 5)"
  // Converting copies of every element (numeric dtypes; float16 widened).
  // Throw c2am::Error naming `what` for object arrays (and to_int64 for
  // floating values that are not whole numbers).
  std::vector<float> to_float(const std::string& what) const;
  std::vector<double> to_double(const std::string& what) const;
  std::vector<std::int64_t> to_int64(const std::string& what) const;
};

// Reads the .npy file `path`. Object arrays need allow_pickle (as np.load);
// their pickle is unpickled, and objects the reader cannot make sense of stay
// opaque values that only fail when array_from_value is asked for them.
// Throws c2am::Error "cannot read '<path>' as a .npy file: <what is wrong>"
// (c2am::IoError when the file cannot be opened).
NpyArray read_npy(const std::string& path, bool allow_pickle = false);
// The same on the bytes of a file; `name` stands for the file in messages.
NpyArray parse_npy(std::string_view bytes, const std::string& name, bool allow_pickle = false);

// The array an unpickled value stands for: a numpy array or scalar, a torch
// tensor, a Python bool / int / float, or a flat list or tuple of them.
// Otherwise throws c2am::Error "<what>: <what it holds instead>" (for a torch
// tensor that could not be decoded: why).
NpyArray array_from_value(const util::pickle::Value& v, const std::string& what);

}  // namespace c2am::cams
