// Implements: the typed, validated configuration of every c2am command.
// TOML files are parsed once into these structs (config.cpp); unknown keys,
// wrong types and out-of-range values are UsageErrors naming file:line and
// the key path. Only this module reads TOML or environment variables.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace c2am::config {

// A boolean setting that may be left to the hardware: true | false | "auto".
enum class Toggle { kFalse, kTrue, kAuto };

struct ModelConfig {
  // c2am | classifier (multi-label CAMs) | saliency (refined cues) | regressor (PSOL box regressor)
  std::string kind = "c2am";
  std::string arch = "resnet50";  // resnet18 | resnet34 | resnet50 | resnet101
  std::array<int, 4> strides = {1, 2, 2, 1};  // stride of layer1..layer4, each 1 or 2
  std::string pretrained;                     // torch.save'd state_dict (.pth); "" = random init
  int num_classes = 20;                       // classifier: foreground classes (VOC: 20), > 0
};

struct LossConfig {
  double alpha = 0.05;  // rank-weight decay of the positive terms, >= 0
};

struct DataConfig {
  std::string layout = "cub";  // cub | imagenet | voc | folder
  std::string root;            // dataset folder (raw layout, or a packed folder later)
  int train_resize = 256;      // square resize before the random crop, > 0
  int train_crop = 224;        // random crop side, 0 < crop <= resize
  bool flip = true;            // random horizontal flip in training
  int test_resize = 480;
  int test_crop = 448;
  int loader_threads = 0;            // 0 = same as run.threads
  std::string bad_sample = "error";  // error | skip
  std::string resample = "pil";      // training resize: pil (bit-exact PIL bilinear) | fast (docs/data-format.md)
  std::string batch_dtype = "auto";  // auto (uint8 on CUDA, float32 on the CPU) | float32 | uint8
  std::uint64_t max_pixels = 100'000'000;  // decode limit (width x height from the header); 0 = none
  std::string cues;  // saliency training: folder of background-cue PNGs (<stem>.png, 255 = foreground)
  std::string boxes;  // regressor training: pseudo boxes, c2am extract-boxes' boxes.jsonl (or its folder)
  std::array<double, 3> mean = {0.485, 0.456, 0.406};
  std::array<double, 3> std = {0.229, 0.224, 0.225};
};

struct TrainConfig {
  int epochs = 20;                      // > 0
  int batch_size = 16;                  // global batch over all ranks, > 0
  double lr = 1e-4;                     // base learning rate, > 0
  double weight_decay = 1e-4;           // >= 0, on the trained parameters (train.parameters)
  std::string optimizer = "reference";  // reference (momentum 1e-4, the reference's slip) | sgd
  double momentum = 0.9;                // used when optimizer = "sgd", in [0, 1)
  double head_lr_mult = 10.0;           // lr multiplier of the disentangler head, > 0
  std::string lr_schedule = "poly";     // poly: lr * (1 - step/max_step)^poly_power | cosine (to 0)
  double poly_power = 0.9;              // lr * (1 - step/max_step)^poly_power
  // What SGD trains: conv (the conv weights, BatchNorm affine frozen: the C²AM
  // reference) | all (every parameter, weight decay on all: torch.optim.SGD over
  // model.parameters(), as PSOL's regressor)
  std::string parameters = "conv";
  // C²AM's polarity rule after the first epoch (method doc §5): wsol (the
  // first image of the last batch, binarised, 1-pixel border; the authors'
  // WSOL/utils.py) | wsss (the whole last batch, 4-pixel bands, no
  // binarisation; the authors' WSSS/utils.py)
  std::string polarity_rule = "wsol";
  int max_steps = 0;                    // > 0 stops early after this many steps (tests, smoke runs)
  std::uint64_t seed = 0;               // data order, augmentation and init
  int log_every = 10;                   // steps between progress lines, > 0
  int checkpoint_every = 0;             // steps between checkpoints; 0 = end of each epoch only
  int keep_checkpoints = 3;             // newest K kept, > 0
  bool fused_optimizer = true;          // SGD as a few _foreach_ ops per group (same bits as per parameter)
};

struct EvalConfig {
  int every_epochs = 0;  // evaluate during training after every N epochs and the last; 0 = never
  int batch_size = 32;   // > 0
  int heatmaps = 16;     // heatmap PNGs written by the demo/eval, >= 0
  // CorLoc boxes: paper (method doc §7) | reference (the authors' WSOL code) |
  // aligned (map cells on their receptive-field centres); docs/wsol.md.
  std::string protocol = "paper";
};

// The WSSS refinement stage (method doc §8).
struct WsssConfig {
  std::vector<double> scales = {0.5, 1.0, 1.5, 2.0};  // inference scales, each with its flip, each > 0
  double cue_threshold = 0.3;                         // foreground where the C²AM map > this, before the CRF
  int crf_iterations = 10;                            // mean-field iterations; 0 = no CRF
  double crf_gt_prob = 0.7;                           // confidence of the thresholded label in the CRF unary
  double crf_gauss_sxy = 3.0;                         // Gaussian (smoothness) kernel
  double crf_gauss_compat = 3.0;
  double crf_bilateral_sxy = 50.0;  // bilateral (appearance) kernel
  double crf_bilateral_srgb = 5.0;
  double crf_bilateral_compat = 10.0;
  double bg_threshold = 0.25;  // constant background score for CAMs without cues
};

struct DistConfig {
  std::string backend = "auto";         // auto (NCCL on CUDA, MPI otherwise) | mpi | nccl
  double bucket_mb = 25.0;              // gradient all-reduce bucket size in MiB, > 0
  int timeout_s = 600;                  // a collective that takes longer ends the job, > 0
  std::string sync_batchnorm = "none";  // none | head | all: BatchNorm statistics over the global batch
  std::string negatives =
      "global";  // global: contrast across all ranks (method doc §4) | local: per rank (the reference's DDP)
};

struct RunConfig {
  std::string out = "runs/default";  // run folder: config, metrics, checkpoints
  int threads = 0;                   // CPU intra-op threads; 0 = all cores
  std::string device = "auto";       // auto (cuda:<local rank> when CUDA is available) | cpu | cuda | cuda:N
  std::string precision = "auto";    // auto (bf16 where the device has it) | fp32 | bf16 (autocast for the
                                     // backbone; heads and losses in fp32); docs/training.md
  Toggle channels_last = Toggle::kAuto;   // channels_last parameters and inputs; auto: with bf16
  bool cudnn_benchmark = true;       // cuDNN autotuning (CUDA)
  bool cuda_graphs = false;          // capture the training step once and replay it (CUDA, train/graph_step.h)
  bool tensorboard = true;           // TensorBoard event files in <out>/tb/, written by rank 0
};

struct Config {
  ModelConfig model;
  LossConfig loss;
  DataConfig data;
  TrainConfig train;
  EvalConfig eval;
  WsssConfig wsss;
  DistConfig dist;
  RunConfig run;
};

// Loads `files` in order (later files override earlier ones), then applies
// `overrides` ("a.b=value", TOML value syntax; bare words are strings), then
// validates. Errors name file:line (or "--set a.b=value") and the key path.
Config load(const std::vector<std::string>& files, const std::vector<std::string>& overrides);

// Parses TOML text (e.g. the config saved in a checkpoint); `source_name`
// stands for the file in error messages.
Config load_from_string(const std::string& text, const std::string& source_name);

// The resolved configuration as TOML text; load() of it gives the same Config.
std::string to_toml(const Config& cfg);

// Validates ranges and choices; throws UsageError naming the key path.
void validate(const Config& cfg);

}  // namespace c2am::config
