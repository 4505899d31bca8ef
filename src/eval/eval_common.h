// Implements: what the evaluations of a test split share (eval-wsol of C²AM
// maps, wsol_eval.cpp, and of the box regressor, regressor_eval.cpp): the
// evaluation loader (test transform, no shuffle, every image, the ranks'
// shares), exact count sums over ranks, the class-predictions file of
// Top-1/Top-5 Loc, the centred-box baseline, and JSON lines gathered from all
// ranks into one file sorted by image index. Internal to src/eval.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "config/config.h"
#include "data/loader.h"
#include "image/image.h"

namespace c2am::eval {

// The split eval-wsol reads ("test" for CUB, "val" for ILSVRC and VOC) with
// the test transform `tf`; `keep_crops` keeps the un-normalised crops (pictures).
data::Loader make_eval_loader(const config::Config& cfg, const data::Transform& tf, bool keep_crops,
                              const comm::Communicator& comm);

// Sums integer counts over ranks.
std::vector<int64_t> sum_counts(comm::Communicator& comm, const std::vector<int64_t>& counts);

// name -> predicted class ids, best first ('name,c1,c2,...' or whitespace-separated lines; '#' comments).
std::map<std::string, std::vector<int>> read_class_predictions(const std::string& path);

// Whether the prediction of sample `s` has its label first (top1) / among the first five (top5);
// an error naming the file when it has no line for the sample.
struct TopK {
  bool top1 = false;
  bool top5 = false;
};
TopK top_k(const std::map<std::string, std::vector<int>>& predictions, const std::string& file,
           const data::Sample& s);

// CorLoc (%) of one fixed box per image (the centred box of the mean
// ground-truth size) over all ranks' images; `gts`: each image's boxes in the crop.
double centre_box_corloc(const std::vector<std::vector<image::Box>>& gts, int crop, comm::Communicator& comm);

// Rank 0 writes every rank's JSON lines (each with an integer "index") to
// `path`, sorted by index, atomically.
void write_lines_by_index(const std::string& mine, const std::string& path, comm::Communicator& comm);

}  // namespace c2am::eval
