// Tests of the distributed layer with real MPI processes: run under
// `mpirun -np 2` (ctest label mpi); every rank runs every test. Checks: the
// MPI communicator's collectives; the gathered loss's gradient against finite
// differences; sum over ranks of the row losses = the global loss; bucketed
// gradient sync = plain averaging, launched during backward; SyncBatchNorm =
// BatchNorm over the global batch; a whole C²AM network step on R slices =
// the step on the full batch (float64, 1e-9).
#include <gtest/gtest.h>

#include "comm/autograd_ops.h"
#include "comm/communicator.h"
#include "comm/context.h"
#include "comm/grad_sync.h"
#include "loss/contrastive_loss.h"
#include "model/c2am_net.h"
#include "train/sync_batchnorm.h"

namespace c2am::comm {
namespace {

config::DistConfig test_config() {
  config::DistConfig cfg;
  cfg.timeout_s = 120;
  return cfg;
}

Communicator& comm() {
  static std::unique_ptr<Communicator> c = make_communicator(context(), test_config(), torch::Device(torch::kCPU));
  return *c;
}

int world() { return comm().world(); }
int rank() { return comm().rank(); }

// The same tensor on every rank (a seeded generator, not the global one).
torch::Tensor shared_randn(std::vector<int64_t> shape, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randn(shape, torch::kDouble);
}

double max_rel(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item<double>();
}

TEST(Communicator, AllReduceSumAndMax) {
  torch::Tensor t = torch::full({5}, static_cast<double>(rank() + 1), torch::kDouble);
  comm().allreduce(t, ReduceOp::kSum);
  EXPECT_EQ(t[0].item<double>(), world() * (world() + 1) / 2.0);
  torch::Tensor m = torch::tensor({static_cast<int64_t>(rank())});
  comm().allreduce(m, ReduceOp::kMax);
  EXPECT_EQ(m.item<int64_t>(), world() - 1);
}

TEST(Communicator, AllReduceOfANonContiguousTensorWritesBackIntoIt) {
  torch::Tensor base = torch::ones({4, 6}, torch::kFloat);
  torch::Tensor view = base.t();  // not contiguous: staged and copied back
  comm().allreduce(view, ReduceOp::kSum);
  EXPECT_TRUE(torch::all(base == static_cast<float>(world())).item<bool>());
}

TEST(Communicator, AllGatherConcatenatesUnequalRowsInRankOrder) {
  const int64_t my_rows = rank() + 1;
  torch::Tensor mine = torch::full({my_rows, 3}, static_cast<float>(rank()));
  std::vector<int64_t> rows;
  torch::Tensor all = comm().allgather(mine, &rows);
  ASSERT_EQ(static_cast<int>(rows.size()), world());
  int64_t offset = 0;
  for (int r = 0; r < world(); ++r) {
    EXPECT_EQ(rows[static_cast<size_t>(r)], r + 1);
    EXPECT_TRUE(torch::all(all.narrow(0, offset, r + 1) == static_cast<float>(r)).item<bool>());
    offset += r + 1;
  }
  EXPECT_EQ(all.size(0), offset);
}

TEST(Communicator, ReduceScatterRowsSumsAndHandsEachRankItsRows) {
  std::vector<int64_t> rows;
  for (int r = 0; r < world(); ++r) rows.push_back(r + 1);  // unequal shares
  int64_t total = 0;
  for (int64_t r : rows) total += r;
  // Rank q contributes (q + 1) * [0, 1, 2, ...]: the sum is s * [0, 1, ...], s = world (world + 1) / 2.
  torch::Tensor mine = torch::arange(total * 3, torch::kDouble).reshape({total, 3}) * (rank() + 1);
  const torch::Tensor got = comm().reduce_scatter_rows(mine, rows);
  int64_t offset = 0;
  for (int r = 0; r < rank(); ++r) offset += rows[static_cast<size_t>(r)];
  const double s = world() * (world() + 1) / 2.0;
  const torch::Tensor want = torch::arange(total * 3, torch::kDouble).reshape({total, 3}).narrow(0, offset, rank() + 1) * s;
  EXPECT_TRUE(torch::equal(got, want));
}

TEST(Communicator, BroadcastAndAny) {
  torch::Tensor t = torch::full({3}, static_cast<int64_t>(rank() == 0 ? 42 : -1), torch::kLong);
  comm().broadcast(t, 0);
  EXPECT_TRUE(torch::all(t == 42).item<bool>());
  EXPECT_FALSE(comm().any(false));
  EXPECT_TRUE(comm().any(rank() == world() - 1));
  comm().barrier();
}

// The global loss as every rank sees it: the sum over ranks of the row losses.
double global_loss(const torch::Tensor& f, const torch::Tensor& b) {
  const torch::Tensor all = gather_rows(comm(), torch::cat({f, b}, 1));
  const int64_t c = f.size(1);
  torch::Tensor l = loss::c2am_loss_rows(f, b, all.narrow(1, 0, c), all.narrow(1, c, c), 0.05).total.detach().clone();
  comm().allreduce(l, ReduceOp::kSum);
  return l.item<double>();
}

TEST(GatherRows, GradientOfTheGlobalLossMatchesFiniteDifferences) {
  const int64_t n = 3, c = 5;
  torch::Tensor f_all = shared_randn({world() * n, c}, 7).abs() + 0.1;
  torch::Tensor b_all = shared_randn({world() * n, c}, 8).abs() + 0.1;
  torch::Tensor f = f_all.narrow(0, rank() * n, n).clone().requires_grad_(true);
  torch::Tensor b = b_all.narrow(0, rank() * n, n).clone().requires_grad_(true);
  const torch::Tensor all = gather_rows(comm(), torch::cat({f, b}, 1));
  loss::c2am_loss_rows(f, b, all.narrow(1, 0, c), all.narrow(1, c, c), 0.05).total.backward();
  const torch::Tensor grad_f = f.grad().clone();

  const double h = 1e-6;
  torch::NoGradGuard no_grad;
  for (int owner = 0; owner < world(); ++owner) {
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < c; j += 2) {
        torch::Tensor fp = f.detach().clone(), fm = f.detach().clone();
        if (rank() == owner) {
          fp[i][j] += h;
          fm[i][j] -= h;
        }
        const double numeric = (global_loss(fp, b.detach()) - global_loss(fm, b.detach())) / (2 * h);
        if (rank() == owner) {
          const double analytic = grad_f[i][j].item<double>();
          EXPECT_NEAR(analytic, numeric, 1e-6 + 1e-5 * std::abs(numeric)) << "rank " << owner << " f[" << i << "]["
                                                                           << j << "]";
        }
      }
    }
  }
}

