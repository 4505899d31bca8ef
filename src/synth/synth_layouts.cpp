// Implements: the synthetic dataset plan (which image, where, which classes)
// and the writers of each raw layout's files: CUB_200_2011 text files,
// ILSVRC2012 val XML + LOC csv files, VOC2012 masks, XML and ImageSets.
#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "image/jpeg.h"
#include "image/png.h"
#include "synth/synth.h"
#include "util/error.h"
#include "util/fs.h"

namespace c2am::synth {
namespace {

namespace fs = std::filesystem;

const char* const kVocClasses[20] = {"aeroplane",   "bicycle", "bird",  "boat",      "bottle",
                                     "bus",         "car",     "cat",   "chair",     "cow",
                                     "diningtable", "dog",     "horse", "motorbike", "person",
                                     "pottedplant", "sheep",   "sofa",  "train",     "tvmonitor"};

enum class Layout { kCub = 1, kImagenet = 2, kVoc = 3 };

Layout layout_of(const std::string& name) {
  if (name == "cub") return Layout::kCub;
  if (name == "imagenet") return Layout::kImagenet;
  if (name == "voc") return Layout::kVoc;
  throw UsageError(fmt::format("synth: unknown layout '{}' (expected cub, imagenet or voc)", name));
}

std::string wnid(int cls) { return fmt::format("n{:08d}", cls + 1); }

template <typename T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) {
    const auto j = static_cast<size_t>(rng.uniform_int(0, static_cast<int>(i) - 1));
    const T tmp = v[i - 1];
    v[i - 1] = v[j];
    v[j] = tmp;
  }
}

void write_plain(const std::string& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw_errno("cannot create", path);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) throw_errno("cannot write", path);
}

void prepare_out_dir(const std::string& out_dir) {
  std::error_code ec;
  const fs::path p(out_dir);
  if (fs::exists(p, ec)) {
    if (!fs::is_directory(p, ec))
      throw UsageError(fmt::format("synth: output '{}' exists and is not a folder", out_dir));
    if (!fs::is_empty(p, ec))
      throw UsageError(
          fmt::format("synth: output folder '{}' is not empty; name a new or empty folder", out_dir));
  }
  util::make_dirs(out_dir);
}

std::string join(const std::string& root, const std::string& rel) { return (fs::path(root) / rel).string(); }

// What the painter produced for one image, kept for the metadata files.
struct Painted {
  int width = 0, height = 0;
  std::vector<image::Box> boxes;
  std::vector<int> classes;
};

// VOC ground truth: class per pixel; with `band`, 255 on the pixels that have
// another object (or background) within 1 px outside / `inner` px inside.
image::Image voc_labels(const Scene& scene, bool band, int inner) {
  const image::Image& obj = scene.objects;
  image::Image labels(obj.width, obj.height, 1);
  for (size_t i = 0; i < obj.pixels.size(); ++i)
    labels.pixels[i] =
        obj.pixels[i] == 0 ? 0 : static_cast<std::uint8_t>(scene.classes[obj.pixels[i] - 1] + 1);
  if (!band) return labels;
  for (int y = 0; y < obj.height; ++y)
    for (int x = 0; x < obj.width; ++x) {
      const std::uint8_t self = *obj.at(x, y);
      const int r = self == 0 ? 1 : inner;
      bool edge = false;
      for (int yy = std::max(0, y - r); yy <= std::min(obj.height - 1, y + r) && !edge; ++yy)
        for (int xx = std::max(0, x - r); xx <= std::min(obj.width - 1, x + r) && !edge; ++xx)
          edge = *obj.at(xx, yy) != self;
      if (edge) *labels.at(x, y) = 255;
    }
  return labels;
}

std::string voc_xml(const PlannedImage& img, const Painted& p) {
  std::string s = fmt::format(
      "<annotation>\n\t<folder>VOC2012</folder>\n\t<filename>{}.jpg</filename>\n"
      "\t<source>\n\t\t<database>c2am synthetic</database>\n\t</source>\n"
      "\t<size>\n\t\t<width>{}</width>\n\t\t<height>{}</height>\n\t\t<depth>3</depth>\n\t</size>\n"
      "\t<segmented>1</segmented>\n",
      img.stem, p.width, p.height);
  for (size_t k = 0; k < p.boxes.size(); ++k) {
    const image::Box& b = p.boxes[k];  // VOC boxes are 1-based and inclusive
    s += fmt::format(
        "\t<object>\n\t\t<name>{}</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n"
        "\t\t<difficult>0</difficult>\n\t\t<bndbox>\n\t\t\t<xmin>{}</xmin>\n\t\t\t<ymin>{}</ymin>\n"
        "\t\t\t<xmax>{}</xmax>\n\t\t\t<ymax>{}</ymax>\n\t\t</bndbox>\n\t</object>\n",
        kVocClasses[p.classes[k]], static_cast<int>(b.x0) + 1, static_cast<int>(b.y0) + 1,
        static_cast<int>(b.x1), static_cast<int>(b.y1));
  }
  return s + "</annotation>\n";
}

