#include "data/loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <new>
#include <thread>

#include "data/cub_layout.h"
#include "data/pseudo_boxes.h"
#include "image/chw.h"
#include "image/jpeg.h"
#include "image/png.h"
#include "image/resize.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/threads.h"

namespace c2am::data {

namespace {

// SplitMix64: a tiny, well-mixed generator whose whole state is one word.
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform integer in [0, bound) (bound > 0), by rejection to avoid modulo bias.
  uint64_t below(uint64_t bound) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do x = next();
    while (x >= limit);
    return x % bound;
  }
};

// Host buffers of batch images, recycled: a fresh 38.5 MB float batch
// (64 x 3 x 224 x 224) is mapped by malloc and page-faulted and zeroed by the
// kernel on first touch, which cost half of the float loader's time
// (docs/benchmarks.md); a recycled buffer is already resident. Process-wide
// and never destroyed (a batch may outlive its loader); at most kKeep free
// buffers of each size are kept.
class BufferPool {
 public:
  static BufferPool& instance() {
    static auto* pool = new BufferPool();
    return *pool;
  }
  torch::Tensor empty(const std::vector<int64_t>& sizes, torch::ScalarType dtype) {
    std::size_t bytes = torch::elementSize(dtype);
    for (int64_t d : sizes) bytes *= static_cast<std::size_t>(d);
    if (bytes == 0) return torch::empty(sizes, dtype);
    void* p = nullptr;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(bytes);
      if (it != free_.end()) {
        p = it->second;
        free_.erase(it);
      }
    }
    if (p == nullptr) p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (p == nullptr) throw std::bad_alloc();
    return torch::from_blob(
        p, sizes, [this, bytes](void* q) { give_back(q, bytes); }, torch::TensorOptions(dtype));
  }

 private:
  static constexpr std::size_t kKeep = 4;
  void give_back(void* p, std::size_t bytes) {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (free_.count(bytes) < kKeep) {
        free_.emplace(bytes, p);
        return;
      }
    }
    std::free(p);
  }
  std::mutex mutex_;
  std::multimap<std::size_t, void*> free_;
};

uint64_t mix(uint64_t a, uint64_t b) {
  SplitMix64 g{a ^ (b * 0xD6E8FEB86659FD93ull)};
  return g.next();
}

}  // namespace

namespace {

Dataset open_raw(const config::DataConfig& cfg, const std::string& split) {
  if (cfg.layout != "cub") {
    throw UsageError(
        fmt::format("data.root '{}' has no manifest.json: layout '{}' is read from packed shards "
                    "(c2am pack {} -o DIR --layout {} --split {}); only 'cub' is read raw",
                    cfg.root, cfg.layout, cfg.root, cfg.layout, split));
  }
  const bool want_train = split == "train";
  Dataset d;
  d.description = fmt::format("{} (raw {} layout, {} split)", cfg.root, cfg.layout, split);
  for (const CubRecord& r : read_cub(cfg.root)) {
    if (r.is_train != want_train) continue;
    Sample s;
    s.name = "images/" + r.rel_path;  // relative to the dataset root, as packed shards name it
    s.path = (std::filesystem::path(cfg.root) / s.name).string();
    s.label = r.label;
    s.boxes = r.boxes;
    d.samples.push_back(std::move(s));
  }
  return d;
}

Dataset open_packed(const std::string& dir, const std::string& split) {
  const Manifest m = read_manifest(dir);
  if (m.split != split) {
    throw UsageError(fmt::format("'{}/{}' holds the '{}' split, but the '{}' split is needed", dir,
                                 kManifestName, m.split, split));
  }
  Dataset d;
  d.description = fmt::format("{} (packed {} {}, {} shards)", dir, m.layout, m.split, m.shards.size());
  const std::string manifest_path = (std::filesystem::path(dir) / kManifestName).string();
  for (const ManifestShard& ms : m.shards) {
    // With the manifest's header, libhdf5 opens only a file whose structure is byte-for-byte as packed.
    auto reader = std::make_shared<const ShardReader>((std::filesystem::path(dir) / ms.file).string(),
                                                      /*oldest_version=*/1, ms.header ? &*ms.header : nullptr);
    // A shard of another split, plan or position (copied or renamed in) is refused, not read.
    const std::vector<std::string> wrong =
        shard_manifest_mismatches(m, d.shards.size(), *reader, manifest_path);
    if (!wrong.empty()) {
      std::string all = wrong.front();
      for (std::size_t i = 1; i < wrong.size(); ++i) all += "; " + wrong[i];
      throw Error(all);
    }
    const int shard = static_cast<int>(d.shards.size());
    for (std::int64_t i = 0; i < reader->size(); ++i) {
      Sample s;
      s.name = reader->name(i);
      s.shard = shard;
      s.index = i;
      s.label = reader->label(i);
      s.boxes = reader->boxes(i);
      d.samples.push_back(std::move(s));
    }
    d.shards.push_back(std::move(reader));
  }
  return d;
}

}  // namespace

