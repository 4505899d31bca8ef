// Implements: the training/evaluation loader. A global epoch-seeded
// permutation is cut into global batches; rank r of R takes rows
// [r*n, (r+1)*n) of each (so R ranks x n see exactly what 1 rank x R*n sees);
// the remainder is dropped in training. Each sample's augmentation draws from
// its own generator seeded by (seed, epoch, sample index), so batches depend
// only on (seed, epoch, rank, world), never on the thread count. Decoding and
// transforms run on a pool of threads; the next batch is prepared while the
// current one trains. Resuming mid-epoch skips the consumed batches.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "image/image.h"
#include "image/resample_window.h"
#include "data/shards.h"

namespace c2am::data {

struct Sample {
  std::string name;         // path relative to the dataset root (reported in errors)
  std::string path;         // file path (raw layouts); empty for packed samples
  int shard = -1;           // packed: index into Dataset::shards
  std::int64_t index = -1;  // packed: index within the shard
  int label = -1;
  std::vector<image::Box> boxes;  // ground truth in the pixels of the stored image (evaluation splits)
};

// The samples of one split and where their bytes live.
struct Dataset {
  std::string description;  // for logs: the folder and whether it is packed
  std::vector<Sample> samples;
  std::vector<std::shared_ptr<const ShardReader>> shards;  // packed datasets only
  std::int64_t max_pixels = image::kDefaultMaxPixels;      // decode limit (data.max_pixels; 0 = none)
  // The encoded bytes of a sample; errors name the file, or the shard and index.
  std::vector<std::uint8_t> bytes(const Sample& s) const;
  // "shard-00003.h5[17] (images/001/x.jpg)" or the file path, for messages.
  std::string where(const Sample& s) const;
  // The packed class-index mask (VOC), 1 channel at the stored image's size;
  // an error naming the sample when it has none.
  image::Image mask(const Sample& s) const;
};

// The file stem of a sample's name ("JPEGImages/2007_000032.jpg" -> "2007_000032"):
// the key of the per-image files of the WSSS stage (maps, cues, CAMs, masks).
std::string sample_stem(const Sample& s);

// Opens one split ("train" | "test" | "val") of data.root. A folder with a
// manifest.json (written by `c2am pack`) or with <split>/manifest.json is read
// from its shards; otherwise the raw layout is read (cub only).
Dataset open_split(const config::DataConfig& cfg, const std::string& split);

struct Transform {
  int resize = 256;  // square resize
  int crop = 224;    // random (train) or centre (test) crop
  bool train = true;
  bool flip = true;
  image::Resample resample = image::Resample::kPil;  // training: data.resample; evaluation: always PIL
  std::array<double, 3> mean = {0.485, 0.456, 0.406};
  std::array<double, 3> std = {0.229, 0.224, 0.225};
};
Transform train_transform(const config::DataConfig& cfg);
Transform test_transform(const config::DataConfig& cfg);

// The centre crop's offset on each axis, as torchvision's CenterCrop: round((resize - crop) / 2).
int centre_offset(int resize, int crop);

// Where a training sample's crop lies in its resized image and whether it is
// flipped: drawn from the sample's own generator, seeded by (seed, epoch,
// sample index), so it depends on nothing else (threads, ranks, batch).
struct CropDraw {
  int x = 0;
  int y = 0;
  bool flip = false;
};
CropDraw train_crop_draw(uint64_t seed, int64_t epoch, int64_t sample, const Transform& t);

// A box of the stored image (orig_w x orig_h pixels) in a window of its
// square resize to `resize`: scaled per axis, shifted by the window's corner,
// clipped to the window unless `clip` is false, then mirrored inside the
// window when `flip` (x0' = width - x1, x1' = width - x0).
image::Box box_in_window(const image::Box& box, int orig_w, int orig_h, int resize,
                         const image::Window& window, bool flip, bool clip = true);

// Ground-truth box in the test crop's coordinates (resize then centre crop),
// clipped to the crop unless `clip` is false (the authors' CorLoc leaves it
// unclipped: eval.protocol = "reference").
image::Box box_to_crop(const image::Box& box, int orig_w, int orig_h, const Transform& t, bool clip = true);

// What a batch carries besides the images.
enum class TargetKind {
  kNone,
  kClassPresence,  // n x num_classes float: 1 where class k + 1 appears in the sample's mask (image-level
                   // labels)
  kMask,  // n x crop x crop uint8: the sample's label map under the image's resize, crop and flip (nearest)
  kBox,   // n x 4 float: the sample's box (LoaderOptions::boxes) under the image's resize, crop and flip,
          // clipped to the crop, as (x, y, w, h) / crop (PSOL's regression target)
};

// A sample's label map (1 channel, at the stored image's size).
using MaskSource = std::function<image::Image(const Dataset&, const Sample&)>;
// The dataset's packed masks (Dataset::mask).
MaskSource packed_masks();
// `<dir>/<stem>.png` per sample (e.g. background cues, 255 = foreground); errors name the file.
MaskSource png_folder_masks(const std::string& dir);

// A sample's box in the stored image's pixels, with the image size it belongs to.
struct SampleBox {
  image::Box box;
  std::array<int, 2> image_size{};  // (w, h); the loader checks it against the stored image
};
using BoxSource = std::function<SampleBox(const Dataset&, const Sample&)>;
// The pseudo boxes of c2am extract-boxes (data/pseudo_boxes.h: boxes.jsonl or
// its folder), by sample name; a sample without a box is an Error naming it and the file.
BoxSource pseudo_boxes(const std::string& path);

struct Batch {
  // n x 3 x crop x crop (pinned with CUDA): float32 normalised, or uint8 RGB
  // with LoaderOptions::uint8 (normalise_batch turns it into the float32 one).
  torch::Tensor images;
  torch::Tensor targets;            // see TargetKind; undefined for kNone
  std::vector<int64_t> sample_ids;  // indices into the sample list
  std::vector<std::array<int, 2>> original_sizes;  // (w, h) of each stored image (before DCT-scaled decoding)
  std::vector<image::Image> crops;                        // the un-normalised crops, only when keep_crops
  std::vector<std::string> skipped;                // samples dropped under the skip policy, with the reason
};

struct LoaderOptions {
  int batch_per_rank = 16;
  int rank = 0;
  int world = 1;
  int threads = 1;
  uint64_t seed = 0;
  bool shuffle = true;
  bool drop_last = true;  // false: the last batch is short (evaluation)
  bool keep_crops = false;
  bool skip_bad = false;  // true: undecodable samples are dropped from their batch and counted
  bool uint8 = false;     // images as uint8 RGB, normalised where they are used (normalise_batch)
  TargetKind targets = TargetKind::kNone;
  int num_classes = 20;  // kClassPresence: labels 1..num_classes
  MaskSource masks;      // kClassPresence / kMask: where label maps come from (default: packed_masks())
  BoxSource boxes;       // kBox: every sample's box (looked up for all samples when the loader is made)
};

// Whether training batches are uint8 (data.batch_dtype; "auto": on CUDA,
// where the device normalises them and the host copies 4x fewer bytes).
bool uint8_batches(const config::DataConfig& cfg, bool on_cuda);

// A uint8 batch (n x 3 x h x w) as the loader's float32 one, on its device:
// x * (1 / (255 * std[c])) - mean[c] / std[c], the same float32 operations
// as image::write_chw_normalised, so the result is bit-identical to the float path. A
// float batch is returned as it is.
torch::Tensor normalise_batch(const torch::Tensor& images, const std::array<double, 3>& mean,
                              const std::array<double, 3>& std);

// The global sample order of an epoch (a pure function of seed and epoch).
std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch);

class Loader {
 public:
  Loader(Dataset dataset, Transform transform, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  int64_t batches_per_epoch() const;
  const std::vector<Sample>& samples() const { return dataset_.samples; }
  const Dataset& dataset() const { return dataset_; }
  const Transform& transform() const { return transform_; }
  // Samples dropped so far under the skip policy.
  std::int64_t skipped() const { return skipped_; }
  // Starts `epoch`, skipping its first `skip_batches` batches (resume).
  void start_epoch(int64_t epoch, int64_t skip_batches = 0);
  // The next batch of this rank, or nullopt at the end of the epoch.
  std::optional<Batch> next();

 private:
  Batch load(int64_t batch_index) const;
  void prefetch();

  Dataset dataset_;
  Transform transform_;
  LoaderOptions options_;
  std::vector<int64_t> order_;
  int64_t epoch_ = 0;
  int64_t next_batch_ = 0;
  std::future<Batch> pending_;
  bool pending_valid_ = false;
  std::int64_t skipped_ = 0;
};

}  // namespace c2am::data