std::string imagenet_xml(const PlannedImage& img, const Painted& p) {
  std::string s = fmt::format(
      "<annotation>\n\t<folder>val</folder>\n\t<filename>{}</filename>\n"
      "\t<source>\n\t\t<database>ILSVRC_2012</database>\n\t</source>\n"
      "\t<size>\n\t\t<width>{}</width>\n\t\t<height>{}</height>\n\t\t<depth>3</depth>\n\t</size>\n"
      "\t<segmented>0</segmented>\n",
      img.stem, p.width, p.height);
  for (size_t k = 0; k < p.boxes.size(); ++k) {
    const image::Box& b = p.boxes[k];
    s += fmt::format(
        "\t<object>\n\t\t<name>{}</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n"
        "\t\t<difficult>0</difficult>\n\t\t<bndbox>\n\t\t\t<xmin>{}</xmin>\n\t\t\t<ymin>{}</ymin>\n"
        "\t\t\t<xmax>{}</xmax>\n\t\t\t<ymax>{}</ymax>\n\t\t</bndbox>\n\t</object>\n",
        wnid(p.classes[k]), static_cast<int>(b.x0), static_cast<int>(b.y0), static_cast<int>(b.x1),
        static_cast<int>(b.y1));
  }
  return s + "</annotation>\n";
}

// "wnid x0 y0 x1 y1 " per box, with the trailing space the real files have.
std::string loc_prediction(const Painted& p) {
  std::string s;
  for (size_t k = 0; k < p.boxes.size(); ++k) {
    const image::Box& b = p.boxes[k];
    s += fmt::format("{} {} {} {} {} ", wnid(p.classes[k]), static_cast<int>(b.x0), static_cast<int>(b.y0),
                     static_cast<int>(b.x1), static_cast<int>(b.y1));
  }
  return s;
}

size_t voc_train_list_size(int num_train) { return static_cast<size_t>((num_train + 1) / 2); }

// Paints and writes the image (and VOC masks) of plan entry `i`.
Painted paint_one(const SynthOptions& o, Layout layout, const std::string& root, const PlannedImage& img,
                  bool with_voc_class_mask) {
  const Scene scene = draw_scene(img.spec, img.seed);
  const auto jpeg = image::encode_jpeg(scene.image, o.quality);
  write_plain(join(root, img.rel_path), jpeg.data(), jpeg.size());
  if (layout == Layout::kVoc) {
    const std::string aug = image::encode_png(voc_labels(scene, /*band=*/false, 0), img.stem);
    write_plain(join(root, "SegmentationClassAug/" + img.stem + ".png"), aug.data(), aug.size());
    if (with_voc_class_mask) {
      const int inner = Rng(mix_seed(img.seed, 7)).uniform_int(1, 2);
      const std::string cls =
          image::encode_png_palette(voc_labels(scene, /*band=*/true, inner), image::voc_palette(), img.stem);
      write_plain(join(root, "SegmentationClass/" + img.stem + ".png"), cls.data(), cls.size());
    }
  }
  return Painted{scene.image.width, scene.image.height, scene.boxes, scene.classes};
}

std::string lines(const std::vector<std::string>& rows) {
  std::string s;
  for (const auto& r : rows) s += r + "\n";
  return s;
}

}  // namespace

void validate(const SynthOptions& o) {
  const Layout layout = layout_of(o.layout);
  auto bad = [](const std::string& what) { throw UsageError("synth: " + what); };
  if (o.num_train < 0 || o.num_test < 0 || o.num_train + o.num_test < 1)
    bad(fmt::format("num_train ({}) and num_test ({}) must be >= 0 with at least one image", o.num_train,
                    o.num_test));
  if (o.num_classes < 1) bad(fmt::format("num_classes must be >= 1, got {}", o.num_classes));
  if (layout == Layout::kVoc && o.num_classes > 20)
    bad(fmt::format("voc has 20 classes, asked for {}", o.num_classes));
  if (layout == Layout::kCub && o.num_classes > 999)
    bad(fmt::format("cub allows at most 999 classes, asked for {}", o.num_classes));
  if (o.min_size < 32 || o.max_size < o.min_size || o.max_size > 4096)
    bad(fmt::format("image sizes need 32 <= min_size <= max_size <= 4096, got {}..{}", o.min_size,
                    o.max_size));
  if (o.quality < 1 || o.quality > 100) bad(fmt::format("quality must be in [1, 100], got {}", o.quality));
  if (o.threads < 0) bad(fmt::format("threads must be >= 0 (0 = all cores), got {}", o.threads));
}

