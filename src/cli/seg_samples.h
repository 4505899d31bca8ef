// Implements: the sample sheet of `c2am eval-seg`: for the first few images,
// side by side, the photo (when the ground truth is a packed split), the
// ground truth, the scored pseudo mask (--pred) and the background cue
// (--cues), label maps in the VOC palette; written as a PNG for the report
// and TensorBoard.
#pragma once
#include <string>

#include "wsss/seg_eval.h"

namespace c2am::cli {

// Writes `out_png` and returns how many images it shows (0: nothing to show, no file).
int write_seg_samples(const wsss::EvalSegOptions& options, const std::string& out_png, int count = 6);

}  // namespace c2am::cli
