// Loss values and gradients against the PyTorch computation of the same
// formulas (tests/fixtures/make_loss_fixtures.py, float64). Tolerance:
// |ours - torch| <= 1e-10 + 1e-9 |torch| per element.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "loss/contrastive_loss.h"
#include "model/weights.h"

namespace {

using c2am::model::TensorDict;

const TensorDict& fixtures() {
  static const TensorDict d = c2am::model::read_tensor_dict(std::string(C2AM_SOURCE_DIR) +
                                                            "/tests/fixtures/data/loss_cases.pt");
  return d;
}

void expect_close(const torch::Tensor& ours, const torch::Tensor& ref, const std::string& what) {
  ASSERT_EQ(ours.sizes(), ref.sizes()) << what;
  const double err = (ours - ref).abs().max().item<double>();
  const double scale = ref.abs().max().item<double>();
  EXPECT_LE(err, 1e-10 + 1e-9 * scale) << what << ": max abs error " << err;
}

TEST(ContrastiveLoss, ValuesAndGradientsMatchPyTorchFixtures) {
  const TensorDict& d = fixtures();
  const int64_t cases = d.at("num_cases").item<int64_t>();
  ASSERT_GE(cases, 3);
  for (int64_t c = 0; c < cases; ++c) {
    const std::string p = "case" + std::to_string(c) + "/";
    const torch::Tensor v_f = d.at(p + "v_f").clone().set_requires_grad(true);
    const torch::Tensor v_b = d.at(p + "v_b").clone().set_requires_grad(true);
    const double alpha = d.at(p + "alpha").item<double>();
    const auto t = c2am::loss::c2am_loss(v_f, v_b, alpha);
    t.total.backward();
    expect_close(t.pos_fg, d.at(p + "loss_pos_fg"), p + "loss_pos_fg");
    expect_close(t.pos_bg, d.at(p + "loss_pos_bg"), p + "loss_pos_bg");
    expect_close(t.neg, d.at(p + "loss_neg"), p + "loss_neg");
    expect_close(t.total, d.at(p + "loss_total"), p + "loss_total");
    expect_close(v_f.grad(), d.at(p + "grad_v_f"), p + "grad_v_f");
    expect_close(v_b.grad(), d.at(p + "grad_v_b"), p + "grad_v_b");
  }
}

TEST(ContrastiveLoss, RankWeightsGiveSelfPairEToTheAlphaAndBreakTiesByColumn) {
  // Row 0: columns 1 and 2 tie; the stable order ranks column 1 first.
  const torch::Tensor sim = torch::tensor({{0.9, 0.5, 0.5}, {0.1, 0.9, 0.3}, {0.2, 0.2, 0.9}}, torch::kFloat64);
  const torch::Tensor w = c2am::loss::rank_weights(sim, 0.5);
  EXPECT_NEAR(w[0][0].item<double>(), std::exp(0.5), 1e-12);
  EXPECT_NEAR(w[0][1].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(w[0][2].item<double>(), std::exp(-0.5), 1e-12);
  EXPECT_NEAR(w[1][0].item<double>(), std::exp(-0.5), 1e-12);
  EXPECT_NEAR(w[2][1].item<double>(), std::exp(-0.5), 1e-12);
}

TEST(ContrastiveLoss, RowBlocksSumToTheFullBatchLoss) {
  // The distributed form: each rank's rows against all columns, summed over ranks.
  torch::manual_seed(3);
  const torch::Tensor v_f = torch::rand({12, 20}, torch::kFloat64);
  const torch::Tensor v_b = torch::rand({12, 20}, torch::kFloat64);
  const auto full = c2am::loss::c2am_loss(v_f, v_b, 0.25);
  torch::Tensor sum = torch::zeros({}, torch::kFloat64);
  for (int r = 0; r < 3; ++r) {
    const auto rows_f = v_f.slice(0, 4 * r, 4 * r + 4);
    const auto rows_b = v_b.slice(0, 4 * r, 4 * r + 4);
    sum = sum + c2am::loss::c2am_loss_rows(rows_f, rows_b, v_f, v_b, 0.25).total;
  }
  EXPECT_NEAR(sum.item<double>(), full.total.item<double>(), 1e-12);
}

}  // namespace
