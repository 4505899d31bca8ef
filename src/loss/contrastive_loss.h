// Implements: the C²AM contrastive losses of method doc §3, for one process or
// for one rank's rows against the global batch's columns (§4):
//   S(a, b)   = clamp(normalize(a) normalize(b)^T, 5e-4, 0.9995)
//   L_neg     = mean_ij -log(1 - S(v_b, v_f))
//   L_pos(v)  = mean_ij w_ij * -log S(v, v)_ij,  w_ij = exp(-alpha (rank_ij - 1))
//   L         = L_pos(v_b) + L_neg + L_pos(v_f)
// Ranks sort each row in descending order; ties are ranked by column index
// (a stable sort), which the PyTorch fixtures use too.
#pragma once
#include <torch/torch.h>

namespace c2am::loss {

inline constexpr double kSimMin = 0.0005;
inline constexpr double kSimMax = 0.9995;

struct LossTerms {
  torch::Tensor pos_fg;  // L_pos(v_f)
  torch::Tensor pos_bg;  // L_pos(v_b)
  torch::Tensor neg;     // L_neg
  torch::Tensor total;   // pos_bg + neg + pos_fg
};

// Clamped cosine similarity of the rows of a against the rows of b.
torch::Tensor clamped_cosine(const torch::Tensor& a, const torch::Tensor& b);

// Rank weights exp(-alpha (rank - 1)) of each row of sim (no gradient).
torch::Tensor rank_weights(const torch::Tensor& sim, double alpha);

// Single process: all N rows against all N columns.
LossTerms c2am_loss(const torch::Tensor& v_f, const torch::Tensor& v_b, double alpha);

// Distributed form: this rank's rows (n x C) against all columns (N x C).
// Each term is a sum over the rows divided by N*N, so summing it over ranks
// gives the global mean; with rows == columns it equals c2am_loss.
LossTerms c2am_loss_rows(const torch::Tensor& v_f_rows, const torch::Tensor& v_b_rows,
                         const torch::Tensor& v_f_all, const torch::Tensor& v_b_all, double alpha);

}  // namespace c2am::loss
