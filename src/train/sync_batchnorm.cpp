#include "train/sync_batchnorm.h"

namespace c2am::train {

namespace {

using comm::Communicator;
using comm::ReduceOp;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// y = (x - mean) * invstd * w + b with mean and var over the global batch.
struct SyncBatchNormFn : public torch::autograd::Function<SyncBatchNormFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, Communicator* comm, double eps,
                               torch::Tensor* batch_mean, torch::Tensor* batch_var, int64_t* count_out) {
    const std::vector<int64_t> dims = {0, 2, 3};
    const int64_t channels = x.size(1);
    const double local_count = static_cast<double>(x.numel() / std::max<int64_t>(channels, 1));
    torch::Tensor stats =
        torch::cat({x.sum(dims, false, torch::kDouble), (x * x).sum(dims, false, torch::kDouble),
                    torch::full({1}, local_count, torch::dtype(torch::kDouble).device(x.device()))});
    comm->allreduce(stats, ReduceOp::kSum);
    const double count = stats[2 * channels].item<double>();
    torch::Tensor mean = stats.narrow(0, 0, channels) / count;
    torch::Tensor var = (stats.narrow(0, channels, channels) / count - mean * mean).clamp_min(0.0);
    torch::Tensor invstd = (var + eps).rsqrt();
    const auto shape = std::vector<int64_t>{1, channels, 1, 1};
    torch::Tensor mean_x = mean.to(x.scalar_type()).view(shape);
    torch::Tensor invstd_x = invstd.to(x.scalar_type()).view(shape);
    torch::Tensor y = (x - mean_x) * invstd_x * weight.view(shape) + bias.view(shape);
    ctx->save_for_backward({x, weight, mean_x, invstd_x});
    ctx->saved_data["comm"] = static_cast<int64_t>(reinterpret_cast<intptr_t>(comm));
    ctx->saved_data["count"] = count;
    *batch_mean = mean;
    *batch_var = var;
    *count_out = static_cast<int64_t>(count);
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& weight = saved[1];
    const torch::Tensor& mean = saved[2];
    const torch::Tensor& invstd = saved[3];
    const double count = ctx->saved_data["count"].toDouble();
    const torch::Tensor g = grads[0];
    const std::vector<int64_t> dims = {0, 2, 3};
    const int64_t channels = x.size(1);
    const auto shape = std::vector<int64_t>{1, channels, 1, 1};
    torch::Tensor xmu = x - mean;
    torch::Tensor local =
        torch::cat({g.sum(dims, false, torch::kDouble), (g * xmu).sum(dims, false, torch::kDouble)});
    torch::Tensor global = local.clone();
    reinterpret_cast<Communicator*>(ctx->saved_data["comm"].toInt())->allreduce(global, ReduceOp::kSum);
    torch::Tensor sum_dy = global.narrow(0, 0, channels).to(x.scalar_type()).view(shape);
    torch::Tensor sum_dy_xmu = global.narrow(0, channels, channels).to(x.scalar_type()).view(shape);
    torch::Tensor grad_x =
        (g - sum_dy / count - xmu * invstd * invstd * sum_dy_xmu / count) * invstd * weight.view(shape);
    // This rank's share of dL/dw and dL/db; the gradient sync sums the shares.
    torch::Tensor grad_w =
        (local.narrow(0, channels, channels).to(x.scalar_type()) * invstd.view({channels}));
    torch::Tensor grad_b = local.narrow(0, 0, channels).to(x.scalar_type());
    return {grad_x,          grad_w,          grad_b,          torch::Tensor(),
            torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

class SyncBatchNorm : public model::BatchNormSync {
 public:
  explicit SyncBatchNorm(Communicator& comm) : comm_(comm) {}

  torch::Tensor forward(model::SyncableBatchNorm2dImpl& bn, const torch::Tensor& x) override {
    TORCH_CHECK(x.dim() == 4, "SyncBatchNorm expects N x C x H x W input");
    torch::Tensor mean, var;
    int64_t count = 0;
    torch::Tensor y = SyncBatchNormFn::apply(x, bn.weight, bn.bias, &comm_, bn.eps, &mean, &var, &count);
    torch::NoGradGuard no_grad;
    const double m = bn.momentum;
    const double unbias = count > 1 ? static_cast<double>(count) / static_cast<double>(count - 1) : 1.0;
    bn.running_mean.mul_(1 - m).add_(mean.to(bn.running_mean.scalar_type()), m);
    bn.running_var.mul_(1 - m).add_((var * unbias).to(bn.running_var.scalar_type()), m);
    bn.num_batches_tracked.add_(1);
    return y;
  }

 private:
  Communicator& comm_;
};

}  // namespace

std::shared_ptr<model::BatchNormSync> make_sync_batchnorm(Communicator& comm) {
  return std::make_shared<SyncBatchNorm>(comm);
}

}  // namespace c2am::train
