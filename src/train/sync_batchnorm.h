// Implements: SyncBatchNorm: the network's BatchNorm layers
// (model/batchnorm.h) computing their training-mode statistics, and the
// statistics' gradients, over the global batch of every rank through a
// communicator. Here, in train, because it is where the network meets
// communication: the communication layer knows tensors and communicators only.
#pragma once
#include <torch/torch.h>

#include <memory>

#include "comm/communicator.h"
#include "model/batchnorm.h"

namespace c2am::train {

std::shared_ptr<model::BatchNormSync> make_sync_batchnorm(comm::Communicator& comm);

}  // namespace c2am::train
