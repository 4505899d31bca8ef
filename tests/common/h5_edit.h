// Implements: a test helper that damages one byte of a 1-D uint8 dataset of
// an open HDF5 file in place (read, XOR, write back by hyperslab), as a
// flipped bit on disk would. Returns false when a step fails.
#pragma once
#include <hdf5.h>

#include <cstdint>

namespace c2am::testing_util {

inline bool flip_dataset_byte(hid_t file, const char* dataset, std::uint64_t at, std::uint8_t mask) {
  const hid_t ds = H5Dopen2(file, dataset, H5P_DEFAULT);
  if (ds < 0) return false;
  const hid_t space = H5Dget_space(ds);
  const hsize_t start[1] = {at}, count[1] = {1};
  const hid_t mem = H5Screate_simple(1, count, nullptr);
  std::uint8_t b = 0;
  const bool ok = H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr) >= 0 &&
                  H5Dread(ds, H5T_NATIVE_UINT8, mem, space, H5P_DEFAULT, &b) >= 0 &&
                  (b ^= mask, H5Dwrite(ds, H5T_NATIVE_UINT8, mem, space, H5P_DEFAULT, &b) >= 0);
  H5Sclose(mem);
  H5Sclose(space);
  H5Dclose(ds);
  return ok;
}

}  // namespace c2am::testing_util
