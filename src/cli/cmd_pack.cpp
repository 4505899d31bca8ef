// Implements: `c2am pack SRC -o OUT --layout L --split S`: pack one split of
// a raw layout into sharded HDF5 files plus manifest.json (docs/pack.md). One
// process runs data_prep::pack; under mpirun or srun the ranks split the
// shards (data_prep::Packer's steps) and agree after each step, so a failed
// rank fails every rank with its error and no rank waits for it forever.
#include <fmt/core.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "data_prep/pack.h"
#include "util/error.h"
#include "util/log.h"

namespace c2am::cli {
namespace {

// How long a rank waits in a collective for its peers to end a step: a rank
// may pack for long after another finished its shards (a resumed run); a
// rank that dies makes the launcher end the job long before this.
constexpr double kStepTimeoutS = 24 * 3600.0;

// Runs `step` on this rank, then tells every rank how every rank did (one
// all-gather of status and error message). A rank whose step failed rethrows
// its own error; the others throw naming the first failed rank and its error.
template <typename Step>
void agreed_step(comm::Communicator& comm, const char* what, Step&& step) {
  int status = kExitOk;
  std::string message;
  std::exception_ptr error;
  try {
    step();
  } catch (const UsageError& e) {
    status = kExitUsage, message = e.what(), error = std::current_exception();
  } catch (const std::exception& e) {
    status = kExitFailure, message = e.what(), error = std::current_exception();
  }
  const torch::Tensor statuses = comm.allgather(torch::tensor({status}, torch::kInt32));
  std::vector<int64_t> lengths;
  const torch::Tensor text =
      torch::from_blob(message.data(), {static_cast<int64_t>(message.size())}, torch::kByte);
  const torch::Tensor messages = comm.allgather(text, &lengths);
  if (error) std::rethrow_exception(error);
  int64_t offset = 0;
  for (int r = 0; r < comm.world(); ++r) {
    const int64_t len = lengths[static_cast<std::size_t>(r)];
    if (statuses[r].item<int>() != kExitOk) {
      const auto* bytes = messages.data_ptr<uint8_t>() + offset;
      const std::string why = fmt::format("pack: rank {} failed to {}: {}", r, what,
                                          std::string(reinterpret_cast<const char*>(bytes), len));
      if (statuses[r].item<int>() == kExitUsage) throw UsageError(why);
      throw Error(why);
    }
    offset += len;
  }
}

void print_summary(const data_prep::PackResult& r, const std::string& split, int world) {
  fmt::print(
      "{}: {} {} images in {} shard(s) ({} written, {} already complete), {:.1f} MB written in "
      "{:.1f} s ({:.1f} MB/s){}, plan {}\n",
      r.out, r.images, split, r.shards, r.shards_written, r.shards_skipped, r.bytes / 1e6, r.seconds,
      r.mb_per_s(), world > 1 ? fmt::format(" by {} ranks", world) : std::string(), r.plan_id);
}

// The job's pack: rank 0 prepares OUT (and holds its lock to the end), every
// rank writes its shards, rank 0 writes the manifest once all shards exist.
int pack_over_ranks(data_prep::PackOptions o, const comm::Context& ctx) {
  const util::Logger log(ctx.rank, ctx.world);
  const auto start = std::chrono::steady_clock::now();
  if (o.threads == 0)  // the node's cores, shared by its ranks
    o.threads =
        std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / std::max(1, ctx.local_world));
  const std::unique_ptr<comm::Communicator> comm = comm::make_mpi_communicator(ctx, kStepTimeoutS);
  std::unique_ptr<data_prep::Packer> packer;
  agreed_step(*comm, "prepare the output folder", [&] {
    packer = std::make_unique<data_prep::Packer>(o, log);
    if (ctx.rank == 0) packer->prepare_output();
  });
  data_prep::PackResult r;
  agreed_step(*comm, "write its shards", [&] { r = packer->write_shards(ctx.rank, ctx.world); });
  agreed_step(*comm, "write the manifest", [&] {
    if (ctx.rank == 0) packer->write_manifest();
  });
  // The job's totals: every rank's shards written and skipped, images and bytes.
  torch::Tensor totals =
      torch::tensor({static_cast<int64_t>(r.shards_written), static_cast<int64_t>(r.shards_skipped),
                     r.images_written, static_cast<int64_t>(r.bytes)},
                    torch::kInt64);
  comm->allreduce(totals);
  r.shards_written = static_cast<int>(totals[0].item<int64_t>());
  r.shards_skipped = static_cast<int>(totals[1].item<int64_t>());
  r.images_written = totals[2].item<int64_t>();
  r.bytes = static_cast<std::uint64_t>(totals[3].item<int64_t>());
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (ctx.rank == 0) print_summary(r, o.split, ctx.world);
  return kExitOk;
}

}  // namespace

void add_pack(CLI::App& app, Action* action) {
  auto* o = new data_prep::PackOptions();
  CLI::App* cmd = app.add_subcommand(
      "pack", "pack one split of a raw dataset layout into sharded HDF5 files + manifest.json (resumable)");
  cmd->add_option("source", o->source, "the layout's root folder (CUB_200_2011/, ILSVRC2012/, VOC2012/, ...)")
      ->required();
  cmd->add_option("-o,--out", o->out, "the packed folder to write (created; rerun to resume)")->required();
  cmd->add_option("--layout", o->layout, "the source layout: cub | imagenet | voc | folder")
      ->required()
      ->check(CLI::IsMember({"cub", "imagenet", "voc", "folder"}));
  cmd->add_option("--split", o->split, "which split: train | val | test")
      ->required()
      ->check(CLI::IsMember({"train", "val", "test"}));
  cmd->add_option("--shard-size", o->shard_size, "images per shard")
      ->capture_default_str()
      ->check(CLI::Range(1, data_prep::kMaxShardSize));
  cmd->add_option("--threads", o->threads,
                  "reader/encoder threads per process (0 = all cores, shared by the ranks of a node; the "
                  "output does not depend on it)")
      ->capture_default_str()
      ->check(CLI::Range(0, data_prep::kMaxThreads));
  cmd->add_option(
         "--max-side", o->reencode_max_side,
         "re-encode images whose longer side exceeds PX down to PX (0 = store the files' bytes untouched)")
      ->capture_default_str()
      ->check(CLI::Range(0, data_prep::kMaxSide));
  cmd->add_option("--quality", o->jpeg_quality, "JPEG quality of re-encoded images")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  cmd->add_flag("--force", o->force,
                "repack from scratch even if OUT holds shards of another source or options");
  cmd->footer(
      "Example: c2am pack data/CUB_200_2011 -o data/cub-packed/train --layout cub --split train --threads 8\n"
      "Over ranks (shard k packed by rank k % R; the same bytes as one process):\n"
      "  mpirun -np 8 c2am pack data/ILSVRC2012 -o data/imagenet-packed/train --layout imagenet --split "
      "train");
  cmd->callback([o, action] {
    *action = [o] {
      const comm::Context& ctx = comm::context();
      if (ctx.world > 1) return pack_over_ranks(*o, ctx);
      const util::Logger log;
      const data_prep::PackResult r = data_prep::pack(*o, log);
      print_summary(r, o->split, 1);
      return 0;
    };
  });
}

}  // namespace c2am::cli