Dataset open_split(const config::DataConfig& cfg, const std::string& split) {
  if (cfg.root.empty()) throw UsageError("data.root is empty: pass --data DIR or set data.root");
  namespace fs = std::filesystem;
  Dataset d;
  if (fs::exists(fs::path(cfg.root) / kManifestName)) {
    d = open_packed(cfg.root, split);
  } else if (fs::exists(fs::path(cfg.root) / split / kManifestName)) {
    d = open_packed((fs::path(cfg.root) / split).string(), split);
  } else {
    d = open_raw(cfg, split);
  }
  if (d.samples.empty()) throw UsageError(fmt::format("dataset {} has no images", d.description));
  d.max_pixels = static_cast<std::int64_t>(cfg.max_pixels);
  return d;
}

std::vector<std::uint8_t> Dataset::bytes(const Sample& s) const {
  if (s.shard >= 0) return shards[static_cast<size_t>(s.shard)]->image_bytes(s.index);
  const std::string content = util::read_file(s.path);
  return std::vector<std::uint8_t>(content.begin(), content.end());
}

std::string Dataset::where(const Sample& s) const {
  if (s.shard >= 0)
    return fmt::format("{}[{}] ({})", shards[static_cast<size_t>(s.shard)]->path(), s.index, s.name);
  return s.path;
}

image::Image Dataset::mask(const Sample& s) const {
  const std::vector<std::uint8_t> bytes =
      s.shard >= 0 ? shards[static_cast<size_t>(s.shard)]->mask_bytes(s.index) : std::vector<std::uint8_t>{};
  if (bytes.empty()) {
    throw UsageError(
        fmt::format("{} has no segmentation mask (pack a VOC split: c2am pack --layout voc)", where(s)));
  }
  const image::Image m = image::decode_png(bytes.data(), bytes.size(), where(s) + " mask",
                                           /*expand_palette=*/false, max_pixels);
  if (m.channels != 1) throw Error(fmt::format("{}: the mask is not a 1-channel label map", where(s)));
  return m;
}

std::string sample_stem(const Sample& s) { return std::filesystem::path(s.name).stem().string(); }

MaskSource packed_masks() {
  return [](const Dataset& d, const Sample& s) { return d.mask(s); };
}

MaskSource png_folder_masks(const std::string& dir) {
  return [dir](const Dataset&, const Sample& s) {
    const std::string path = (std::filesystem::path(dir) / (sample_stem(s) + ".png")).string();
    image::Image m = image::read_png(path);
    if (m.channels != 1) throw Error(fmt::format("'{}' is not a 1-channel PNG (expected a label map)", path));
    return m;
  };
}

bool uint8_batches(const config::DataConfig& cfg, bool on_cuda) {
  return cfg.batch_dtype == "uint8" || (cfg.batch_dtype == "auto" && on_cuda);
}

torch::Tensor normalise_batch(const torch::Tensor& images, const std::array<double, 3>& mean,
                              const std::array<double, 3>& std) {
  if (images.scalar_type() != torch::kUInt8) return images;
  image::Normalisation k = image::normalisation(mean, std);
  const auto on_device = torch::TensorOptions(torch::kFloat32).device(images.device());
  const torch::Tensor scale = torch::from_blob(k.scale.data(), {1, 3, 1, 1}, torch::kFloat32).to(on_device);
  const torch::Tensor shift = torch::from_blob(k.shift.data(), {1, 3, 1, 1}, torch::kFloat32).to(on_device);
  return images.to(torch::kFloat32).mul_(scale).sub_(shift);
}

