// Tests: eval.protocol's CorLoc boxes (eval/corloc.h, eval/boxes.h).
// "reference" against a Python transcription of the authors' WSOL/utils.py
// (compute_bboxes_from_scoremaps, their CUB IoU and IOUFunciton_ILSRVC) on
// crafted maps, border boxes and ground truth leaving the crop included;
// "aligned" puts each map cell on its receptive-field centre.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/python_files.h"
#include "eval/boxes.h"
#include "eval/corloc.h"
#include "util/error.h"
#include "util/fs.h"

namespace {

using c2am::eval::CorLocAccumulator;
using c2am::eval::CorLocProtocol;
using c2am::eval::MapView;
using c2am::eval::Scale;
using c2am::image::Box;

// Writes maps.bin (float32, n x 28 x 28), cases.json (ground truth per map,
// crop coordinates, unclipped) and expected.json (the reference's correct
// counts per tau, CUB and ILSVRC rules). The maps are "hills": the region
// above any level is one rectangle, so the largest contour's boundingRect is
// the extent of the region (no OpenCV needed here); cores touch every border.
// IoUs are computed in float32 as torch does; a case whose decision would
// differ in float64 is drawn again, so the C++ (double) must agree exactly.
constexpr const char* kReference = R"PY(
import json, os, sys
import numpy as np

out = sys.argv[1]
H = W = 28
CROP = 448
factor = CROP / W                     # input.size(-1) / ccam.size(-1)
taus = [(i + 1) / 20 for i in range(19)]
rng = np.random.default_rng(20261205)

def hill(x0, x1, y0, y1, spread, peak):
    ys, xs = np.mgrid[0:H, 0:W]
    dx = np.maximum(np.maximum(x0 - xs, xs - x1), 0)
    dy = np.maximum(np.maximum(y0 - ys, ys - y1), 0)
    d = np.maximum(dx, dy).astype(np.float32)
    return (peak * np.clip(1 - d / spread, 0, 1)).astype(np.float32)

# WSOL/utils.py compute_bboxes_from_scoremaps, multi_contour_eval=False, one region.
def boxes(scoremap):
    img = (scoremap * 255).astype(np.uint8)
    res = []
    for t in taus:
        level = int(t * np.max(img))
        ys, xs = np.where(img > level)
        if len(xs) == 0:
            res.append([0, 0, 0, 0]); continue
        x, y = int(xs.min()), int(ys.min())
        w, h = int(xs.max()) - x + 1, int(ys.max()) - y + 1
        x0, y0, x1, y1 = x, y, x + w, y + h
        x1 = min(x1, W - 1); y1 = min(y1, H - 1)
        res.append([x0 * factor, y0 * factor, x1 * factor, y1 * factor])
    return res

def iou_cub(p, g, dt):          # train_CCAM_CUB.py: intersect() clamps, float32 tensors
    p = np.asarray(p, dt); g = np.asarray(g, dt)
    iw = max(dt(0), min(p[2], g[2]) - max(p[0], g[0]))
    ih = max(dt(0), min(p[3], g[3]) - max(p[1], g[1]))
    inter = dt(iw * ih)
    union = dt((p[2] - p[0]) * (p[3] - p[1]) + (g[2] - g[0]) * (g[3] - g[1]) - inter)
    with np.errstate(all='ignore'):
        return dt(inter / union)

def iou_ilsvrc(p, gts, dt):     # utils.py IOUFunciton_ILSRVC: no clamp, best over boxes from 0
    best = dt(0)
    p = np.asarray(p, dt)
    for g in gts:
        g = np.asarray(g, dt)
        inter = dt((min(p[2], g[2]) - max(p[0], g[0])) * (min(p[3], g[3]) - max(p[1], g[1])))
        area_a = dt((p[2] - p[0]) * (p[3] - p[1])); area_b = dt((g[2] - g[0]) * (g[3] - g[1]))
        with np.errstate(all='ignore'):
            v = dt(inter / dt(area_a + area_b - inter))
        if v > best: best = v
    return best

def decisions(bx, gts):
    cub = [bool(iou_cub(b, gts[0], np.float32) > 0.5) for b in bx]
    cub64 = [bool(iou_cub(b, gts[0], np.float64) > 0.5) for b in bx]
    ils = [bool(iou_ilsvrc(b, gts, np.float32) > 0.5) for b in bx]
    ils64 = [bool(iou_ilsvrc(b, gts, np.float64) > 0.5) for b in bx]
    return cub, ils, cub == cub64 and ils == ils64

maps, cases = [], []
cub_correct = [0] * 19
ils_correct = [0] * 19
cores = [(0, 3, 0, 3), (24, 27, 24, 27), (20, 27, 5, 12), (3, 9, 22, 27), (0, 27, 0, 27), (10, 14, 11, 15)]
while len(maps) < 40:
    k = len(maps)
    if k < len(cores):
        x0, x1, y0, y1 = cores[k]
    else:
        x0 = int(rng.integers(0, 28)); x1 = int(rng.integers(x0, 28))
        y0 = int(rng.integers(0, 28)); y1 = int(rng.integers(y0, 28))
    m = hill(x0, x1, y0, y1, float(rng.uniform(2, 12)), float(rng.choice([1.0, 0.9, 0.6])))
    if k == 6:
        m = np.zeros((H, W), np.float32)   # no region: box (0, 0, 0, 0)
    bx = boxes(m)
    # Ground truth near the object, unclipped: it may leave the crop.
    cx, cy = (x0 + x1 + 1) / 2 * factor, (y0 + y1 + 1) / 2 * factor
    gts = []
    for j in range(1 + int(rng.integers(0, 3))):
        w = float(rng.uniform(40, 300)); h = float(rng.uniform(40, 300))
        ox = float(rng.normal(0, 40)); oy = float(rng.normal(0, 40))
        gts.append([cx + ox - w / 2, cy + oy - h / 2, cx + ox + w / 2, cy + oy + h / 2])
    if k == 7:
        # Disjoint from the predicted box yet a hit under the unclamped product.
        b = bx[9]
        gts = [[b[2] + 10, b[3] + 10, b[2] + 10 + (b[2] - b[0]), b[3] + 10 + (b[3] - b[1])]]
    gts = [[float(np.float32(v)) for v in g] for g in gts]
    cub, ils, stable = decisions(bx, gts)
    if not stable:
        continue
    for t in range(19):
        cub_correct[t] += cub[t]; ils_correct[t] += ils[t]
    maps.append(m); cases.append({'gt': gts, 'boxes': bx})

np.stack(maps).astype('<f4').tofile(os.path.join(out, 'maps.bin'))
json.dump(cases, open(os.path.join(out, 'cases.json'), 'w'))
json.dump({'cub': cub_correct, 'imagenet': ils_correct, 'total': len(maps)},
          open(os.path.join(out, 'expected.json'), 'w'))
print('ok')
)PY";