TEST(GatherRows, RowLossesSumToTheFullBatchLossWithTheSameGradients) {
  const int64_t n = 4, c = 6;
  torch::Tensor f_all = shared_randn({world() * n, c}, 11).abs().requires_grad_(true);
  torch::Tensor b_all = shared_randn({world() * n, c}, 12).abs().requires_grad_(true);
  const loss::LossTerms ref = loss::c2am_loss(f_all, b_all, 0.05);
  ref.total.backward();

  torch::Tensor f = f_all.detach().narrow(0, rank() * n, n).clone().requires_grad_(true);
  torch::Tensor b = b_all.detach().narrow(0, rank() * n, n).clone().requires_grad_(true);
  const torch::Tensor all = gather_rows(comm(), torch::cat({f, b}, 1));
  const loss::LossTerms mine = loss::c2am_loss_rows(f, b, all.narrow(1, 0, c), all.narrow(1, c, c), 0.05);
  mine.total.backward();
  torch::Tensor terms = torch::stack({mine.total, mine.pos_bg, mine.neg, mine.pos_fg}).detach().clone();
  comm().allreduce(terms, ReduceOp::kSum);
  EXPECT_NEAR(terms[0].item<double>(), ref.total.item<double>(), 1e-12);
  EXPECT_NEAR(terms[2].item<double>(), ref.neg.item<double>(), 1e-12);
  EXPECT_LT(max_rel(f.grad(), f_all.grad().narrow(0, rank() * n, n)), 1e-12);
  EXPECT_LT(max_rel(b.grad(), b_all.grad().narrow(0, rank() * n, n)), 1e-12);
}

