// Implements: the one rule that turns a metrics JSON line into TensorBoard
// scalars: every numeric field becomes "<kind>/<field>" (nested objects
// flattened with '/') at the line's "step" (else its "epoch", else 0), so
// fields added to the metrics later appear without any change here.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace c2am::monitor {

struct MetricScalars {
  std::string kind;  // the line's "kind", "metrics" when absent
  std::int64_t step = 0;
  std::vector<std::pair<std::string, double>> values;  // tag, value; in the line's field order
};

// nullopt when the line is not a JSON object.
std::optional<MetricScalars> metric_scalars(const std::string& json_line);

}  // namespace c2am::monitor