std::vector<std::string> class_names(const SynthOptions& o) {
  const Layout layout = layout_of(o.layout);
  std::vector<std::string> names;
  for (int c = 0; c < o.num_classes; ++c)
    names.push_back(layout == Layout::kVoc ? std::string(kVocClasses[c])
                                           : fmt::format("{}_{}", texture_name(c), c + 1));
  return names;
}

std::vector<PlannedImage> plan(const SynthOptions& o) {
  validate(o);
  const Layout layout = layout_of(o.layout);
  const auto tag = static_cast<std::uint64_t>(layout) << 40;
  const int total = o.num_train + o.num_test, k = o.num_classes;
  const auto names = class_names(o);
  Rng plan_rng(mix_seed(o.seed, tag));
  std::vector<PlannedImage> out;
  auto add = [&](const std::string& rel, const std::string& stem, bool is_train, std::vector<int> classes) {
    const int id = static_cast<int>(out.size()) + 1;
    Rng rng(mix_seed(o.seed, tag + static_cast<std::uint64_t>(id)));
    PlannedImage img;
    img.id = id;
    img.rel_path = rel;
    img.stem = stem;
    img.is_train = is_train;
    img.spec.width = rng.uniform_int(o.min_size, o.max_size);
    img.spec.height = rng.uniform_int(o.min_size, o.max_size);
    if (classes.empty()) {  // VOC: 1-3 objects of 1-2 classes
      const double u = rng.uniform();
      const int n = u < 0.5 ? 1 : (u < 0.8 ? 2 : 3);
      const int first = rng.uniform_int(0, k - 1);
      int second = first;
      if (n > 1 && k > 1 && rng.chance(0.5)) second = (first + rng.uniform_int(1, k - 1)) % k;
      for (int i = 0; i < n; ++i)
        classes.push_back(i == 0 ? first : (i == 1 ? second : (rng.chance(0.5) ? first : second)));
      img.spec.min_frac = n == 3 ? 0.2f : 0.25f;
      img.spec.max_frac = n == 1 ? 0.65f : (n == 2 ? 0.5f : 0.42f);
    }
    img.spec.classes = std::move(classes);
    img.seed = rng.next();
    out.push_back(std::move(img));
  };
  if (layout == Layout::kCub) {  // ids grouped by class, train/test mixed within a class
    std::vector<std::vector<bool>> split(k);
    for (int i = 0; i < o.num_train; ++i) split[i % k].push_back(true);
    for (int i = 0; i < o.num_test; ++i) split[i % k].push_back(false);
    for (int c = 0; c < k; ++c) {
      shuffle(split[c], plan_rng);
      for (size_t j = 0; j < split[c].size(); ++j) {
        const std::string stem = fmt::format("{}_{:04d}", names[c], j + 1);
        add(fmt::format("images/{:03d}.{}/{}.jpg", c + 1, names[c], stem), stem, split[c][j], {c});
      }
    }
  } else if (layout == Layout::kImagenet) {
    std::vector<int> count(k, 0);
    for (int i = 0; i < o.num_train; ++i) {
      const int c = i % k;
      const std::string stem = fmt::format("{}_{}", wnid(c), ++count[c]);
      add(fmt::format("train/{}/{}.JPEG", wnid(c), stem), stem, true, {c});
    }
    std::vector<int> val_class(o.num_test);
    for (int i = 0; i < o.num_test; ++i) val_class[i] = i % k;
    shuffle(val_class, plan_rng);
    for (int i = 0; i < o.num_test; ++i) {
      const std::string stem = fmt::format("ILSVRC2012_val_{:08d}", i + 1);
      add("val/" + stem + ".JPEG", stem, false, {val_class[i]});
    }
  } else {
    std::vector<bool> is_train(total, false);
    std::fill(is_train.begin(), is_train.begin() + o.num_train, true);
    shuffle(is_train, plan_rng);
    for (int i = 0; i < total; ++i) {
      const std::string stem = fmt::format("2007_{:06d}", i + 1);
      add("JPEGImages/" + stem + ".jpg", stem, is_train[i], {});
    }
  }
  return out;
}

