// The two polarity rules of the authors' code (method doc §5): WSOL's
// (WSOL/utils.py check_positive: the batch's first map, binarised at 0.5, its
// 1-pixel border) and WSSS's (WSSS/utils.py check_positive: every map of the
// batch, 4-pixel border bands, raw values), the latter summable over ranks.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/c2am_net.h"

namespace {

using c2am::model::bands_say_negative;
using c2am::model::border_band_sums;
using c2am::model::border_says_negative;

// N x 1 x 12 x 12 maps: `border` on the 4-pixel bands, `inside` within.
torch::Tensor maps(const std::vector<std::pair<float, float>>& border_inside) {
  torch::Tensor m = torch::empty({static_cast<int64_t>(border_inside.size()), 1, 12, 12});
  for (size_t i = 0; i < border_inside.size(); ++i) {
    m[static_cast<int64_t>(i)].fill_(border_inside[i].first);
    m[static_cast<int64_t>(i)][0].narrow(0, 4, 4).narrow(1, 4, 4).fill_(border_inside[i].second);
  }
  return m;
}

TEST(Polarity, WsolRuleLooksAtTheFirstMapBinarised) {
  // The first map's border is 0.45: binarised to 0, positive, whatever the others are.
  EXPECT_FALSE(border_says_negative(maps({{0.45f, 0.9f}, {1.0f, 0.0f}, {1.0f, 0.0f}})));
  // 0.55 binarises to 1: negative.
  EXPECT_TRUE(border_says_negative(maps({{0.55f, 0.0f}, {0.0f, 1.0f}})));
}

TEST(Polarity, WsssRuleAveragesTheRawBandsOfTheWholeBatch) {
  // First map positive, the other two negative: the batch says negative (mean (0 + 1 + 1) / 3 > 0.5).
  const torch::Tensor batch = maps({{0.0f, 1.0f}, {1.0f, 0.0f}, {1.0f, 0.0f}});
  EXPECT_TRUE(bands_say_negative(border_band_sums(batch)));
  EXPECT_FALSE(border_says_negative(batch));
  // Raw values: bands of 0.55 are not binarised, the mean is 0.55 -> negative; 0.45 -> positive.
  EXPECT_TRUE(bands_say_negative(border_band_sums(maps({{0.55f, 0.0f}}))));
  EXPECT_FALSE(bands_say_negative(border_band_sums(maps({{0.45f, 1.0f}}))));
  // The authors' expression on a random batch: (am[:,0,0:4,:].mean() + am[:,0,:,0:4].mean()
  // + am[:,0,-4:,:].mean() + am[:,0,:,-4:].mean()) / 4.
  torch::manual_seed(4);
  const torch::Tensor r = torch::rand({5, 1, 10, 14}, torch::kDouble);
  const double theirs =
      ((r.index({torch::indexing::Slice(), 0, torch::indexing::Slice(0, 4)}).mean() +
        r.index({torch::indexing::Slice(), 0, torch::indexing::Slice(), torch::indexing::Slice(0, 4)})
            .mean() +
        r.index({torch::indexing::Slice(), 0, torch::indexing::Slice(-4, torch::indexing::None)}).mean() +
        r.index({torch::indexing::Slice(), 0, torch::indexing::Slice(),
                 torch::indexing::Slice(-4, torch::indexing::None)})
            .mean()) /
       4)
          .item<double>();
  const torch::Tensor s = border_band_sums(r);
  EXPECT_NEAR(s.narrow(0, 0, 4).sum().item<double>() / s[4].item<double>() / 4.0, theirs, 1e-12);
}

TEST(Polarity, WsssBandSumsOfTwoRanksAddUpToTheWholeBatch) {
  torch::manual_seed(5);
  const torch::Tensor r = torch::rand({6, 1, 8, 8});
  const torch::Tensor whole = border_band_sums(r);
  const torch::Tensor split = border_band_sums(r.narrow(0, 0, 3)) + border_band_sums(r.narrow(0, 3, 3));
  EXPECT_TRUE(torch::allclose(whole, split, 1e-12, 1e-12));
  EXPECT_EQ(split[4].item<double>(), 6.0);
}

}  // namespace
