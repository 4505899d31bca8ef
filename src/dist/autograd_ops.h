// Implements: the differentiable collectives of data-parallel C²AM (method
// doc §4). gather_rows: every rank's rows, with a backward that sums the
// gradient of the gathered tensor over ranks and hands each rank its rows (a
// reduce-scatter), so
// sum_r L_r(own rows, all columns) back-propagates exactly as the loss of the
// global batch on one process. make_sync_batchnorm: BatchNorm statistics (and
// their gradients) over the global batch.
#pragma once
#include <torch/torch.h>

#include <memory>

#include "dist/communicator.h"
#include "model/batchnorm.h"

namespace c2am::dist {

// All ranks' `local` rows concatenated in rank order (N x ...), differentiable.
torch::Tensor gather_rows(Communicator& comm, const torch::Tensor& local);

std::shared_ptr<model::BatchNormSync> make_sync_batchnorm(Communicator& comm);

}  // namespace c2am::dist