class ReferenceProtocol : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = c2am::testing_util::python_files("eval/reference_corloc", kReference, "numpy (Debian: python3-numpy)",
                                            &setup_error_);
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  static inline std::string dir_;
  static inline std::string setup_error_;
};

std::vector<Box> to_boxes(const nlohmann::json& list) {
  std::vector<Box> out;
  for (const auto& b : list) out.push_back(Box{b[0].get<float>(), b[1].get<float>(), b[2].get<float>(), b[3].get<float>()});
  return out;
}

TEST_F(ReferenceProtocol, CorLocEqualsTheAuthorsCodeOnCraftedMapsForCubAndImagenet) {
  const nlohmann::json cases = nlohmann::json::parse(c2am::util::read_file(dir_ + "/cases.json"));
  const nlohmann::json expected = nlohmann::json::parse(c2am::util::read_file(dir_ + "/expected.json"));
  const std::string bytes = c2am::util::read_file(dir_ + "/maps.bin");
  const size_t n = cases.size();
  ASSERT_EQ(bytes.size(), n * 28 * 28 * sizeof(float));
  std::vector<float> maps(n * 28 * 28);
  std::memcpy(maps.data(), bytes.data(), bytes.size());

  for (const std::string layout : {"cub", "imagenet"}) {
    CorLocAccumulator acc(c2am::eval::corloc_protocol("reference", layout));
    for (size_t i = 0; i < n; ++i) {
      const MapView map{maps.data() + i * 28 * 28, 28, 28};
      const std::vector<Box> gt = to_boxes(cases[i]["gt"]);
      // CUB's loader keeps one box; ILSVRC's keeps them all.
      const std::vector<Box> used = layout == "cub" ? std::vector<Box>{gt.front()} : gt;
      const std::vector<Box> boxes = acc.add(map, Scale{16.0, 16.0}, used);
      const std::vector<Box> theirs = to_boxes(cases[i]["boxes"]);
      for (size_t t = 0; t < boxes.size(); ++t) {
        EXPECT_EQ(boxes[t].x0, theirs[t].x0) << "map " << i << " tau " << t;
        EXPECT_EQ(boxes[t].y0, theirs[t].y0) << "map " << i << " tau " << t;
        EXPECT_EQ(boxes[t].x1, theirs[t].x1) << "map " << i << " tau " << t;
        EXPECT_EQ(boxes[t].y1, theirs[t].y1) << "map " << i << " tau " << t;
      }
    }
    std::vector<std::int64_t> want = expected[layout].get<std::vector<std::int64_t>>();
    want.push_back(expected["total"].get<std::int64_t>());
    EXPECT_EQ(acc.counts(), want) << layout;
  }
}