TEST(GradSync, BucketedSyncEqualsPlainAveragingAndOverlapsBackward) {
  // Twelve parameters of different sizes, small buckets: several buckets.
  std::vector<std::pair<std::string, torch::Tensor>> params, plain;
  for (int i = 0; i < 12; ++i) {
    torch::Tensor p = shared_randn({(i % 4 + 1) * 100}, 100 + static_cast<uint64_t>(i)).to(torch::kFloat);
    params.emplace_back("p" + std::to_string(i), p.clone().requires_grad_(true));
    plain.emplace_back("p" + std::to_string(i), p.clone().requires_grad_(true));
  }
  auto rank_loss = [](const std::vector<std::pair<std::string, torch::Tensor>>& ps) {
    torch::Tensor h = torch::zeros({1});
    for (size_t i = 0; i < ps.size(); ++i) {
      // A chain: early parameters' gradients come last, as in a network.
      h = h + (ps[i].second * static_cast<float>(rank() + 1)).sin().sum() * h.detach().tanh() + ps[i].second.sum();
    }
    return h.sum();
  };
  GradSync sync(comm(), params, /*bucket_mb=*/0.002, /*scale=*/1.0 / world());
  ASSERT_GT(sync.num_buckets(), 3);
  sync.begin_step();
  rank_loss(params).backward();
  const int early = sync.launched_during_backward();
  sync.finish();

  rank_loss(plain).backward();
  for (auto& p : plain) {
    torch::Tensor g = p.second.grad().clone();
    comm().allreduce(g, ReduceOp::kSum);
    p.second.mutable_grad() = g / world();
  }
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(torch::allclose(params[i].second.grad(), plain[i].second.grad(), 1e-6, 0)) << params[i].first;
  }
  if (world() > 1) {
    EXPECT_GT(early, 0) << "no bucket was all-reduced before backward ended";
  }
}

// dist.negatives = "local" (the reference's DDP): each rank contrasts within
// its own rows and the synchronised gradient is the mean of the per-rank
// gradients, i.e. of the single-process gradients of each slice.
TEST(LocalNegatives, AveragedGradientEqualsTheMeanOfThePerSliceGradients) {
  const int64_t n = 3, c = 4;
  const torch::Tensor x_all = shared_randn({world() * n, c}, 51).abs();
  const torch::Tensor w0 = shared_randn({c, 2 * c}, 52);
  auto slice_loss = [&](const torch::Tensor& w, int64_t r) {
    const torch::Tensor v = torch::relu(x_all.narrow(0, r * n, n).matmul(w)) + 0.01;
    return loss::c2am_loss(v.narrow(1, 0, c), v.narrow(1, c, c), 0.05).total;
  };
  torch::Tensor mean_grad = torch::zeros_like(w0);
  for (int r = 0; r < world(); ++r) {
    torch::Tensor w = w0.clone().requires_grad_(true);
    slice_loss(w, r).backward();
    mean_grad += w.grad() / world();
  }
  torch::Tensor w = w0.clone().requires_grad_(true);
  GradSync sync(comm(), {{"w", w}}, /*bucket_mb=*/1.0, /*scale=*/1.0 / world());
  sync.begin_step();
  slice_loss(w, rank()).backward();
  sync.finish();
  EXPECT_LT(max_rel(w.grad(), mean_grad), 1e-12);
}

TEST(SyncBatchNorm, EqualsBatchNormOverTheGlobalBatch) {
  const int64_t n = 3;
  torch::Tensor x_all = shared_randn({world() * n, 4, 5, 5}, 21) * 3 + 1;
  torch::Tensor gy_all = shared_randn({world() * n, 4, 5, 5}, 22);
  model::SyncableBatchNorm2d ref(4), syn(4);
  ref->to(torch::kDouble);
  syn->to(torch::kDouble);
  model::set_batchnorm_sync(*syn, train::make_sync_batchnorm(comm()));
  torch::Tensor xr = x_all.clone().requires_grad_(true);
  const torch::Tensor yr = ref->forward(xr);
  (yr * gy_all).sum().backward();
  torch::Tensor xs = x_all.narrow(0, rank() * n, n).clone().requires_grad_(true);
  const torch::Tensor ys = syn->forward(xs);
  (ys * gy_all.narrow(0, rank() * n, n)).sum().backward();
  EXPECT_LT(max_rel(ys.detach(), yr.detach().narrow(0, rank() * n, n)), 1e-10);
  EXPECT_LT(max_rel(xs.grad(), xr.grad().narrow(0, rank() * n, n)), 1e-10);
}