Transform train_transform(const config::DataConfig& cfg) {
  return Transform{cfg.train_resize,
                   cfg.train_crop,
                   true,
                   cfg.flip,
                   cfg.resample == "fast" ? image::Resample::kFast : image::Resample::kPil,
                   cfg.mean,
                   cfg.std};
}

Transform test_transform(const config::DataConfig& cfg) {
  return Transform{cfg.test_resize, cfg.test_crop, false, false, image::Resample::kPil, cfg.mean, cfg.std};
}

int centre_offset(int resize, int crop) { return static_cast<int>(std::lround((resize - crop) / 2.0)); }

CropDraw train_crop_draw(uint64_t seed, int64_t epoch, int64_t sample, const Transform& t) {
  SplitMix64 g{mix(mix(seed, static_cast<uint64_t>(epoch)), static_cast<uint64_t>(sample))};
  CropDraw d;
  d.x = static_cast<int>(g.below(static_cast<uint64_t>(t.resize - t.crop) + 1));
  d.y = static_cast<int>(g.below(static_cast<uint64_t>(t.resize - t.crop) + 1));
  d.flip = t.flip && (g.next() & 1u);
  return d;
}

image::Box box_in_window(const image::Box& box, int orig_w, int orig_h, int resize, const image::Window& w,
                         bool flip, bool clip_to_window) {
  const float sx = static_cast<float>(resize) / static_cast<float>(orig_w);
  const float sy = static_cast<float>(resize) / static_cast<float>(orig_h);
  const auto ox = static_cast<float>(w.x), oy = static_cast<float>(w.y);
  const auto lx = static_cast<float>(w.width), ly = static_cast<float>(w.height);
  auto clip = [clip_to_window](float v, float lim) {
    return clip_to_window ? std::min(std::max(v, 0.0f), lim) : v;
  };
  const image::Box b{clip(box.x0 * sx - ox, lx), clip(box.y0 * sy - oy, ly), clip(box.x1 * sx - ox, lx),
                     clip(box.y1 * sy - oy, ly)};
  return flip ? image::Box{lx - b.x1, b.y0, lx - b.x0, b.y1} : b;
}

image::Box box_to_crop(const image::Box& box, int orig_w, int orig_h, const Transform& t, bool clip_to_crop) {
  const int off = centre_offset(t.resize, t.crop);
  return box_in_window(box, orig_w, orig_h, t.resize, image::Window{off, off, t.crop, t.crop}, /*flip=*/false,
                       clip_to_crop);
}

BoxSource pseudo_boxes(const std::string& path) {
  auto boxes = std::make_shared<const PseudoBoxes>(read_pseudo_boxes(path));
  return [boxes](const Dataset& d, const Sample& s) {
    const auto it = boxes->by_name.find(s.name);
    if (it == boxes->by_name.end()) {
      throw Error(fmt::format("{}: no pseudo box for it in '{}' (run c2am extract-boxes on this split)",
                              d.where(s), boxes->file));
    }
    return SampleBox{it->second.box, it->second.image_size};
  };
}