TEST(Protocols, NamesSelectTheirRules) {
  const CorLocProtocol paper = c2am::eval::corloc_protocol("paper", "cub");
  EXPECT_EQ(paper, CorLocProtocol{});
  const CorLocProtocol ref = c2am::eval::corloc_protocol("reference", "cub");
  EXPECT_TRUE(ref.clip_to_last_pixel);
  EXPECT_TRUE(ref.unclipped_ground_truth);
  EXPECT_FALSE(ref.unclamped_intersection);
  EXPECT_TRUE(c2am::eval::corloc_protocol("reference", "imagenet").unclamped_intersection);
  EXPECT_TRUE(c2am::eval::corloc_protocol("aligned", "imagenet").aligned);
  EXPECT_FALSE(c2am::eval::corloc_protocol("aligned", "imagenet").unclamped_intersection);
  EXPECT_THROW(c2am::eval::corloc_protocol("wsolevaluation", "cub"), c2am::Error);
  CorLocAccumulator a(paper), b(ref);
  EXPECT_THROW(a.merge(b), c2am::Error);
}

TEST(Protocols, UnclampedIntersectionScoresDisjointBoxesAsTheAuthorsDo) {
  const Box a{0, 0, 10, 10}, b{20, 20, 30, 30};
  EXPECT_EQ(c2am::eval::iou(a, b), 0.0);
  EXPECT_DOUBLE_EQ(c2am::eval::iou_unclamped(a, b), 1.0);  // (-10) * (-10) / (100 + 100 - 100)
  EXPECT_DOUBLE_EQ(c2am::eval::iou_unclamped(a, Box{5, 0, 15, 10}), 50.0 / 150.0);
}

// A symmetric hill around cell (cx, cy): the paper's box (map box scaled x16)
// is centred on 16 c + 8, half a cell down-right of the cell's receptive-field
// centre, pixel 16 c (continuous 16 c + 0.5); the aligned box is centred there.
TEST(Protocols, AlignedBoxesAreCentredOnTheCellsReceptiveFieldCentre) {
  const int w = 28, h = 28, cx = 10, cy = 17;
  std::vector<float> map(static_cast<size_t>(w * h));
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const double d = std::max(std::abs(x - cx), std::abs(y - cy));
      map[static_cast<size_t>(y * w + x)] = static_cast<float>(std::max(0.0, 1.0 - d / 4.0));
    }
  }
  const MapView view{map.data(), w, h};
  CorLocAccumulator paper(c2am::eval::corloc_protocol("paper", "cub"));
  CorLocAccumulator aligned(c2am::eval::corloc_protocol("aligned", "cub"));
  const std::vector<Box> pb = paper.add(view, Scale{16.0, 16.0}, {});
  const std::vector<Box> ab = aligned.add(view, Scale{16.0, 16.0}, {});
  for (size_t t = 0; t < pb.size(); ++t) {
    EXPECT_DOUBLE_EQ((pb[t].x0 + pb[t].x1) / 2.0, 16.0 * cx + 8.0) << t;
    EXPECT_DOUBLE_EQ((pb[t].y0 + pb[t].y1) / 2.0, 16.0 * cy + 8.0) << t;
    EXPECT_DOUBLE_EQ((ab[t].x0 + ab[t].x1) / 2.0, 16.0 * cx + 0.5) << t;
    EXPECT_DOUBLE_EQ((ab[t].y0 + ab[t].y1) / 2.0, 16.0 * cy + 0.5) << t;
  }
}

TEST(Protocols, AlignToCropPutsCellsOnTheirPixelsAndInterpolatesBetween) {
  // 4 x 2 map into a 16 x 8 crop (stride 4): cell i lands on pixel 4 i.
  const std::vector<float> map = {0.0f, 1.0f, 0.5f, 0.25f,  //
                                  1.0f, 0.0f, 0.0f, 1.0f};
  const std::vector<float> up = c2am::eval::align_to_crop(MapView{map.data(), 4, 2}, 16, 8);
  ASSERT_EQ(up.size(), 16u * 8u);
  auto at = [&](int x, int y) { return up[static_cast<size_t>(y * 16 + x)]; };
  EXPECT_FLOAT_EQ(at(0, 0), 0.0f);
  EXPECT_FLOAT_EQ(at(4, 0), 1.0f);
  EXPECT_FLOAT_EQ(at(8, 0), 0.5f);
  EXPECT_FLOAT_EQ(at(12, 0), 0.25f);
  EXPECT_FLOAT_EQ(at(2, 0), 0.5f);    // halfway between cells 0 and 1
  EXPECT_FLOAT_EQ(at(15, 0), 0.25f);  // past the last cell: held
  EXPECT_FLOAT_EQ(at(0, 4), 1.0f);    // row 1 on pixel row 4
  EXPECT_FLOAT_EQ(at(0, 2), 0.5f);
  EXPECT_FLOAT_EQ(at(12, 7), 1.0f);
  EXPECT_THROW(c2am::eval::align_to_crop(MapView{map.data(), 0, 2}, 16, 8), c2am::Error);
}

}  // namespace
