// Implements: a benchmark of the training loader (decode + resize + random
// crop + flip + normalise + batch assembly) on a packed or raw dataset.
// Usage: c2am_bench_loader --data DIR [--layout cub] [--split train] [--threads N]
//                          [--batch 64] [--epochs 2] [--resize 256] [--crop 224]
//                          [--resample pil|fast] [--uint8]
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>

#include "config/config.h"
#include "data/loader.h"
#include "util/memory.h"

int main(int argc, char** argv) {
  c2am::config::DataConfig dc;
  std::string split = "train";
  int threads = 1, batch = 64, epochs = 2;
  bool uint8 = false;
  CLI::App app{"time the c2am loader"};
  app.add_option("--data", dc.root, "packed folder (or raw CUB layout)")->required();
  app.add_option("--layout", dc.layout)->capture_default_str();
  app.add_option("--split", split)->capture_default_str();
  app.add_option("--threads", threads)->capture_default_str();
  app.add_option("--batch", batch)->capture_default_str();
  app.add_option("--epochs", epochs)->capture_default_str();
  app.add_option("--resize", dc.train_resize)->capture_default_str();
  app.add_option("--crop", dc.train_crop)->capture_default_str();
  app.add_option("--resample", dc.resample, "pil (bit-exact) | fast")->check(CLI::IsMember({"pil", "fast"}))->capture_default_str();
  app.add_flag("--uint8", uint8, "uint8 batches (normalised later, on the device)");
  CLI11_PARSE(app, argc, argv);
  c2am::util::reuse_freed_memory();  // as c2am's main does

  c2am::data::LoaderOptions o;
  o.batch_per_rank = batch;
  o.threads = threads;
  o.uint8 = uint8;
  c2am::data::Loader loader(c2am::data::open_split(dc, split), c2am::data::train_transform(dc), o);
  int64_t images = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int e = 0; e < epochs; ++e) {
    loader.start_epoch(e);
    while (auto b = loader.next()) images += b->images.size(0);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("c2am loader: {} images in {:.2f} s with {} threads: {:.1f} img/s, {:.1f} img/s per thread\n", images, s,
             threads, images / s, images / s / threads);
  fmt::print(R"({{"impl":"c2am","threads":{},"images":{},"seconds":{:.3f},"img_per_s":{:.2f}}})" "\n", threads, images,
             s, images / s);
  return 0;
}
