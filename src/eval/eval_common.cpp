#include "eval/eval_common.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "eval/corloc.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/threads.h"

namespace c2am::eval {

data::Loader make_eval_loader(const config::Config& cfg, const data::Transform& tf, bool keep_crops,
                              const comm::Communicator& comm) {
  data::LoaderOptions lopt;
  lopt.batch_per_rank = cfg.eval.batch_size;
  lopt.rank = comm.rank();
  lopt.world = comm.world();
  const int threads = util::resolve_threads(cfg.run.threads);
  lopt.threads = cfg.data.loader_threads > 0 ? cfg.data.loader_threads : threads;
  lopt.shuffle = false;
  lopt.drop_last = false;
  lopt.keep_crops = keep_crops;
  lopt.skip_bad = cfg.data.bad_sample == "skip";
  // CUB names its evaluation split "test"; ILSVRC and VOC name it "val".
  return data::Loader(data::open_split(cfg.data, cfg.data.layout == "cub" ? "test" : "val"), tf, lopt);
}

std::vector<int64_t> sum_counts(comm::Communicator& comm, const std::vector<int64_t>& counts) {
  torch::Tensor t = torch::tensor(counts, torch::kLong);
  comm.allreduce(t, comm::ReduceOp::kSum);
  const int64_t* p = t.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + t.numel());
}

std::map<std::string, std::vector<int>> read_class_predictions(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError(fmt::format("cannot open class predictions '{}'", path));
  std::map<std::string, std::vector<int>> out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    for (char& ch : line)
      if (ch == ',' || ch == '\t') ch = ' ';
    std::istringstream fields(line);
    std::string name;
    if (!(fields >> name) || name[0] == '#') continue;
    std::vector<int> classes;
    std::string token;
    while (fields >> token) {
      try {
        size_t used = 0;
        classes.push_back(std::stoi(token, &used));
        if (used != token.size()) throw std::invalid_argument(token);
      } catch (const std::exception&) {
        throw UsageError(fmt::format("{}:{}: '{}' is not a class id", path, lineno, token));
      }
    }
    if (classes.empty())
      throw UsageError(fmt::format("{}:{}: no predicted class for '{}'", path, lineno, name));
    out[name] = std::move(classes);
  }
  return out;
}

TopK top_k(const std::map<std::string, std::vector<int>>& predictions, const std::string& file,
           const data::Sample& s) {
  const auto it = predictions.find(s.name);
  if (it == predictions.end())
    throw UsageError(fmt::format("class predictions '{}' have no line for image '{}'", file, s.name));
  const std::vector<int>& pred = it->second;
  const auto top5_end = pred.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(5, pred.size()));
  return TopK{pred.front() == s.label, std::find(pred.begin(), top5_end, s.label) != top5_end};
}

double centre_box_corloc(const std::vector<std::vector<image::Box>>& gts, int crop,
                         comm::Communicator& comm) {
  torch::Tensor sums = torch::zeros({3}, torch::kDouble);  // width, height, boxes
  for (const auto& boxes : gts) {
    for (const image::Box& b : boxes) {
      sums[0] += b.x1 - b.x0;
      sums[1] += b.y1 - b.y0;
      sums[2] += 1;
    }
  }
  comm.allreduce(sums, comm::ReduceOp::kSum);
  const double n = sums[2].item<double>();
  const double w = n > 0 ? sums[0].item<double>() / n : 0.0;
  const double h = n > 0 ? sums[1].item<double>() / n : 0.0;
  const float c = static_cast<float>(crop) / 2.0f;
  const image::Box centred{c - static_cast<float>(w / 2), c - static_cast<float>(h / 2),
                           c + static_cast<float>(w / 2), c + static_cast<float>(h / 2)};
  torch::Tensor hits = torch::zeros({2}, torch::kLong);  // hits, images
  for (const auto& boxes : gts) {
    if (n > 0 && best_iou(centred, boxes) > kCorLocIou) hits[0] += 1;
    hits[1] += 1;
  }
  comm.allreduce(hits, comm::ReduceOp::kSum);
  const int64_t images = hits[1].item<int64_t>();
  return images == 0 ? 0.0
                     : 100.0 * static_cast<double>(hits[0].item<int64_t>()) / static_cast<double>(images);
}

void write_lines_by_index(const std::string& mine, const std::string& path, comm::Communicator& comm) {
  std::string text = mine;
  torch::Tensor bytes =
      torch::from_blob(text.data(), {static_cast<int64_t>(text.size())}, torch::kByte).clone();
  const torch::Tensor all = comm.allgather(bytes);
  if (comm.rank() != 0) return;
  std::vector<std::pair<int64_t, std::string>> lines;
  std::istringstream in(
      std::string(reinterpret_cast<const char*>(all.data_ptr<uint8_t>()), static_cast<size_t>(all.numel())));
  std::string line;
  while (std::getline(in, line))
    lines.emplace_back(nlohmann::json::parse(line)["index"].get<int64_t>(), line);
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l.second + "\n";
  util::write_file_atomic(path, out);
}

}  // namespace c2am::eval
