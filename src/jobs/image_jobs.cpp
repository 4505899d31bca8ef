// Implements: the resumable per-image job (see image_jobs.h).
#include "jobs/image_jobs.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>

#include "image/jpeg.h"
#include "util/error.h"
#include "util/log.h"
#include "util/fs.h"
#include "util/run_signature.h"
#include "util/threads.h"

namespace c2am::jobs {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// The images of chunk `chunk`, decoded on `threads` threads when asked.
std::vector<JobImage> load_chunk(const data::Dataset& ds, const std::vector<std::string>& stems,
                                 std::int64_t chunk, std::int64_t chunk_size, bool decode, int threads) {
  const auto n = static_cast<std::int64_t>(ds.samples.size());
  const std::int64_t begin = chunk * chunk_size, end = std::min(n, begin + chunk_size);
  std::vector<JobImage> images(static_cast<size_t>(end - begin));
  for (std::int64_t i = begin; i < end; ++i) {
    JobImage& im = images[static_cast<size_t>(i - begin)];
    im.index = i;
    im.sample = &ds.samples[static_cast<size_t>(i)];
    if (!stems.empty()) im.stem = stems[static_cast<size_t>(i)];
  }
  if (!decode) return images;
  util::parallel_for(images.size(), threads, [&](size_t i) {
    const std::vector<std::uint8_t> bytes = ds.bytes(*images[i].sample);
    images[i].rgb = image::decode_jpeg(bytes.data(), bytes.size(), ds.where(*images[i].sample),
                                       /*min_side_hint=*/0, /*stored_size=*/nullptr, ds.max_pixels);
  });
  return images;
}

}  // namespace

std::int64_t chunk_count(std::int64_t images, std::int64_t chunk_size) {
  return (images + chunk_size - 1) / chunk_size;
}

std::string parts_dir(const std::string& out_dir) { return out_dir + "/parts"; }

std::string done_marker(const std::string& out_dir, std::int64_t chunk) {
  return chunk_file(out_dir, "chunk", chunk, "done");
}

std::string chunk_file(const std::string& out_dir, const std::string& name, std::int64_t chunk,
                       const std::string& ext) {
  return fmt::format("{}/{}-{:06d}.{}", parts_dir(out_dir), name, chunk, ext);
}

std::vector<std::string> unique_stems(const data::Dataset& ds) {
  std::vector<std::string> stems;
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < ds.samples.size(); ++i) {
    std::string stem = data::sample_stem(ds.samples[i]);
    const auto [it, fresh] = seen.emplace(stem, i);
    if (!fresh) {
      throw UsageError(fmt::format("{} and {} have the same file stem '{}': per-image outputs would collide",
                                   ds.where(ds.samples[it->second]), ds.where(ds.samples[i]), stem));
    }
    stems.push_back(std::move(stem));
  }
  return stems;
}

ImageJobResult run_image_job(const data::Dataset& ds, const ImageJobOptions& o, comm::Communicator& comm,
                             const util::Logger& log,
                             const std::function<void(std::int64_t, std::vector<JobImage>&)>& process) {
  if (o.chunk_size <= 0) throw Error("image job: chunk size must be > 0");
  const auto t0 = Clock::now();
  const std::vector<std::string> stems = o.name_by_stem ? unique_stems(ds) : std::vector<std::string>{};
  if (comm.rank() == 0) util::claim_parts_dir(parts_dir(o.out_dir), o.run_json, o.force);
  comm.barrier();  // the parts folder is settled before any rank reads it

  ImageJobResult r;
  r.total = static_cast<std::int64_t>(ds.samples.size());
  const std::int64_t chunks = chunk_count(r.total, o.chunk_size);
  std::vector<std::int64_t> todo;
  for (std::int64_t c = 0; c < chunks; ++c) {
    if (fs::exists(done_marker(o.out_dir, c))) {
      r.resumed += std::min(o.chunk_size, r.total - c * o.chunk_size);
    } else {
      todo.push_back(c);
    }
  }
  std::vector<std::int64_t> mine;
  for (size_t i = static_cast<size_t>(comm.rank()); i < todo.size(); i += static_cast<size_t>(comm.world())) {
    mine.push_back(todo[i]);
  }
  if (r.resumed > 0)
    log.info("{}: resuming: {} of {} images already done in {}", o.command, r.resumed, r.total, o.out_dir);
  log.info("{}: {} images in {} chunks to do on {} rank{}", o.command, r.total - r.resumed, todo.size(),
           comm.world(), comm.world() == 1 ? "" : "s");

  std::int64_t done_here = 0, mine_images = 0;
  for (std::int64_t c : mine) mine_images += std::min(o.chunk_size, r.total - c * o.chunk_size);
  auto last_report = Clock::now();
  auto fetch = [&](size_t k) {
    return std::async(std::launch::async,
                      [&, k] { return load_chunk(ds, stems, mine[k], o.chunk_size, o.decode, o.threads); });
  };
  std::future<std::vector<JobImage>> next;
  if (!mine.empty()) next = fetch(0);
  for (size_t k = 0; k < mine.size(); ++k) {
    std::vector<JobImage> images = next.get();
    if (k + 1 < mine.size()) next = fetch(k + 1);
    process(mine[k], images);
    util::write_file_atomic(done_marker(o.out_dir, mine[k]), fmt::format("{}\n", images.size()));
    done_here += static_cast<std::int64_t>(images.size());
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    if (std::chrono::duration<double>(Clock::now() - last_report).count() > 2.0 || k + 1 == mine.size()) {
      const double rate = static_cast<double>(done_here) / std::max(dt, 1e-9);
      log.progress(
          fmt::format("{}: {}/{} images on this rank | {:.1f} images/s per rank | ETA {}", o.command,
                      done_here, mine_images, rate,
                      util::format_duration(static_cast<double>(mine_images - done_here) / std::max(rate, 1e-9))));
      last_report = Clock::now();
    }
  }
  log.end_progress();
  torch::Tensor count = torch::tensor({done_here}, torch::kLong);
  comm.allreduce(count, comm::ReduceOp::kSum);  // also waits for every rank
  r.processed = count.item<std::int64_t>();
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return r;
}

}  // namespace c2am::jobs
