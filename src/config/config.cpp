// Implements: loading (TOML files in order, then --set overrides), validation
// and TOML output of the Config structs. One table of key descriptors, keys(),
// drives all three: adding a setting means adding one line there.
#include "config/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string_view>
#include <variant>

#include "util/error.h"

namespace c2am::config {
namespace {

// A typed pointer to one field of a Config.
using Ref = std::variant<int*, double*, bool*, Toggle*, std::string*, std::uint64_t*, std::array<int, 4>*,
                         std::array<double, 3>*, std::vector<double>*>;

constexpr double kInf = std::numeric_limits<double>::infinity();

// Allowed values of a key: a numeric range (applied to each element of an
// array), a list of choices (numbers compared as written), or non-empty.
struct Rule {
  double lo = -kInf;
  bool lo_open = false;
  double hi = kInf;
  bool hi_open = false;
  std::vector<std::string_view> choices;
  bool non_empty = false;

  std::string text() const {
    if (!choices.empty()) return fmt::format("one of {}", fmt::join(choices, ", "));
    if (non_empty) return "non-empty";
    if (lo > -kInf && hi < kInf)
      return fmt::format("in {}{}, {}{}", lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]");
    if (lo > -kInf) return fmt::format("{} {}", lo_open ? ">" : ">=", lo);
    if (hi < kInf) return fmt::format("{} {}", hi_open ? "<" : "<=", hi);
    return "";
  }
};

Rule any() { return {}; }
Rule above(double lo) { return {lo, true, kInf, false, {}, false}; }
Rule at_least(double lo) { return {lo, false, kInf, false, {}, false}; }
Rule half_open(double lo, double hi) { return {lo, false, hi, true, {}, false}; }
Rule one_of(std::vector<std::string_view> choices) {
  return {-kInf, false, kInf, false, std::move(choices), false};
}
Rule open_interval(double lo, double hi) { return {lo, true, hi, true, {}, false}; }
Rule non_empty() { return {-kInf, false, kInf, false, {}, true}; }

struct Key {
  std::string_view path;  // "section.name", the same spelling as the member
  Ref (*field)(Config&);
  Rule rule;
  std::string_view doc;
};

// The one table of settings. The key path is the member path, spelled once.
// clang-format off
#define C2AM_KEY(member, rule, doc) Key{#member, [](Config& c) -> Ref { return &c.member; }, rule, doc}
// clang-format on
const std::vector<Key>& keys() {
  static const std::vector<Key> kKeys = {
      C2AM_KEY(model.kind, one_of({"c2am", "classifier", "saliency", "regressor"}),
               "what is trained: c2am maps, a multi-label classifier (CAMs), a saliency network (cues) or a "
               "box regressor (PSOL, on pseudo boxes)"),
      C2AM_KEY(model.arch, one_of({"resnet18", "resnet34", "resnet50", "resnet101"}), "backbone"),
      C2AM_KEY(model.strides, one_of({"1", "2"}), "stride of layer1..layer4"),
      C2AM_KEY(model.pretrained, any(), "state_dict (.pth) to initialise from; \"\" = random init"),
      C2AM_KEY(model.num_classes, above(0), "classifier: foreground classes (VOC: 20)"),
      C2AM_KEY(loss.alpha, at_least(0), "rank-weight decay of the positive terms"),
      C2AM_KEY(data.layout, one_of({"cub", "imagenet", "voc", "folder"}), "source layout of the data"),
      C2AM_KEY(data.root, any(), "dataset folder (raw layout or packed)"),
      C2AM_KEY(data.train_resize, above(0), "square resize before the random crop"),
      C2AM_KEY(data.train_crop, above(0), "random crop side, <= train_resize"),
      C2AM_KEY(data.flip, any(), "random horizontal flip in training"),
      C2AM_KEY(data.test_resize, above(0), "square resize at test time"),
      C2AM_KEY(data.test_crop, above(0), "centre crop side at test time, <= test_resize"),
      C2AM_KEY(data.loader_threads, at_least(0), "loader threads; 0 = run.threads"),
      C2AM_KEY(data.resample, one_of({"pil", "fast"}),
               "training resize: pil (bit-exact PIL bilinear) or fast (vectorised, within a bound of PIL)"),
      C2AM_KEY(data.batch_dtype, one_of({"auto", "float32", "uint8"}),
               "training batches: uint8 normalised on the device, or float32 normalised by the loader"),
      C2AM_KEY(data.bad_sample, one_of({"error", "skip"}),
               "an undecodable sample: error (names shard and index) or skip (dropped, counted, reported)"),
      C2AM_KEY(data.max_pixels, any(),
               "largest image decoded (width x height read from its header, before allocating); 0 = no "
               "limit"),
      C2AM_KEY(data.cues, any(), "saliency training: folder of background-cue PNGs (255 = foreground)"),
      C2AM_KEY(data.boxes, any(),
               "regressor training: pseudo boxes (extract-boxes' boxes.jsonl or its folder)"),
      C2AM_KEY(data.mean, any(), "per-channel normalisation mean (RGB)"),
      C2AM_KEY(data.std, above(0), "per-channel normalisation std (RGB)"),
      C2AM_KEY(train.epochs, above(0), "training epochs"),
      C2AM_KEY(train.batch_size, above(0), "global batch over all ranks"),
      C2AM_KEY(train.lr, above(0), "base learning rate"),
      C2AM_KEY(train.weight_decay, at_least(0), "weight decay on the trained parameters"),
      C2AM_KEY(train.optimizer, one_of({"reference", "sgd"}),
               "reference: momentum 1e-4 as the reference code runs; sgd: train.momentum"),
      C2AM_KEY(train.momentum, half_open(0, 1), "SGD momentum when optimizer = \"sgd\""),
      C2AM_KEY(train.head_lr_mult, above(0), "lr multiplier of the disentangler head"),
      C2AM_KEY(train.lr_schedule, one_of({"poly", "cosine"}),
               "poly: lr * (1 - step/max_step)^poly_power; cosine: lr * (1 + cos(pi * step/max_step)) / 2"),
      C2AM_KEY(train.poly_power, at_least(0), "lr * (1 - step/max_step)^poly_power"),
      C2AM_KEY(train.parameters, one_of({"conv", "all"}),
               "what SGD trains: conv weights (BatchNorm affine frozen, the reference) or all parameters"),
      C2AM_KEY(train.polarity_rule, one_of({"wsol", "wsss"}),
               "C2AM polarity after epoch 1: wsol (first image, binarised border) or wsss (whole batch, "
               "4-pixel bands)"),
      C2AM_KEY(train.max_steps, at_least(0), "stop after this many steps; 0 = no limit"),
      C2AM_KEY(train.seed, any(), "seed of data order, augmentation and init (< 2^63)"),
      C2AM_KEY(train.log_every, above(0), "steps between progress lines"),
      C2AM_KEY(train.checkpoint_every, at_least(0), "steps between checkpoints; 0 = end of each epoch"),
      C2AM_KEY(train.keep_checkpoints, above(0), "newest checkpoints kept"),
      C2AM_KEY(train.fused_optimizer, any(),
               "SGD update as a few multi-tensor (_foreach_) ops per group instead of one op per parameter"),
      C2AM_KEY(eval.every_epochs, at_least(0),
               "evaluate during training after every N epochs and the last; 0 = never"),
      C2AM_KEY(eval.batch_size, above(0), "evaluation batch"),
      C2AM_KEY(eval.heatmaps, at_least(0), "heatmap PNGs written"),
      C2AM_KEY(eval.protocol, one_of({"paper", "reference", "aligned"}),
               "how maps become CorLoc boxes: paper (method doc), reference (the authors' code), aligned"),
      C2AM_KEY(wsss.scales, above(0), "inference scales (each with its horizontal flip)"),
      C2AM_KEY(wsss.cue_threshold, half_open(0, 1), "foreground where the C2AM map > this, before the CRF"),
      C2AM_KEY(wsss.crf_iterations, at_least(0), "mean-field iterations of the dense CRF; 0 = no CRF"),
      C2AM_KEY(wsss.crf_gt_prob, open_interval(0, 1), "CRF unary: probability of the thresholded label"),
      C2AM_KEY(wsss.crf_gauss_sxy, above(0), "CRF Gaussian kernel: position scale (pixels)"),
      C2AM_KEY(wsss.crf_gauss_compat, at_least(0), "CRF Gaussian kernel: Potts weight"),
      C2AM_KEY(wsss.crf_bilateral_sxy, above(0), "CRF bilateral kernel: position scale (pixels)"),
      C2AM_KEY(wsss.crf_bilateral_srgb, above(0), "CRF bilateral kernel: colour scale (0-255)"),
      C2AM_KEY(wsss.crf_bilateral_compat, at_least(0), "CRF bilateral kernel: Potts weight"),
      C2AM_KEY(wsss.bg_threshold, half_open(0, 1), "constant background score of CAMs refined without cues"),
      C2AM_KEY(dist.backend, one_of({"auto", "mpi", "nccl"}),
               "collectives: auto = NCCL for CUDA tensors, MPI otherwise"),
      C2AM_KEY(dist.bucket_mb, above(0), "gradient all-reduce bucket size (MiB)"),
      C2AM_KEY(dist.timeout_s, above(0), "seconds a collective may take before the job is ended"),
      C2AM_KEY(dist.negatives, one_of({"global", "local"}),
               "global: each rank's rows against every rank's embeddings; local: within each rank (reference "
               "DDP)"),
      C2AM_KEY(dist.sync_batchnorm, one_of({"none", "head", "all"}),
               "BatchNorm statistics over the global batch: none, the head's, or all layers"),
      C2AM_KEY(run.out, non_empty(), "run folder: config, metrics, checkpoints"),
      C2AM_KEY(run.threads, at_least(0), "CPU intra-op threads; 0 = all cores"),
      C2AM_KEY(run.device, non_empty(),
               "auto (cuda:<local rank> when CUDA is available), cpu, cuda or cuda:N"),
      C2AM_KEY(
          run.precision, one_of({"auto", "fp32", "bf16"}),
          "bf16: autocast for the backbone, heads and losses in fp32; auto: bf16 where the device has it"),
      C2AM_KEY(run.channels_last, any(), "channels_last parameters and inputs; auto: when bf16 runs"),
      C2AM_KEY(run.cudnn_benchmark, any(), "cuDNN autotuning on CUDA"),
      C2AM_KEY(run.cuda_graphs, any(),
               "capture the whole training step in a CUDA graph after warm-up and replay it (CUDA only)"),
      C2AM_KEY(run.tensorboard, any(), "TensorBoard event files in <out>/tb/ (rank 0)"),
  };
  return kKeys;
}
#undef C2AM_KEY

// Pairs (smaller, larger) of integer keys: smaller <= larger.
constexpr std::pair<std::string_view, std::string_view> kOrdered[] = {
    {"data.train_crop", "data.train_resize"},
    {"data.test_crop", "data.test_resize"},
};

const Key* find_key(std::string_view path) {
  for (const Key& k : keys())
    if (k.path == path) return &k;
  return nullptr;
}

// A section (table) is any proper prefix of a key path.
bool is_section(std::string_view path) {
  return std::any_of(keys().begin(), keys().end(), [&](const Key& k) {
    return k.path.size() > path.size() && k.path.substr(0, path.size()) == path && k.path[path.size()] == '.';
  });
}

// Edit distance with adjacent transpositions ("trian" -> "train" is 1).
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

std::string_view leaf(std::string_view path) { return path.substr(path.rfind('.') + 1); }

// " (did you mean 'train.lr'?)" for the closest known key or section, or "".
std::string suggestion(std::string_view path) {
  std::string best;
  std::size_t best_d = std::max<std::size_t>(2, path.size() / 4) + 1;
  for (const Key& k : keys()) {
    for (std::size_t end = k.path.find('.'); end != std::string_view::npos; end = k.path.find('.', end + 1)) {
      std::string_view section = k.path.substr(0, end);
      if (std::size_t d = edit_distance(path, section); d < best_d) best_d = d, best = section;
    }
    std::size_t d = leaf(k.path) == leaf(path) ? 1 : edit_distance(path, k.path);
    if (d < best_d) best_d = d, best = k.path;
  }
  return best.empty() ? "" : fmt::format(" (did you mean '{}'?)", best);
}

std::string node_type_name(const toml::node& n) {
  if (const toml::array* arr = n.as_array()) return fmt::format("array of {}", arr->size());
  static constexpr std::string_view kNames[] = {"nothing", "table",   "array", "string", "integer",
                                                "float",   "boolean", "date",  "time",   "date-time"};
  static_assert(static_cast<int>(toml::node_type::date_time) == 9, "toml::node_type changed");
  return std::string(kNames[static_cast<int>(n.type())]);
}

// --- TOML node -> field. Each read() returns false and says what it got.
bool read(const toml::node& n, int& out, std::string& got) {
  auto v = n.value_exact<std::int64_t>();
  if (v && *v >= std::numeric_limits<int>::min() && *v <= std::numeric_limits<int>::max()) {
    out = static_cast<int>(*v);
    return true;
  }
  got = v ? fmt::format("{} (outside the 32-bit range)", *v) : node_type_name(n);
  return false;
}
bool read(const toml::node& n, std::uint64_t& out, std::string& got) {
  auto v = n.value_exact<std::int64_t>();
  if (v && *v >= 0) out = static_cast<std::uint64_t>(*v);
  got = v ? fmt::format("{}", *v) : node_type_name(n);
  return v && *v >= 0;
}
bool read(const toml::node& n, double& out, std::string& got) {
  if (auto v = n.value_exact<std::int64_t>()) return out = static_cast<double>(*v), true;
  if (auto v = n.value_exact<double>()) return out = *v, true;
  got = node_type_name(n);
  return false;
}
bool read(const toml::node& n, bool& out, std::string& got) {
  auto v = n.value_exact<bool>();
  if (v) out = *v;
  got = node_type_name(n);
  return v.has_value();
}
bool read(const toml::node& n, Toggle& out, std::string& got) {
  if (auto v = n.value_exact<bool>()) return out = *v ? Toggle::kTrue : Toggle::kFalse, true;
  if (n.value_exact<std::string>() == "auto") return out = Toggle::kAuto, true;
  got = n.is_string() ? fmt::format("the string \"{}\"", *n.value_exact<std::string>()) : node_type_name(n);
  return false;
}
bool read(const toml::node& n, std::string& out, std::string& got) {
  auto v = n.value_exact<std::string>();
  if (v) out = *v;
  got = node_type_name(n);
  return v.has_value();
}
template <typename T, std::size_t N>
bool read(const toml::node& n, std::array<T, N>& out, std::string& got) {
  const toml::array* arr = n.as_array();
  if (!arr || arr->size() != N) return got = node_type_name(n), false;
  std::array<T, N> tmp{};
  for (std::size_t i = 0; i < N; ++i)
    if (!read(*arr->get(i), tmp[i], got)) return got = fmt::format("{} at index {}", got, i), false;
  out = tmp;
  return true;
}

bool read(const toml::node& n, std::vector<double>& out, std::string& got) {
  const toml::array* arr = n.as_array();
  if (!arr || arr->empty()) return got = arr ? "an empty array" : node_type_name(n), false;
  std::vector<double> tmp(arr->size());
  for (std::size_t i = 0; i < arr->size(); ++i)
    if (!read(*arr->get(i), tmp[i], got)) return got = fmt::format("{} at index {}", got, i), false;
  out = std::move(tmp);
  return true;
}

// --- Type names, TOML text of a value, rule checks; one overload per type.
std::string expected(const int*) { return "an integer"; }
std::string expected(const std::uint64_t*) { return "a non-negative integer"; }
std::string expected(const double*) { return "a number"; }
std::string expected(const bool*) { return "a boolean"; }
std::string expected(const Toggle*) { return "true, false or \"auto\""; }
std::string expected(const std::string*) { return "a string"; }
template <std::size_t N>
std::string expected(const std::array<int, N>*) {
  return fmt::format("an array of {} integers", N);
}
template <std::size_t N>
std::string expected(const std::array<double, N>*) {
  return fmt::format("an array of {} numbers", N);
}

std::string expected(const std::vector<double>*) { return "a non-empty array of numbers"; }

std::string toml_text(int v) { return fmt::format("{}", v); }
std::string toml_text(std::uint64_t v) { return fmt::format("{}", v); }
std::string toml_text(bool v) { return v ? "true" : "false"; }
std::string toml_text(Toggle v) { return v == Toggle::kAuto ? "\"auto\"" : toml_text(v == Toggle::kTrue); }
std::string toml_text(double v) {
  std::string s = fmt::format("{}", v);  // shortest text that reads back exactly
  if (std::isfinite(v) && s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}
// A TOML basic string: quotes and backslashes escaped, control characters as \uXXXX.
std::string toml_text(const std::string& v) {
  std::string s = "\"";
  for (unsigned char ch : v) {
    if (ch == '"' || ch == '\\') s += '\\';
    s += (ch < 0x20 || ch == 0x7f) ? fmt::format("\\u{:04X}", ch) : std::string(1, char(ch));
  }
  return s + "\"";
}
template <typename List>
std::string list_text(const List& v) {
  std::vector<std::string> parts;
  for (const auto& x : v) parts.push_back(toml_text(x));
  return fmt::format("[{}]", fmt::join(parts, ", "));
}
template <typename T, std::size_t N>
std::string toml_text(const std::array<T, N>& v) {
  return list_text(v);
}
std::string toml_text(const std::vector<double>& v) { return list_text(v); }

bool allowed(const Rule& r, double v) {
  if (!r.choices.empty())
    return std::find(r.choices.begin(), r.choices.end(), fmt::format("{}", v)) != r.choices.end();
  return std::isfinite(v) && (r.lo_open ? v > r.lo : v >= r.lo) && (r.hi_open ? v < r.hi : v <= r.hi);
}
// "" when the value obeys the rule, else what it must be.
std::string violation(const Rule& r, double v) {
  if (!std::isfinite(v)) return "must be a finite number";
  return allowed(r, v) ? "" : "must be " + r.text();
}
std::string violation(const Rule& r, int v) { return violation(r, double(v)); }
std::string violation(const Rule&, bool) { return ""; }
std::string violation(const Rule&, Toggle) { return ""; }
std::string violation(const Rule&, std::uint64_t v) {
  return v > std::uint64_t(std::numeric_limits<std::int64_t>::max()) ? "must be < 2^63" : "";
}
std::string violation(const Rule& r, const std::string& v) {
  if (r.non_empty && v.empty()) return "must be non-empty";
  if (!r.choices.empty() && std::find(r.choices.begin(), r.choices.end(), v) == r.choices.end())
    return "must be " + r.text();
  return "";
}
template <typename List>
std::string list_violation(const Rule& r, const List& v) {
  for (const auto& x : v)
    if (std::string why = violation(r, x); !why.empty()) return "each element " + why;
  return "";
}
template <typename T, std::size_t N>
std::string violation(const Rule& r, const std::array<T, N>& v) {
  return list_violation(r, v);
}
std::string violation(const Rule& r, const std::vector<double>& v) { return list_violation(r, v); }

std::string value_text(Ref ref) {
  return std::visit([](auto* p) { return toml_text(*p); }, ref);
}

// Where each key got its value: "file:line" or "--set a.b=v".
using Locations = std::map<std::string, std::string, std::less<>>;

[[noreturn]] void fail_at(const Locations& locs, std::string_view path, const std::string& msg) {
  auto it = locs.find(path);
  throw UsageError(it == locs.end() ? msg : fmt::format("{}: {}", it->second, msg));
}

void validate_at(const Config& in, const Locations& locs) {
  Config cfg = in;  // the accessors take a mutable Config
  for (const Key& key : keys()) {
    Ref ref = key.field(cfg);
    std::string why = std::visit([&](auto* p) { return violation(key.rule, *p); }, ref);
    if (!why.empty()) fail_at(locs, key.path, fmt::format("{} = {}: {}", key.path, value_text(ref), why));
  }
  for (auto [small, large] : kOrdered) {
    int s = *std::get<int*>(find_key(small)->field(cfg));
    int l = *std::get<int*>(find_key(large)->field(cfg));
    if (s > l)
      fail_at(locs, locs.count(small) ? small : large,
              fmt::format("{} = {} must be <= {} = {}", small, s, large, l));
  }
}

// Where a setting comes from: a file (line from the node) or one --set item.
struct Origin {
  std::string file;
  std::string set_item;
  std::string at(const toml::key& k, const toml::node& n) const {
    if (file.empty()) return "--set " + set_item;
    auto line = k.source().begin.line ? k.source().begin.line : n.source().begin.line;
    return fmt::format("{}:{}", file, line);
  }
};

// Stores `node` at `path`: a key's value, or a section's table of keys.
void apply(Config& cfg, const std::string& path, const toml::node& node, const std::string& where,
           const Origin& origin, Locations& locs) {
  if (const Key* key = find_key(path)) {
    Ref ref = key->field(cfg);
    std::string got;
    if (!std::visit([&](auto* p) { return read(node, *p, got); }, ref)) {
      std::string want = std::visit([](auto* p) { return expected(p); }, ref);
      throw UsageError(fmt::format("{}: key '{}' expects {}, got {}", where, path, want, got));
    }
    locs[path] = where;
  } else if (is_section(path)) {
    const toml::table* table = node.as_table();
    if (!table)
      throw UsageError(
          fmt::format("{}: key '{}' expects a table, got {}", where, path, node_type_name(node)));
    for (auto&& [k, v] : *table)
      apply(cfg, fmt::format("{}.{}", path, k.str()), v, origin.at(k, v), origin, locs);
  } else {
    throw UsageError(fmt::format("{}: unknown key '{}'{}", where, path, suggestion(path)));
  }
}

// Parses `*text` (named `file` in errors), or the file itself when text is null.
void apply_toml(Config& cfg, const std::string& file, const std::string* text, Locations& locs) {
  toml::table doc;
  try {
    doc = text != nullptr ? toml::parse(*text, file) : toml::parse_file(file);
  } catch (const toml::parse_error& e) {
    const auto& pos = e.source().begin;
    if (pos.line == 0)
      throw UsageError(fmt::format("{}: cannot read config file: {}", file, e.description()));
    throw UsageError(fmt::format("{}:{}:{}: {}", file, pos.line, pos.column, e.description()));
  }
  Origin origin{file, {}};
  for (auto&& [k, v] : doc) apply(cfg, std::string(k.str()), v, origin.at(k, v), origin, locs);
}

void apply_file(Config& cfg, const std::string& file, Locations& locs) {
  apply_toml(cfg, file, nullptr, locs);
}

std::string trim(std::string_view s) {
  const char* ws = " \t\r\n";
  std::size_t b = s.find_first_not_of(ws);
  return b == std::string_view::npos ? "" : std::string(s.substr(b, s.find_last_not_of(ws) - b + 1));
}

// "a.b=value": value in TOML syntax; text that is not one TOML value, or any
// non-string value given to a string key, is taken verbatim as a string.
void apply_override(Config& cfg, const std::string& item, Locations& locs) {
  std::size_t eq = item.find('=');
  std::string path = trim(std::string_view(item).substr(0, eq));
  if (eq == std::string::npos || path.empty())
    throw UsageError(fmt::format("--set {}: expected key.path=value", item));
  std::string text = trim(std::string_view(item).substr(eq + 1));
  toml::table doc;
  try {
    doc = toml::parse("v = " + text);
  } catch (const toml::parse_error&) {
  }
  toml::value<std::string> verbatim(text);
  const toml::node* node = doc.size() == 1 ? doc.get("v") : nullptr;
  const Key* key = find_key(path);
  bool string_key = key && std::holds_alternative<std::string*>(key->field(cfg));
  if (!node || (string_key && !node->is_string())) node = &verbatim;
  std::string where = "--set " + item;
  apply(cfg, path, *node, where, Origin{{}, item}, locs);
}

}  // namespace

Config load(const std::vector<std::string>& files, const std::vector<std::string>& overrides) {
  Config cfg;
  Locations locs;
  for (const std::string& file : files) apply_file(cfg, file, locs);
  for (const std::string& item : overrides) apply_override(cfg, item, locs);
  validate_at(cfg, locs);
  return cfg;
}

Config load_from_string(const std::string& text, const std::string& source_name) {
  Config cfg;
  Locations locs;
  apply_toml(cfg, source_name, &text, locs);
  validate_at(cfg, locs);
  return cfg;
}

std::string to_toml(const Config& in) {
  Config cfg = in;
  std::string out = "# c2am configuration (all keys, resolved)\n";
  std::string_view section;
  for (const Key& key : keys()) {
    std::string_view sec = key.path.substr(0, key.path.rfind('.'));
    if (sec != section) out += fmt::format("{}[{}]\n", section.empty() ? "" : "\n", sec);
    section = sec;
    Ref ref = key.field(cfg);
    bool array = std::holds_alternative<std::array<int, 4>*>(ref) ||
                 std::holds_alternative<std::array<double, 3>*>(ref) ||
                 std::holds_alternative<std::vector<double>*>(ref);
    std::string rule = key.rule.text();
    if (!rule.empty()) rule = fmt::format(" ({}{})", array ? "each " : "", rule);
    out += fmt::format("{:<24} # {}{}\n", fmt::format("{} = {}", leaf(key.path), value_text(ref)), key.doc,
                       rule);
  }
  return out;
}

void validate(const Config& cfg) { validate_at(cfg, {}); }

}  // namespace c2am::config
