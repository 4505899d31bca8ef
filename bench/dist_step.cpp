// Implements: a benchmark of the data-parallel C²AM step on CPU ranks. Each
// rank runs forward on its local batch of random images, the all-gather of
// [v_f | v_b], its row losses, backward with bucketed gradient sync, and the
// reference SGD step; it times the step and the parts where a rank waits for
// communication (the gather in forward, the gradient sync left after
// backward). Run it with 1 rank and with `mpirun -np 2` at the same local
// batch: the difference in step time is the cost of going distributed.
// Usage: [mpirun -np R] c2am_bench_dist_step [--arch resnet50] [--size 224]
//        [--batch-per-rank 8] [--threads 1] [--steps 5] [--warmup 2] [--bucket-mb 25]
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "config/config.h"
#include "comm/autograd_ops.h"
#include "comm/communicator.h"
#include "comm/context.h"
#include "comm/grad_sync.h"
#include "loss/contrastive_loss.h"
#include "model/c2am_net.h"
#include "train/optimizer.h"

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string arch = "resnet50";
  int size = 224, batch = 8, threads = 1, steps = 5, warmup = 2;
  double bucket_mb = 25;
  CLI::App app{"time the data-parallel C²AM training step on CPU ranks"};
  app.add_option("--arch", arch)->capture_default_str();
  app.add_option("--size", size)->capture_default_str();
  app.add_option("--batch-per-rank", batch)->capture_default_str();
  app.add_option("--threads", threads, "intra-op threads per rank")->capture_default_str();
  app.add_option("--steps", steps)->capture_default_str();
  app.add_option("--warmup", warmup)->capture_default_str();
  app.add_option("--bucket-mb", bucket_mb)->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const c2am::comm::Context& ctx = c2am::comm::init();
  c2am::config::DistConfig dc;
  dc.bucket_mb = bucket_mb;
  auto comm = c2am::comm::make_communicator(ctx, dc, torch::Device(torch::kCPU));
  const int world = comm->world();
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  c2am::model::C2amNet net(c2am::model::ResNetOptions{arch, {1, 2, 2, 1}});
  for (auto& p : net->named_parameters()) {
    if (p.value().dim() == 1) p.value().set_requires_grad(false);  // BN affine frozen, as in training
  }
  net->train();
  c2am::config::TrainConfig tc;
  c2am::train::Sgd sgd(*net, tc);
  std::unique_ptr<c2am::comm::GradSync> sync;
  if (world > 1) sync = std::make_unique<c2am::comm::GradSync>(*comm, net->named_parameters().pairs(), bucket_mb);
  torch::manual_seed(1 + static_cast<uint64_t>(ctx.rank));
  const torch::Tensor images = torch::randn({batch, 3, size, size});

  std::vector<double> step_ms, gather_ms, wait_ms;
  for (int i = 0; i < warmup + steps; ++i) {
    comm->barrier();
    const auto t0 = Clock::now();
    const auto out = net->forward(images);
    c2am::loss::LossTerms loss;
    double gather = 0;
    if (world == 1) {
      loss = c2am::loss::c2am_loss(out.v_f, out.v_b, 0.05);
    } else {
      const auto tg = Clock::now();
      const int64_t c = out.v_f.size(1);
      const torch::Tensor all = c2am::comm::gather_rows(*comm, torch::cat({out.v_f, out.v_b}, 1));
      gather = ms_since(tg);
      loss = c2am::loss::c2am_loss_rows(out.v_f, out.v_b, all.narrow(1, 0, c), all.narrow(1, c, c), 0.05);
    }
    sgd.zero_grad();
    if (sync) sync->begin_step();
    loss.total.backward();
    double wait = 0;
    if (sync) {
      const auto tw = Clock::now();
      sync->finish();
      wait = ms_since(tw);
    }
    sgd.step(i, 1000);
    const double dt = ms_since(t0);
    if (i >= warmup) {
      step_ms.push_back(dt);
      gather_ms.push_back(gather);
      wait_ms.push_back(wait);
    }
  }
  if (ctx.rank == 0) {
    const double m = median(step_ms);
    fmt::print("c2am dist step: {} {}px, {} rank(s) x batch {} ({} thread(s) each): median step {:.1f} ms "
               "(min {:.1f}, max {:.1f}); exposed communication: gather {:.1f} ms + gradient sync wait {:.1f} ms; "
               "{} buckets; {:.2f} img/s in all\n",
               arch, size, world, batch, threads, m, *std::min_element(step_ms.begin(), step_ms.end()),
               *std::max_element(step_ms.begin(), step_ms.end()), median(gather_ms), median(wait_ms),
               sync ? sync->num_buckets() : 0, world * batch * 1000.0 / m);
    fmt::print(
        R"({{"bench":"dist_step","arch":"{}","size":{},"world":{},"batch_per_rank":{},"threads":{},"median_ms":{:.2f},"gather_ms":{:.2f},"sync_wait_ms":{:.2f},"img_per_s":{:.3f}}})"
        "\n",
        arch, size, world, batch, threads, m, median(gather_ms), median(wait_ms), world * batch * 1000.0 / m);
  }
  sync.reset();
  comm.reset();
  return c2am::comm::end_process(0, nullptr);
}
