#include "comm/autograd_ops.h"

#include <fmt/core.h>

namespace c2am::comm {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

Communicator* comm_of(AutogradContext* ctx) {
  return reinterpret_cast<Communicator*>(ctx->saved_data["comm"].toInt());
}

void keep_comm(AutogradContext* ctx, Communicator* comm) {
  ctx->saved_data["comm"] = static_cast<int64_t>(reinterpret_cast<intptr_t>(comm));
}

struct GatherRows : public torch::autograd::Function<GatherRows> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& local, Communicator* comm) {
    std::vector<int64_t> rows;
    torch::Tensor all = comm->allgather(local, &rows);
    keep_comm(ctx, comm);
    ctx->saved_data["rows"] = c10::List<int64_t>(rows);
    return all;
  }

  // Sum over ranks of the gathered tensor's gradient, this rank's rows only.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const std::vector<int64_t> rows = ctx->saved_data["rows"].toIntVector();
    return {comm_of(ctx)->reduce_scatter_rows(grads[0].contiguous(), rows), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor gather_rows(Communicator& comm, const torch::Tensor& local) {
  if (comm.world() == 1) return local;
  return GatherRows::apply(local, &comm);
}

}  // namespace c2am::comm
