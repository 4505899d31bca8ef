// The metrics line -> scalars rule: every numeric field, nested objects
// flattened, the step from "step", else "epoch"; non-finite values kept.
#include <gtest/gtest.h>

#include <cmath>

#include "monitor/metrics_scalars.h"

namespace c2am::monitor {
namespace {

TEST(MetricScalars, EveryNumericFieldBecomesKindSlashFieldAtTheLinesStep) {
  const auto m = metric_scalars(
      R"({"kind":"train","step":40,"epoch":1,"loss":0.5,"lr":0.01,"note":"x","flag":true,"peak_memory_mib":812})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, "train");
  EXPECT_EQ(m->step, 40);
  const std::vector<std::pair<std::string, double>> want = {
      {"train/epoch", 1}, {"train/loss", 0.5}, {"train/lr", 0.01}, {"train/peak_memory_mib", 812}};
  EXPECT_EQ(m->values, want);
}

TEST(MetricScalars, NestedObjectsFlattenAndEpochStandsInForAMissingStep) {
  const auto m = metric_scalars(R"({"kind":"seg","epoch":3,"pred":{"miou":0.6,"fp":0.1},"list":[1,2]})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->step, 3);
  const std::vector<std::pair<std::string, double>> want = {{"seg/epoch", 3}, {"seg/pred/miou", 0.6}, {"seg/pred/fp", 0.1}};
  EXPECT_EQ(m->values, want);
  const auto no_kind = metric_scalars(R"({"x":2})");
  ASSERT_TRUE(no_kind);
  EXPECT_EQ(no_kind->step, 0);
  EXPECT_EQ(no_kind->values.at(0).first, "metrics/x");
}

TEST(MetricScalars, NonFiniteValuesAsFmtPrintsThemSurvive) {
  const auto m = metric_scalars(R"({"kind":"train","step":5,"loss":nan,"neg":inf,"pos":-inf,"name":"nan inf"})");
  ASSERT_TRUE(m);
  ASSERT_EQ(m->values.size(), 3u);
  EXPECT_TRUE(std::isnan(m->values[0].second));
  EXPECT_EQ(m->values[1].second, HUGE_VAL);
  EXPECT_EQ(m->values[2].second, -HUGE_VAL);
}

TEST(MetricScalars, NotAnObjectGivesNothing) {
  EXPECT_FALSE(metric_scalars("not json"));
  EXPECT_FALSE(metric_scalars("[1,2]"));
}

}  // namespace
}  // namespace c2am::monitor
