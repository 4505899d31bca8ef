// Implements: a benchmark of one C²AM training step on CPU (forward in train
// mode, the three losses, backward, the reference SGD step) on random images;
// the same work as bench/pytorch_train_step.py does in PyTorch eager.
// Usage: c2am_bench_train_step [--arch resnet50] [--size 224] [--batch 8]
//                              [--threads 2] [--steps 10] [--warmup 2] [--bn-grad]
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "config/config.h"
#include "loss/contrastive_loss.h"
#include "model/c2am_net.h"
#include "train/optimizer.h"

int main(int argc, char** argv) {
  std::string arch = "resnet50";
  int size = 224, batch = 8, threads = 2, steps = 10, warmup = 2;
  bool bn_grad = false;
  CLI::App app{"time one C²AM training step on CPU"};
  app.add_option("--arch", arch)->capture_default_str();
  app.add_option("--size", size)->capture_default_str();
  app.add_option("--batch", batch)->capture_default_str();
  app.add_option("--threads", threads)->capture_default_str();
  app.add_option("--steps", steps)->capture_default_str();
  app.add_option("--warmup", warmup)->capture_default_str();
  app.add_flag("--bn-grad", bn_grad,
               "also compute BatchNorm affine gradients (the reference computes them, never uses them)");
  CLI11_PARSE(app, argc, argv);

  torch::set_num_threads(threads);
  torch::manual_seed(0);
  c2am::model::C2amNet net(c2am::model::ResNetOptions{arch, {1, 2, 2, 1}});
  for (auto& p : net->named_parameters()) {
    if (!bn_grad && p.value().dim() == 1) p.value().set_requires_grad(false);  // BN affine frozen, as in training
  }
  net->train();
  c2am::config::TrainConfig tc;  // reference optimiser: lr 1e-4, wd 1e-4, momentum 1e-4, head x10
  c2am::train::Sgd sgd(*net, tc);
  const torch::Tensor images = torch::randn({batch, 3, size, size});

  std::vector<double> ms;
  for (int i = 0; i < warmup + steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto out = net->forward(images);
    const auto loss = c2am::loss::c2am_loss(out.v_f, out.v_b, 0.05);
    sgd.zero_grad();
    loss.total.backward();
    sgd.step(i, 1000);
    const double dt = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (i >= warmup) ms.push_back(dt);
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  fmt::print("c2am train step: {} {}px batch {} threads {}: median {:.1f} ms (min {:.1f}, max {:.1f}), {:.2f} img/s\n",
             arch, size, batch, threads, median, ms.front(), ms.back(), batch * 1000.0 / median);
  fmt::print(R"({{"impl":"c2am","arch":"{}","size":{},"batch":{},"threads":{},"median_ms":{:.2f},"img_per_s":{:.3f}}})"
             "\n",
             arch, size, batch, threads, median, batch * 1000.0 / median);
  return 0;
}
