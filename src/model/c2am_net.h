// Implements: the C²AM network (method doc §2): ResNet backbone, features
// Z = cat(layer4, layer3), the disentangler head (3x3 conv -> BN(1) -> sigmoid)
// and foreground/background pooling. Module names follow the reference
// (backbone.*, ac_head.activation_head.weight, ac_head.bn_head.*), so
// state_dict keys interoperate with the authors' checkpoints.
#pragma once
#include <torch/torch.h>

#include "model/precision.h"
#include "model/resnet.h"

namespace c2am::model {

struct C2amOutput {
  torch::Tensor v_f;     // N x C foreground embedding
  torch::Tensor v_b;     // N x C background embedding
  torch::Tensor map;     // N x 1 x h x w, sigmoid(logits): P in [0, 1]
  torch::Tensor logits;  // N x 1 x h x w, the head's BatchNorm output before the sigmoid
};

class DisentanglerImpl : public torch::nn::Module {
 public:
  explicit DisentanglerImpl(int channels);
  // Returns v_f, v_b, map and logits for features z (N x C x h x w).
  C2amOutput forward(const torch::Tensor& z);

  torch::nn::Conv2d activation_head{nullptr};
  SyncableBatchNorm2d bn_head{nullptr};
};
TORCH_MODULE(Disentangler);

class C2amNetImpl : public torch::nn::Module {
 public:
  explicit C2amNetImpl(const ResNetOptions& options);
  C2amOutput forward(const torch::Tensor& images);

  // The parameters of the backbone and of the head, as the optimiser groups them.
  ResNet backbone{nullptr};
  Disentangler ac_head{nullptr};
  Precision precision;  // bf16 / channels_last for the backbone; the head and pooling run in fp32
};
TORCH_MODULE(C2amNet);

// Foreground map with the polarity applied: P, or 1 - P when `negative`.
torch::Tensor oriented_map(const torch::Tensor& map, bool negative);

// The reference polarity rule (§5; the authors' WSOL/utils.py check_positive)
// on the first map of a batch: binarise at 0.5; the mean of the four border
// rows/columns > 0.5 means "negative".
bool border_says_negative(const torch::Tensor& map);

// The authors' WSSS rule (WSSS/utils.py check_positive: the whole batch,
// `band`-pixel border bands, no binarisation), in a form that sums over
// ranks: for the maps N x 1 x h x w, each image's mean over its top, left,
// bottom and right bands, summed over the images, and N ({top, left, bottom,
// right, N}, float64 on the CPU).
torch::Tensor border_band_sums(const torch::Tensor& maps, int64_t band = 4);
// Whether band sums (all ranks' added) say "negative": the mean of the four
// band means over all images > 0.5.
bool bands_say_negative(const torch::Tensor& sums);

}  // namespace c2am::model
