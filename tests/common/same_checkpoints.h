// Implements: the one test helper that compares two checkpoint files bit for
// bit (parameters, buffers and momentum), for the resume and kind tests.
#pragma once
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "checkpoint/checkpoint.h"

namespace c2am::testing_util {

// The same parameters, buffers and momentum in two checkpoint files, bit for bit.
inline void expect_same_checkpoints(const std::string& path_a, const std::string& path_b) {
  const auto a = c2am::checkpoint::load_checkpoint(path_a);
  const auto b = c2am::checkpoint::load_checkpoint(path_b);
  ASSERT_EQ(a.model.size(), b.model.size());
  for (const auto& [name, t] : a.model) EXPECT_TRUE(torch::equal(t, b.model.at(name))) << name;
  ASSERT_EQ(a.momentum.size(), b.momentum.size());
  for (const auto& [name, t] : a.momentum) EXPECT_TRUE(torch::equal(t, b.momentum.at(name))) << name;
}

}  // namespace c2am::testing_util
