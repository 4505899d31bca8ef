// Implements: the differentiable collectives of data-parallel C²AM (method
// doc §4). gather_rows: every rank's rows, with a backward that sums the
// gradient of the gathered tensor over ranks and hands each rank its rows (a
// reduce-scatter), so
// sum_r L_r(own rows, all columns) back-propagates exactly as the loss of the
// global batch on one process. (SyncBatchNorm, where the network meets the
// communicator, is train/sync_batchnorm.h.)
#pragma once
#include <torch/torch.h>

#include <memory>

#include "comm/communicator.h"

namespace c2am::comm {

// All ranks' `local` rows concatenated in rank order (N x ...), differentiable.
torch::Tensor gather_rows(Communicator& comm, const torch::Tensor& local);

}  // namespace c2am::comm