std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  SplitMix64 g{mix(seed, static_cast<uint64_t>(epoch) + 1)};
  for (int64_t i = n - 1; i > 0; --i) {  // Fisher-Yates
    const auto j = static_cast<int64_t>(g.below(static_cast<uint64_t>(i) + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

Loader::Loader(Dataset dataset, Transform transform, LoaderOptions options)
    : dataset_(std::move(dataset)), transform_(transform), options_(options) {
  if (options_.batch_per_rank <= 0) throw UsageError("loader: batch size per rank must be > 0");
  if (options_.threads <= 0) options_.threads = 1;
  if (options_.targets == TargetKind::kBox) {
    if (!options_.boxes) throw UsageError("loader: box targets need a box source");
    for (const Sample& s : dataset_.samples)
      options_.boxes(dataset_, s);  // every sample has one, before any work
  } else if (options_.targets != TargetKind::kNone && !options_.masks) {
    options_.masks = packed_masks();
  }
}

Loader::~Loader() {
  if (pending_valid_) pending_.wait();
}

int64_t Loader::batches_per_epoch() const {
  const int64_t global = static_cast<int64_t>(options_.batch_per_rank) * options_.world;
  const auto n = static_cast<int64_t>(dataset_.samples.size());
  return options_.drop_last ? n / global : (n + global - 1) / global;
}

void Loader::start_epoch(int64_t epoch, int64_t skip_batches) {
  if (pending_valid_) {
    pending_.wait();
    pending_valid_ = false;
  }
  epoch_ = epoch;
  const auto n = static_cast<int64_t>(dataset_.samples.size());
  if (options_.shuffle) {
    order_ = epoch_permutation(n, options_.seed, epoch);
  } else {
    order_.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order_[static_cast<size_t>(i)] = i;
  }
  next_batch_ = skip_batches;
  prefetch();
}

void Loader::prefetch() {
  if (next_batch_ >= batches_per_epoch()) return;
  pending_ = std::async(std::launch::async, [this, b = next_batch_] { return load(b); });
  pending_valid_ = true;
}

std::optional<Batch> Loader::next() {
  if (!pending_valid_) return std::nullopt;
  pending_valid_ = false;  // get() consumes the future, also when it rethrows the loader's error
  Batch batch = pending_.get();
  skipped_ += static_cast<std::int64_t>(batch.skipped.size());
  ++next_batch_;
  prefetch();
  return batch;
}

Batch Loader::load(int64_t batch_index) const {
  const int64_t global = static_cast<int64_t>(options_.batch_per_rank) * options_.world;
  const int64_t begin = batch_index * global + static_cast<int64_t>(options_.rank) * options_.batch_per_rank;
  const int64_t end = std::min<int64_t>(begin + options_.batch_per_rank, static_cast<int64_t>(order_.size()));
  const int64_t n = std::max<int64_t>(0, end - begin);

  const int crop = transform_.crop;
  Batch batch;
  const torch::ScalarType dtype = options_.uint8 ? torch::kUInt8 : torch::kFloat32;
  // CUDA: pinned memory (its caching host allocator recycles the buffers); else our pool.
  batch.images = torch::cuda::is_available()
                     ? torch::empty({n, 3, crop, crop}, torch::TensorOptions(dtype).pinned_memory(true))
                     : BufferPool::instance().empty({n, 3, crop, crop}, dtype);
  std::vector<char> ok(static_cast<size_t>(n), 1);
  std::vector<std::string> reasons(static_cast<size_t>(n));
  batch.sample_ids.resize(static_cast<size_t>(n));
  batch.original_sizes.resize(static_cast<size_t>(n));
  if (options_.keep_crops) batch.crops.resize(static_cast<size_t>(n));
  const std::size_t image_elems = static_cast<std::size_t>(3) * crop * crop;
  if (options_.targets == TargetKind::kClassPresence) {
    batch.targets = torch::zeros({n, options_.num_classes}, torch::kFloat32);
  } else if (options_.targets == TargetKind::kMask) {
    batch.targets = torch::zeros({n, crop, crop}, torch::kUInt8);
  } else if (options_.targets == TargetKind::kBox) {
    batch.targets = torch::zeros({n, 4}, torch::kFloat32);
  }

  auto work = [&](int64_t i) {
    const int64_t id = order_[static_cast<size_t>(begin + i)];
    const Sample& s = dataset_.samples[static_cast<size_t>(id)];
    // The thread's buffers, reused for every image it transforms (no allocation per image).
    thread_local image::Image decoded;
    thread_local image::Image img;
    std::array<int, 2> stored{};
    try {
      const std::vector<std::uint8_t> bytes = dataset_.bytes(s);
      image::decode_jpeg_into(decoded, bytes.data(), bytes.size(), dataset_.where(s), transform_.resize, &stored,
                              dataset_.max_pixels);
    } catch (const Error& e) {
      if (!options_.skip_bad) throw;
      ok[static_cast<size_t>(i)] = 0;
      reasons[static_cast<size_t>(i)] = e.what();
      return;
    }
    batch.sample_ids[static_cast<size_t>(i)] = id;
    // The stored image's size (boxes are in its pixels), not the DCT-scaled decode's.
    batch.original_sizes[static_cast<size_t>(i)] = stored;
    CropDraw draw;
    if (transform_.train) {
      draw = train_crop_draw(options_.seed, epoch_, id, transform_);
    } else {
      draw.x = draw.y = centre_offset(transform_.resize, crop);
    }
    const int x = draw.x, y = draw.y;
    const bool flip = draw.flip;
    // Resize, crop and flip in one pass over the crop window only (image/resample_window.h).
    image::resize_window_into(decoded, transform_.resize, transform_.resize, image::Window{x, y, crop, crop}, flip,
                              transform_.resample, img);
    if (options_.uint8) {
      image::write_chw_u8(img, batch.images.data_ptr<std::uint8_t>() + static_cast<std::size_t>(i) * image_elems);
    } else {
      image::write_chw_normalised(img, transform_.mean, transform_.std,
                                  batch.images.data_ptr<float>() + static_cast<std::size_t>(i) * image_elems);
    }
    if (options_.targets == TargetKind::kBox) {
      const SampleBox sb = options_.boxes(dataset_, s);
      if (sb.image_size != stored) {
        throw Error(fmt::format("{}: its pseudo box belongs to a {}x{} image but the image is {}x{}",
                                dataset_.where(s), sb.image_size[0], sb.image_size[1], stored[0], stored[1]));
      }
      const image::Box b = box_in_window(sb.box, stored[0], stored[1], transform_.resize,
                                         image::Window{x, y, crop, crop}, flip);
      const auto side = static_cast<float>(crop);
      float* t = batch.targets.data_ptr<float>() + i * 4;
      t[0] = b.x0 / side, t[1] = b.y0 / side, t[2] = (b.x1 - b.x0) / side, t[3] = (b.y1 - b.y0) / side;
    } else if (options_.targets != TargetKind::kNone) {
      image::Image m = options_.masks(dataset_, s);
      if (m.width != stored[0] || m.height != stored[1]) {
        throw Error(fmt::format("{}: its label map is {}x{} but the image is {}x{}", dataset_.where(s),
                                m.width, m.height, stored[0], stored[1]));
      }
      if (options_.targets == TargetKind::kClassPresence) {
        float* t = batch.targets.data_ptr<float>() + i * options_.num_classes;
        for (std::uint8_t v : m.pixels) {
          if (v >= 1 && v <= options_.num_classes) t[v - 1] = 1.0f;
        }
      } else {
        m = image::crop(image::resize_nearest(m, transform_.resize, transform_.resize), x, y, crop, crop);
        if (flip) m = image::hflip(m);
        std::copy(m.pixels.begin(), m.pixels.end(), batch.targets.data_ptr<std::uint8_t>() + i * crop * crop);
      }
    }
    if (options_.keep_crops) batch.crops[static_cast<size_t>(i)] = img;
  };

  util::parallel_for(static_cast<size_t>(n), options_.threads,
                     [&](size_t i) { work(static_cast<int64_t>(i)); });
  if (std::find(ok.begin(), ok.end(), 0) != ok.end()) {  // skip policy: compact the batch
    std::vector<int64_t> keep;
    Batch kept;
    for (int64_t i = 0; i < n; ++i) {
      const auto k = static_cast<size_t>(i);
      if (!ok[k]) {
        kept.skipped.push_back(reasons[k]);
        continue;
      }
      keep.push_back(i);
      kept.sample_ids.push_back(batch.sample_ids[k]);
      kept.original_sizes.push_back(batch.original_sizes[k]);
      if (options_.keep_crops) kept.crops.push_back(std::move(batch.crops[k]));
    }
    kept.images = batch.images.index_select(0, torch::tensor(keep, torch::kLong));
    if (batch.targets.defined())
      kept.targets = batch.targets.index_select(0, torch::tensor(keep, torch::kLong));
    return kept;
  }
  return batch;
}

}  // namespace c2am::data
