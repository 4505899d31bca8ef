// The box regressor (model.kind = "regressor", PSOL): its targets (a pseudo
// box following the image's resize, crop and flip: against a hand
// computation and against each sample's own crop draw), the pseudo-box file
// checks, its loss and two SGD steps against the authors' training step
// transcribed in PyTorch, training through the common loop with a bit-exact
// resume, and `eval-wsol --regressor`'s figures.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint.h"
#include "checkpoint/trained.h"
#include "comm/communicator.h"
#include "common/error_message.h"
#include "common/python_files.h"
#include "common/same_checkpoints.h"
#include "common/synth_data.h"
#include "common/temp_dir.h"
#include "config/config.h"
#include "data/loader.h"
#include "data/pseudo_boxes.h"
#include "eval/regressor_eval.h"
#include "model/weights.h"
#include "train/optimizer.h"
#include "train/task.h"
#include "train/trainer.h"
#include "util/error.h"
#include "util/log.h"

namespace {

namespace fs = std::filesystem;
using c2am::config::Config;
using c2am::image::Box;
using c2am::testing_util::fresh_dir;

void expect_box(const Box& b, float x0, float y0, float x1, float y1) {
  EXPECT_NEAR(b.x0, x0, 1e-4);
  EXPECT_NEAR(b.y0, y0, 1e-4);
  EXPECT_NEAR(b.x1, x1, 1e-4);
  EXPECT_NEAR(b.y1, y1, 1e-4);
}

TEST(Regressor, BoxInWindowFollowsTheResizeTheCropAndTheFlip) {
  using c2am::data::box_in_window;
  using c2am::image::Window;
  // A 200 x 100 image resized to 256 x 256 (x * 1.28, y * 2.56), the crop at (16, 8), side 224.
  const Box b{20, 10, 120, 60};  // -> (25.6, 25.6, 153.6, 153.6) in the resized image
  expect_box(box_in_window(b, 200, 100, 256, Window{16, 8, 224, 224}, false), 9.6f, 17.6f, 137.6f, 145.6f);
  // Flipped inside the crop: x0' = 224 - 137.6, x1' = 224 - 9.6.
  expect_box(box_in_window(b, 200, 100, 256, Window{16, 8, 224, 224}, true), 86.4f, 17.6f, 214.4f, 145.6f);
  // The whole image: clipped to the crop (PSOL's intersection with the crop), unclipped on request.
  const Box all{0, 0, 200, 100};
  expect_box(box_in_window(all, 200, 100, 256, Window{16, 8, 224, 224}, false), 0, 0, 224, 224);
  expect_box(box_in_window(all, 200, 100, 256, Window{16, 8, 224, 224}, false, /*clip=*/false), -16, -8, 240,
             248);
  // A box left of the crop ends as an empty box at its left edge; flipped, at its right edge.
  const Box left{0, 0, 10, 100};
  expect_box(box_in_window(left, 200, 100, 256, Window{16, 8, 224, 224}, false), 0, 0, 0, 224);
  expect_box(box_in_window(left, 200, 100, 256, Window{16, 8, 224, 224}, true), 224, 0, 224, 224);
  // The test crop's box_to_crop is the centred window without a flip.
  c2am::data::Transform t;
  t.resize = 256;
  t.crop = 224;
  expect_box(c2am::data::box_to_crop(b, 200, 100, t), 9.6f, 9.6f, 137.6f, 137.6f);
}

// A small CUB set (raw layout) and boxes.jsonl files written from its ground truth.
struct CubData {
  std::string root;
  std::string train_boxes;  // every train image's first ground-truth box as its pseudo box
};

// The lines extract-boxes writes (name, box, image_size) for every sample of `split`.
std::string boxes_jsonl(const std::string& root, const std::string& split) {
  c2am::config::DataConfig dc;
  dc.root = root;
  c2am::data::LoaderOptions o;
  o.shuffle = false;
  o.drop_last = false;
  o.batch_per_rank = 8;
  c2am::data::Transform t;
  t.resize = 32;
  t.crop = 32;
  t.train = false;
  c2am::data::Loader loader(c2am::data::open_split(dc, split), t, o);
  loader.start_epoch(0);
  std::string out;
  while (auto b = loader.next()) {
    for (size_t k = 0; k < b->sample_ids.size(); ++k) {
      const auto& s = loader.samples()[static_cast<size_t>(b->sample_ids[k])];
      const Box& g = s.boxes.at(0);
      out += nlohmann::json({{"index", b->sample_ids[k]},
                             {"name", s.name},
                             {"box", {g.x0, g.y0, g.x1, g.y1}},
                             {"image_size", b->original_sizes[k]}})
                 .dump() +
             "\n";
    }
  }
  return out;
}

const CubData& cub() {
  static const CubData d = [] {
    const std::string dir = fresh_dir("c2am_regressor");
    const auto o = c2am::testing_util::small_synth("cub", /*train=*/16, /*test=*/8, /*min_size=*/48,
                                                   /*max_size=*/72, /*seed=*/5);
    CubData c{c2am::testing_util::write_synth(o, dir + "/raw"), dir + "/boxes.jsonl"};
    std::ofstream(c.train_boxes) << boxes_jsonl(c.root, "train");
    return c;
  }();
  return d;
}

TEST(Regressor, LoaderTargetsAreEachSamplesPseudoBoxUnderItsOwnCropAndFlip) {
  c2am::config::DataConfig dc;
  dc.root = cub().root;
  const c2am::data::PseudoBoxes pseudo = c2am::data::read_pseudo_boxes(cub().train_boxes);
  c2am::data::LoaderOptions o;
  o.batch_per_rank = 4;
  o.seed = 11;
  o.threads = 2;
  o.targets = c2am::data::TargetKind::kBox;
  o.boxes =
      c2am::data::pseudo_boxes(fs::path(cub().train_boxes).parent_path().string());  // the folder works too
  c2am::data::Transform t;
  t.resize = 40;
  t.crop = 32;
  c2am::data::Loader loader(c2am::data::open_split(dc, "train"), t, o);
  int flipped = 0, checked = 0;
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    loader.start_epoch(epoch);
    while (auto b = loader.next()) {
      ASSERT_EQ(b->targets.sizes(), (std::vector<int64_t>{static_cast<int64_t>(b->sample_ids.size()), 4}));
      for (size_t k = 0; k < b->sample_ids.size(); ++k) {
        const int64_t id = b->sample_ids[k];
        const auto& s = loader.samples()[static_cast<size_t>(id)];
        const c2am::data::CropDraw d = c2am::data::train_crop_draw(11, epoch, id, t);
        const auto [w, h] = b->original_sizes[k];
        const Box e = c2am::data::box_in_window(pseudo.by_name.at(s.name).box, w, h, t.resize,
                                                c2am::image::Window{d.x, d.y, t.crop, t.crop}, d.flip);
        const float* got = b->targets[static_cast<int64_t>(k)].data_ptr<float>();
        EXPECT_FLOAT_EQ(got[0], e.x0 / 32.0f) << s.name;
        EXPECT_FLOAT_EQ(got[1], e.y0 / 32.0f) << s.name;
        EXPECT_FLOAT_EQ(got[2], (e.x1 - e.x0) / 32.0f) << s.name;
        EXPECT_FLOAT_EQ(got[3], (e.y1 - e.y0) / 32.0f) << s.name;
        flipped += d.flip ? 1 : 0;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 32);
  EXPECT_GT(flipped, 0);
  EXPECT_LT(flipped, checked);
}

TEST(Regressor, PseudoBoxFilesAreCheckedNamingFileAndLineOrSample) {
  const std::string dir = fresh_dir("c2am_regressor_bad");
  fs::create_directories(dir);
  const std::string good = R"({"name":"a/1.jpg","box":[1,2,30,40],"image_size":[64,48]})";
  auto error_of = [&](const std::string& text) {
    std::ofstream(dir + "/boxes.jsonl") << text;
    return c2am::testing_util::error_message([&] { c2am::data::read_pseudo_boxes(dir); });
  };
  EXPECT_NE(error_of(good + "\n{\"name\":\"b\"}\n").find("boxes.jsonl:2"), std::string::npos);
  EXPECT_NE(error_of(good + "\n" + good + "\n").find("has a box already"), std::string::npos);
  EXPECT_NE(error_of(R"({"name":"x","box":[30,2,1,40],"image_size":[64,48]})").find("x0 > x1"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"name":"x","box":[1,2,30,40],"image_size":[0,48]})").find("image_size"),
            std::string::npos);
  EXPECT_NE(error_of("").find("no pseudo boxes"), std::string::npos);
  EXPECT_NE(c2am::testing_util::error_message([&] {
              c2am::data::read_pseudo_boxes(dir + "/none.jsonl");
            }).find("none.jsonl"),
            std::string::npos);

  // A training image without a pseudo box is refused before any batch, naming it and the file.
  std::ofstream(dir + "/boxes.jsonl") << good << "\n";
  c2am::config::DataConfig dc;
  dc.root = cub().root;
  c2am::data::LoaderOptions o;
  o.targets = c2am::data::TargetKind::kBox;
  o.boxes = c2am::data::pseudo_boxes(dir);
  const std::string e = c2am::testing_util::error_message(
      [&] { c2am::data::Loader(c2am::data::open_split(dc, "train"), c2am::data::Transform{}, o); });
  EXPECT_NE(e.find("no pseudo box"), std::string::npos) << e;
  EXPECT_NE(e.find("boxes.jsonl"), std::string::npos) << e;
}

// The authors' training step (WSOL/PSOL/training_CUB.py, models/models.py) in
// PyTorch: torchvision's ResNet-18 with PSOL's fc head, SGD with the fc at
// 2 x lr, momentum 0.9, weight decay 1e-4 on every parameter,
// CosineAnnealingLR stepped per iteration, loss 50 x MSELoss; two steps on
// fixed inputs. Writes the initial weights (our names), the inputs, the two
// losses and the weights after the steps.
const char* kPsolStep = R"PY(
import sys, torch, torchvision
out = sys.argv[1]
torch.manual_seed(3)
torch.set_num_threads(1)
model = torchvision.models.resnet18()
model.fc = torch.nn.Sequential(torch.nn.Linear(512, 512), torch.nn.ReLU(), torch.nn.Linear(512, 4), torch.nn.Sigmoid())
ours = lambda sd: {(k if k.startswith("fc.") else "backbone." + k): v.clone() for k, v in sd.items()}
torch.save(ours(model.state_dict()), out + "/init.pth")
images = torch.randn(4, 3, 64, 64)
targets = torch.rand(4, 4) * 0.5
torch.save({"images": images, "targets": targets}, out + "/batch.pth")
lr = 0.01
fc = list(map(id, model.fc.parameters()))
rest = filter(lambda p: id(p) not in fc, model.parameters())
optimizer = torch.optim.SGD([{"params": model.fc.parameters(), "lr": 2 * lr}, {"params": rest, "lr": lr}], lr,
                            momentum=0.9, weight_decay=1e-4)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, 10)
