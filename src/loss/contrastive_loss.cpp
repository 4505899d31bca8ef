#include "loss/contrastive_loss.h"

namespace c2am::loss {

namespace F = torch::nn::functional;

torch::Tensor clamped_cosine(const torch::Tensor& a, const torch::Tensor& b) {
  const auto opts = F::NormalizeFuncOptions().p(2).dim(1);
  const torch::Tensor sim = torch::matmul(F::normalize(a, opts), F::normalize(b, opts).t());
  return torch::clamp(sim, kSimMin, kSimMax);
}

torch::Tensor rank_weights(const torch::Tensor& sim, double alpha) {
  torch::NoGradGuard no_grad;
  const torch::Tensor order = std::get<1>(torch::sort(sim, /*stable=*/true, /*dim=*/1, /*descending=*/true));
  // rank[i, order[i, k]] = k
  const torch::Tensor positions =
      torch::arange(sim.size(1), sim.options().dtype(torch::kLong)).unsqueeze(0).expand_as(order);
  const torch::Tensor rank = torch::empty_like(order).scatter_(1, order, positions);
  return torch::exp(-(rank.to(sim.scalar_type()) - 1.0) * alpha);
}

namespace {

torch::Tensor positive_term(const torch::Tensor& rows, const torch::Tensor& all, double alpha, double pairs) {
  const torch::Tensor sim = clamped_cosine(rows, all);
  return (rank_weights(sim, alpha) * -torch::log(sim)).sum() / pairs;
}

}  // namespace

LossTerms c2am_loss_rows(const torch::Tensor& v_f_rows, const torch::Tensor& v_b_rows,
                         const torch::Tensor& v_f_all, const torch::Tensor& v_b_all, double alpha) {
  const double n_all = static_cast<double>(v_f_all.size(0));
  const double pairs = n_all * n_all;
  LossTerms t;
  t.pos_bg = positive_term(v_b_rows, v_b_all, alpha, pairs);
  t.neg = (-torch::log(1 - clamped_cosine(v_b_rows, v_f_all))).sum() / pairs;
  t.pos_fg = positive_term(v_f_rows, v_f_all, alpha, pairs);
  t.total = t.pos_bg + t.neg + t.pos_fg;
  return t;
}

LossTerms c2am_loss(const torch::Tensor& v_f, const torch::Tensor& v_b, double alpha) {
  return c2am_loss_rows(v_f, v_b, v_f, v_b, alpha);
}

}  // namespace c2am::loss
