// Implements: the synthetic dataset generator behind `c2am synth LAYOUT OUT`:
// writes a small dataset in the exact raw layout users have (CUB_200_2011,
// ILSVRC2012 or VOC2012; see docs/synth.md), deterministic for a seed.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "synth/synth_draw.h"

namespace c2am::synth {

struct SynthOptions {
  std::string layout;  // cub | imagenet | voc
  int num_train = 200;
  int num_test = 100;   // test (cub) or val (imagenet, voc) images
  int num_classes = 5;  // voc: at most 20 (the first VOC classes are used)
  int min_size = 96;    // each image side is drawn from [min_size, max_size]
  int max_size = 160;
  std::uint64_t seed = 0;
  int quality = 90;  // JPEG quality
  int threads = 1;   // painting/encoding threads; the output does not depend on it
};

struct SynthSummary {
  std::string layout;
  std::string root;  // the folder written: the layout's root (CUB_200_2011/, ILSVRC2012/ or VOC2012/ itself)
  int num_train = 0;
  int num_test = 0;
  int num_classes = 0;
  int num_objects = 0;  // boxes written over all images
};

// One image of the plan: where it goes and how it is painted.
struct PlannedImage {
  std::string rel_path;  // relative to the root, e.g. "images/001.Stripes_1/Stripes_1_0001.jpg"
  std::string stem;      // VOC name / ImageNet id / CUB file stem
  int id = 0;            // 1-based position in the plan
  bool is_train = false;
  SceneSpec spec;
  std::uint64_t seed = 0;  // for draw_scene
};

// Checks the options; throws c2am::UsageError naming the bad one.
void validate(const SynthOptions& options);

// Every image the generator would write, in id order (validates first).
std::vector<PlannedImage> plan(const SynthOptions& options);

// The class names the layout uses ("Stripes_1", VOC names, ...), 0-based.
std::vector<std::string> class_names(const SynthOptions& options);

// Writes the dataset into `out_dir` (created; must not exist or be empty,
// else c2am::UsageError naming it).
SynthSummary generate(const SynthOptions& options, const std::string& out_dir);

}  // namespace c2am::synth