SynthSummary generate(const SynthOptions& o, const std::string& out_dir) {
  const Layout layout = layout_of(o.layout);
  const std::vector<PlannedImage> images = plan(o);
  const std::vector<std::string> names = class_names(o);
  prepare_out_dir(out_dir);
  const size_t n = images.size();

  // Folders first: the workers only write files.
  std::set<std::string> dirs;
  for (const auto& img : images) dirs.insert(fs::path(join(out_dir, img.rel_path)).parent_path().string());
  if (layout == Layout::kVoc)
    for (const char* d :
         {"SegmentationClass", "SegmentationClassAug", "Annotations", "ImageSets/Segmentation"})
      dirs.insert(join(out_dir, d));
  if (layout == Layout::kImagenet) dirs.insert(join(out_dir, "val_boxes/val"));
  for (const auto& d : dirs) util::make_dirs(d);

  // VOC: like the real set, train.txt is a subset of train_aug.txt; only
  // train.txt and val.txt images get SegmentationClass masks.
  std::vector<bool> in_train_list(n, false);
  if (layout == Layout::kVoc) {
    size_t listed = 0;
    for (size_t i = 0; i < n && listed < voc_train_list_size(o.num_train); ++i)
      if (images[i].is_train) in_train_list[i] = true, ++listed;
  }

  std::vector<Painted> painted(n);
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const size_t threads = std::min<size_t>(n, o.threads == 0 ? hw : static_cast<size_t>(o.threads));
  std::atomic<size_t> next{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  auto work = [&] {
    for (size_t i = next++; i < n; i = next++) {
      try {
        painted[i] = paint_one(o, layout, out_dir, images[i], in_train_list[i] || !images[i].is_train);
      } catch (...) {
        const std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next = n;
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);

  SynthSummary summary;
  summary.layout = o.layout;
  summary.root = out_dir;
  summary.num_train = o.num_train;
  summary.num_test = o.num_test;
  summary.num_classes = o.num_classes;
  for (const auto& p : painted) summary.num_objects += static_cast<int>(p.boxes.size());
  auto write_text = [&](const std::string& rel, const std::vector<std::string>& rows) {
    util::write_file_atomic(join(out_dir, rel), lines(rows));
  };

  if (layout == Layout::kCub) {
    std::vector<std::string> list, boxes, split, labels, classes;
    for (size_t i = 0; i < n; ++i) {
      const auto& img = images[i];
      const image::Box& b = painted[i].boxes.front();
      list.push_back(fmt::format("{} {}", img.id, img.rel_path.substr(std::string("images/").size())));
      boxes.push_back(
          fmt::format("{} {:.1f} {:.1f} {:.1f} {:.1f}", img.id, b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0));
      split.push_back(fmt::format("{} {}", img.id, img.is_train ? 1 : 0));
      labels.push_back(fmt::format("{} {}", img.id, img.spec.classes.front() + 1));
    }
    for (int c = 0; c < o.num_classes; ++c)
      classes.push_back(fmt::format("{} {:03d}.{}", c + 1, c + 1, names[c]));
    write_text("images.txt", list);
    write_text("bounding_boxes.txt", boxes);
    write_text("train_test_split.txt", split);
    write_text("image_class_labels.txt", labels);
    write_text("classes.txt", classes);
  } else if (layout == Layout::kImagenet) {
    std::vector<std::string> mapping, val = {"ImageId,PredictionString"},
                                      train = {"ImageId,PredictionString"};
    for (int c = 0; c < o.num_classes; ++c) mapping.push_back(fmt::format("{} {}", wnid(c), names[c]));
    for (size_t i = 0; i < n; ++i) {
      const auto& img = images[i];
      (img.is_train ? train : val).push_back(img.stem + "," + loc_prediction(painted[i]));
      if (!img.is_train) {
        const std::string xml = imagenet_xml(img, painted[i]);
        write_plain(join(out_dir, "val_boxes/val/" + img.stem + ".xml"), xml.data(), xml.size());
      }
    }
    write_text("LOC_synset_mapping.txt", mapping);
    write_text("LOC_val_solution.csv", val);
    write_text("LOC_train_solution.csv", train);
  } else {
    std::vector<std::string> train, val, trainval, train_aug;
    for (size_t i = 0; i < n; ++i) {
      const auto& img = images[i];
      const std::string xml = voc_xml(img, painted[i]);
      write_plain(join(out_dir, "Annotations/" + img.stem + ".xml"), xml.data(), xml.size());
      if (img.is_train) train_aug.push_back(img.stem);
      if (in_train_list[i]) train.push_back(img.stem);
      if (!img.is_train) val.push_back(img.stem);
      if (in_train_list[i] || !img.is_train) trainval.push_back(img.stem);
    }
    write_text("ImageSets/Segmentation/train.txt", train);
    write_text("ImageSets/Segmentation/val.txt", val);
    write_text("ImageSets/Segmentation/trainval.txt", trainval);
    write_text("ImageSets/Segmentation/train_aug.txt", train_aug);
  }
  return summary;
}

}  // namespace c2am::synth