criterion = torch.nn.MSELoss()
model.train()
losses = []
for step in range(2):
    optimizer.zero_grad()
    loss = 50 * criterion(model(images), targets)
    loss.backward()
    optimizer.step()
    scheduler.step()
    losses.append(loss.detach().reshape(1))
torch.save({"losses": torch.cat(losses)}, out + "/losses.pth")
torch.save(ours(model.state_dict()), out + "/after.pth")
)PY";

TEST(Regressor, LossAndTwoSgdStepsMatchTheAuthorsTrainingStepInPyTorch) {
  std::string error;
  const std::string dir = c2am::testing_util::python_files(
      "psol_step", kPsolStep, "torch and torchvision (python3-torch python3-torchvision)", &error);
  ASSERT_FALSE(dir.empty()) << error;
  torch::set_num_threads(1);
  const Config cfg =
      c2am::config::load({}, {"model.kind=regressor", "model.arch=resnet18", "model.strides=[1, 2, 2, 2]",
                              "train.lr=0.01", "train.optimizer=sgd", "train.momentum=0.9",
                              "train.weight_decay=1e-4", "train.head_lr_mult=2", "train.parameters=all",
                              "train.lr_schedule=cosine", "run.precision=fp32", "run.channels_last=false"});
  const std::unique_ptr<c2am::train::Task> task = c2am::train::make_task(cfg);
  torch::nn::Module& net = task->net();
  const auto rep =
      c2am::model::import_weights(net, c2am::model::read_tensor_dict(dir + "/init.pth"), "init.pth");
  ASSERT_TRUE(rep.missing.empty() && rep.unexpected.empty() && rep.ignored.empty());
  c2am::train::freeze_untrained(net, cfg.train);
  net.train();
  c2am::train::Sgd sgd(net, cfg.train, task->network().head_prefix());
  const auto batch_file = c2am::model::read_tensor_dict(dir + "/batch.pth");
  c2am::data::Batch batch;
  batch.images = batch_file.at("images");
  batch.targets = batch_file.at("targets");
  const auto comm = c2am::comm::make_communicator(c2am::comm::Context{}, cfg.dist, torch::kCPU);
  const torch::Tensor expected = c2am::model::read_tensor_dict(dir + "/losses.pth").at("losses");
  for (int step = 0; step < 2; ++step) {
    sgd.zero_grad();
    const c2am::train::StepLoss l = task->loss(batch, *comm);
    l.total.backward();
    sgd.step(step, 10);
    std::printf("step %d: loss %.9g, PyTorch %.9g\n", step, l.total.item<double>(),
                expected[step].item<double>());
    // Tolerance: the same float32 arithmetic in LibTorch and PyTorch 1.13; measured: equal to the bit here.
    EXPECT_NEAR(l.total.item<double>(), expected[step].item<double>(), 1e-5 * expected[step].item<double>())
        << "step " << step;
  }
  const auto after = c2am::model::read_tensor_dict(dir + "/after.pth");
  const auto ours = c2am::model::state_dict(net);
  size_t compared = 0;
  double worst = 0;  // printed: the largest parameter difference seen
  for (const auto& [name, t] : after) {
    ASSERT_TRUE(ours.count(name)) << name;
    if (!t.is_floating_point()) {
      EXPECT_TRUE(torch::equal(ours.at(name), t)) << name;  // num_batches_tracked
    } else {
      worst = std::max(worst, (ours.at(name) - t).abs().max().item<double>());
      EXPECT_TRUE(torch::allclose(ours.at(name), t, 1e-4, 1e-5))
          << name << ": max difference " << (ours.at(name) - t).abs().max().item<double>();
    }
    ++compared;
  }
  EXPECT_EQ(compared, ours.size()) << "every parameter and buffer";
  std::printf("largest difference from PyTorch after two steps: %.3g\n", worst);
}