TEST(SyncBatchNorm, RunningStatisticsMatchTheGlobalBatch) {
  const int64_t n = 2;
  torch::Tensor x_all = shared_randn({world() * n, 3, 4, 4}, 31) * 2 - 1;
  model::SyncableBatchNorm2d ref(3), syn(3);
  ref->to(torch::kDouble);
  syn->to(torch::kDouble);
  model::set_batchnorm_sync(*syn, train::make_sync_batchnorm(comm()));
  const torch::Tensor yr = ref->forward(x_all);
  const torch::Tensor ys = syn->forward(x_all.narrow(0, rank() * n, n));
  EXPECT_LT(max_rel(ys, yr.narrow(0, rank() * n, n)), 1e-10);
  EXPECT_LT(max_rel(syn->running_mean, ref->running_mean), 1e-10);
  EXPECT_LT(max_rel(syn->running_var, ref->running_var), 1e-10);
  EXPECT_EQ(syn->num_batches_tracked.item<int64_t>(), 1);
}

// One C²AM training step's gradients: R ranks x n images with gathered
// embeddings, SyncBatchNorm and bucketed sync = 1 process x R*n images.
TEST(Contract, NetworkGradientsOnSlicesEqualTheFullBatch) {
  const int64_t n = 2;
  const torch::Tensor images = shared_randn({world() * n, 3, 64, 64}, 41);
  auto make_net = [] {
    torch::manual_seed(5);
    model::C2amNet net(model::ResNetOptions{"resnet18", {1, 2, 2, 1}});
    net->to(torch::kDouble);
    net->train();
    return net;
  };
  model::C2amNet ref = make_net();
  const model::C2amOutput ro = ref->forward(images);
  const loss::LossTerms rl = loss::c2am_loss(ro.v_f, ro.v_b, 0.05);
  rl.total.backward();

  model::C2amNet net = make_net();
  model::set_batchnorm_sync(*net, train::make_sync_batchnorm(comm()));
  GradSync sync(comm(), net->named_parameters().pairs(), /*bucket_mb=*/1.0);
  const model::C2amOutput out = net->forward(images.narrow(0, rank() * n, n));
  const int64_t c = out.v_f.size(1);
  const torch::Tensor all = gather_rows(comm(), torch::cat({out.v_f, out.v_b}, 1));
  const loss::LossTerms l = loss::c2am_loss_rows(out.v_f, out.v_b, all.narrow(1, 0, c), all.narrow(1, c, c), 0.05);
  sync.begin_step();
  l.total.backward();
  sync.finish();

  torch::Tensor total = l.total.detach().clone();
  comm().allreduce(total, ReduceOp::kSum);
  EXPECT_NEAR(total.item<double>(), rl.total.item<double>(), 1e-12);
  const auto mine = net->named_parameters();
  const auto theirs = ref->named_parameters();
  double worst = 0;
  std::string worst_name;
  for (const auto& p : mine) {
    const torch::Tensor& g_ref = theirs[p.key()].grad();
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    const double r = max_rel(p.value().grad(), g_ref);
    if (r > worst) {
      worst = r;
      worst_name = p.key();
    }
  }
  EXPECT_LT(worst, 1e-9) << "worst parameter: " << worst_name;
  const auto rb = ref->named_buffers();
  for (const auto& b : net->named_buffers()) {
    if (b.value().is_floating_point()) {
      EXPECT_LT(max_rel(b.value(), rb[b.key()]), 1e-10) << b.key();
    }
  }
}

}  // namespace
}  // namespace c2am::comm

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const c2am::comm::Context& ctx = c2am::comm::init();
  if (ctx.rank != 0) {
    // One report: the other ranks print failures only.
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int rc = RUN_ALL_TESTS();
  c2am::comm::finalize();
  return rc;
}
