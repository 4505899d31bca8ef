// Implements: metrics line -> scalars (see metrics_scalars.h).
#include "monitor/metrics_scalars.h"

#include <cmath>
#include <string_view>
#include <nlohmann/json.hpp>

namespace c2am::monitor {

namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kNan = "\x01nan";
constexpr const char* kPosInf = "\x01inf";
constexpr const char* kNegInf = "\x01-inf";

// fmt prints non-finite doubles as nan / inf / -inf, which JSON lacks: outside
// strings, such words become marker strings that flatten() turns back.
std::string quote_non_finite(const std::string& line) {
  std::string out;
  out.reserve(line.size());
  bool in_string = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < line.size()) {
        out += line[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    const bool neg = c == '-';
    const std::string_view word(line.c_str() + i + (neg ? 1 : 0));
    if (word.rfind("nan", 0) == 0) {
      out += Json(kNan).dump();
      i += neg ? 3 : 2;
    } else if (word.rfind("inf", 0) == 0) {
      out += Json(neg ? kNegInf : kPosInf).dump();
      i += neg ? 3 : 2;
    } else {
      out += c;
    }
  }
  return out;
}

void flatten(const Json& j, const std::string& prefix, std::vector<std::pair<std::string, double>>& out) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string tag = prefix + "/" + it.key();
    if (it->is_number()) {
      const double v = it->get<double>();
      out.emplace_back(tag, v);
    } else if (it->is_string() && it->get<std::string>().rfind("\x01", 0) == 0) {
      const std::string& m = it->get_ref<const std::string&>();
      out.emplace_back(tag, m == kNan ? std::nan("") : m == kPosInf ? HUGE_VAL : -HUGE_VAL);
    } else if (it->is_object()) {
      flatten(*it, tag, out);
    }
  }
}

}  // namespace

std::optional<MetricScalars> metric_scalars(const std::string& json_line) {
  Json j = Json::parse(json_line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) j = Json::parse(quote_non_finite(json_line), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  MetricScalars m;
  m.kind = j.contains("kind") && j["kind"].is_string() ? j["kind"].get<std::string>() : "metrics";
  const char* step_key = j.contains("step") && j["step"].is_number() ? "step"
                         : j.contains("epoch") && j["epoch"].is_number() ? "epoch"
                                                                          : nullptr;
  if (step_key != nullptr) m.step = static_cast<std::int64_t>(std::llround(j[step_key].get<double>()));
  Json rest = j;
  rest.erase("step");
  rest.erase("kind");
  flatten(rest, m.kind, m.values);
  return m;
}

}  // namespace c2am::monitor