Config regressor_config(const std::string& out, int max_steps) {
  return c2am::config::load({}, {"model.kind=regressor",
                                 "model.arch=resnet18",
                                 "data.root=" + cub().root,
                                 "data.boxes=" + cub().train_boxes,
                                 "data.train_resize=40",
                                 "data.train_crop=32",
                                 "data.test_resize=32",
                                 "data.test_crop=32",
                                 "train.batch_size=4",
                                 "train.epochs=2",
                                 "train.lr=0.01",
                                 "train.optimizer=sgd",
                                 "train.parameters=all",
                                 "train.lr_schedule=cosine",
                                 "train.head_lr_mult=2",
                                 "train.log_every=1",
                                 "train.max_steps=" + std::to_string(max_steps),
                                 "train.seed=9",
                                 "run.threads=2",
                                 "run.out=" + out});
}

using c2am::testing_util::expect_same_checkpoints;

TEST(Regressor, TrainsThroughTheCommonLoopResumesBitForBitAndEvaluates) {
  c2am::util::Logger log;
  // 16 images / batch 4 = 4 steps per epoch: 6 steps cross an epoch end; the stop at 3 is mid-epoch.
  const std::string full = fresh_dir("regressor_full");
  const auto a = c2am::train::train(regressor_config(full, 6), c2am::comm::Context{}, "", log);
  ASSERT_EQ(a.steps, 6);
  const std::string split = fresh_dir("regressor_split");
  c2am::train::train(regressor_config(split, 3), c2am::comm::Context{}, "", log);
  const auto b = c2am::train::train(regressor_config(split, 6), c2am::comm::Context{}, "auto", log);
  ASSERT_EQ(b.steps, 6);
  expect_same_checkpoints(a.checkpoint, b.checkpoint);
  // Every parameter trains (BatchNorm's too): each has a momentum buffer.
  const auto ckpt = c2am::checkpoint::load_checkpoint(a.checkpoint);
  EXPECT_EQ(ckpt.momentum.size(),
            c2am::checkpoint::load_trained(full, "regressor").net->module().parameters().size());

  // eval-wsol --regressor: one box per test image, the figures in metrics.json.
  const Config cfg = regressor_config(full, 6);
  const auto comm = c2am::comm::make_communicator(c2am::comm::Context{}, cfg.dist, torch::kCPU);
  c2am::eval::RegressorEvalOptions o;
  o.checkpoint = full;
  o.out_dir = full + "/eval";
  o.heatmaps = 3;
  const c2am::eval::RegressorEvalResult r = c2am::eval::evaluate_regressor(cfg, o, *comm, log);
  EXPECT_EQ(r.images, 8);
  EXPECT_GE(r.box_acc[0], r.box_acc[1]);
  EXPECT_GE(r.box_acc[1], r.box_acc[2]);
  EXPECT_DOUBLE_EQ(r.gt_known_loc, r.box_acc[1]);
  EXPECT_EQ(r.heatmap_files.size(), 4u);  // 3 pictures and the contact sheet
  std::ifstream boxes(o.out_dir + "/boxes.jsonl");
  std::string line;
  int lines = 0;
  double iou_sum = 0;
  while (std::getline(boxes, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j.at("index").get<int>(), lines);
    iou_sum += j.at("iou").get<double>();
    ++lines;
  }
  EXPECT_EQ(lines, 8);
  EXPECT_NEAR(r.mean_iou, iou_sum / 8, 1e-5);
  const auto m = nlohmann::json::parse(std::ifstream(o.out_dir + "/metrics.json"));
  EXPECT_EQ(m.at("kind"), "regressor");
  EXPECT_DOUBLE_EQ(m.at("gt_known_loc").get<double>(), r.gt_known_loc);

  // A C²AM checkpoint is not a regressor, and a regressor has no maps: both errors name the kind.
  EXPECT_NE(c2am::testing_util::error_message([&] {
              c2am::checkpoint::load_trained(full, "c2am");
            }).find("regressor"),
            std::string::npos);
  const auto t = c2am::checkpoint::load_trained(full, "regressor");
  EXPECT_NE(c2am::testing_util::error_message([&] {
              t.net->maps(torch::zeros({1, 3, 32, 32}));
            }).find("regressor"),
            std::string::npos);
}

TEST(Regressor, WithoutPseudoBoxesIsAUsageErrorNamingTheKey) {
  Config cfg = regressor_config(fresh_dir("regressor_noboxes"), 1);
  cfg.data.boxes.clear();
  c2am::util::Logger log;
  const std::string e =
      c2am::testing_util::error_message([&] { c2am::train::train(cfg, c2am::comm::Context{}, "", log); });
  EXPECT_NE(e.find("data.boxes"), std::string::npos) << e;
}

}  // namespace
