// Implements: tests of config loading, layering, --set overrides, error
// messages (file:line and key path), validation, the to_toml round trip, and
// that every shipped config file and docs/config.md stay in step with the code.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "util/error.h"

namespace c2am::config {
namespace {

namespace fs = std::filesystem;

// Writes `text` to a file named after the current test; returns its path.
std::string write_temp(const std::string& name, const std::string& text) {
  const auto* info = testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::path(testing::TempDir()) / "c2am_test_config" / info->name();
  fs::create_directories(dir);
  fs::path path = dir / name;
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The message of the UsageError that `fn` throws; fails the test if none.
std::string usage_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const UsageError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a UsageError";
  return "";
}

std::string load_error(const std::vector<std::string>& files, const std::vector<std::string>& sets = {}) {
  return usage_error([&] { (void)load(files, sets); });
}

void expect_same(const Config& a, const Config& b) {
  EXPECT_EQ(a.model.arch, b.model.arch);
  EXPECT_EQ(a.model.strides, b.model.strides);
  EXPECT_EQ(a.model.pretrained, b.model.pretrained);
  EXPECT_EQ(a.loss.alpha, b.loss.alpha);
  EXPECT_EQ(a.data.layout, b.data.layout);
  EXPECT_EQ(a.data.root, b.data.root);
  EXPECT_EQ(a.data.train_resize, b.data.train_resize);
  EXPECT_EQ(a.data.train_crop, b.data.train_crop);
  EXPECT_EQ(a.data.flip, b.data.flip);
  EXPECT_EQ(a.data.test_resize, b.data.test_resize);
  EXPECT_EQ(a.data.test_crop, b.data.test_crop);
  EXPECT_EQ(a.data.loader_threads, b.data.loader_threads);
  EXPECT_EQ(a.data.max_pixels, b.data.max_pixels);
  EXPECT_EQ(a.data.resample, b.data.resample);
  EXPECT_EQ(a.data.batch_dtype, b.data.batch_dtype);
  EXPECT_EQ(a.data.mean, b.data.mean);
  EXPECT_EQ(a.data.std, b.data.std);
  EXPECT_EQ(a.train.epochs, b.train.epochs);
  EXPECT_EQ(a.train.batch_size, b.train.batch_size);
  EXPECT_EQ(a.train.lr, b.train.lr);
  EXPECT_EQ(a.train.weight_decay, b.train.weight_decay);
  EXPECT_EQ(a.train.optimizer, b.train.optimizer);
  EXPECT_EQ(a.train.momentum, b.train.momentum);
  EXPECT_EQ(a.train.head_lr_mult, b.train.head_lr_mult);
  EXPECT_EQ(a.train.poly_power, b.train.poly_power);
  EXPECT_EQ(a.train.max_steps, b.train.max_steps);
  EXPECT_EQ(a.train.seed, b.train.seed);
  EXPECT_EQ(a.train.log_every, b.train.log_every);
  EXPECT_EQ(a.train.checkpoint_every, b.train.checkpoint_every);
  EXPECT_EQ(a.train.keep_checkpoints, b.train.keep_checkpoints);
  EXPECT_EQ(a.train.fused_optimizer, b.train.fused_optimizer);
  EXPECT_EQ(a.eval.every_epochs, b.eval.every_epochs);
  EXPECT_EQ(a.eval.batch_size, b.eval.batch_size);
  EXPECT_EQ(a.eval.heatmaps, b.eval.heatmaps);
  EXPECT_EQ(a.eval.protocol, b.eval.protocol);
  EXPECT_EQ(a.dist.backend, b.dist.backend);
  EXPECT_EQ(a.dist.bucket_mb, b.dist.bucket_mb);
  EXPECT_EQ(a.dist.timeout_s, b.dist.timeout_s);
  EXPECT_EQ(a.dist.sync_batchnorm, b.dist.sync_batchnorm);
  EXPECT_EQ(a.dist.negatives, b.dist.negatives);
  EXPECT_EQ(a.run.out, b.run.out);
  EXPECT_EQ(a.run.threads, b.run.threads);
  EXPECT_EQ(a.run.cuda_graphs, b.run.cuda_graphs);
  EXPECT_EQ(a.run.precision, b.run.precision);
  EXPECT_EQ(a.run.channels_last, b.run.channels_last);
}

// "section.key" for every "key = value" line under a "[section]" of to_toml.
std::vector<std::string> keys_of(const std::string& toml_text) {
  std::vector<std::string> keys;
  std::istringstream in(toml_text);
  std::string line, section;
  while (std::getline(in, line)) {
    if (line.rfind('[', 0) == 0)
      section = line.substr(1, line.find(']') - 1);
    else if (auto eq = line.find(" = "); eq != std::string::npos && line[0] != '#')
      keys.push_back(section + "." + line.substr(0, eq));
  }
  return keys;
}

// ---------------------------------------------------------------- defaults

TEST(Config, NoFilesNoOverridesGivesTheDefaults) {
  Config cfg = load({}, {});
  expect_same(cfg, Config{});
  EXPECT_EQ(cfg.model.arch, "resnet50");
  EXPECT_EQ(cfg.train.batch_size, 16);
  EXPECT_EQ(cfg.train.optimizer, "reference");
}

TEST(Config, DefaultsValidate) { EXPECT_NO_THROW(validate(Config{})); }

TEST(Config, EmptyFileGivesTheDefaults) {
  expect_same(load({write_temp("empty.toml", "# nothing\n")}, {}), Config{});
}

// ---------------------------------------------------------------- layering

TEST(Config, LaterFileOverridesEarlierOneKeyByKey) {
  std::string base = write_temp("base.toml", "[train]\nlr = 0.5\nepochs = 3\n[model]\narch = \"resnet18\"\n");
  std::string site = write_temp("site.toml", "[train]\nlr = 0.25\n");
  Config cfg = load({base, site}, {});
  EXPECT_EQ(cfg.train.lr, 0.25);
  EXPECT_EQ(cfg.train.epochs, 3);
  EXPECT_EQ(cfg.model.arch, "resnet18");
  EXPECT_EQ(load({site, base}, {}).train.lr, 0.5);
}

TEST(Config, SetOverridesApplyAfterAllFilesInOrder) {
  std::string file = write_temp("a.toml", "[train]\nlr = 0.5\nepochs = 3\n");
  Config cfg = load({file}, {"train.lr=0.125", "train.epochs=4", "train.epochs=9"});
  EXPECT_EQ(cfg.train.lr, 0.125);
  EXPECT_EQ(cfg.train.epochs, 9);
}

TEST(Config, DottedKeysAndInlineTablesInFilesAreAccepted) {
  std::string file = write_temp("a.toml", "train.lr = 0.5\nmodel = { arch = \"resnet34\" }\n");
  Config cfg = load({file}, {});
  EXPECT_EQ(cfg.train.lr, 0.5);
  EXPECT_EQ(cfg.model.arch, "resnet34");
}

// ---------------------------------------------------------------- --set

TEST(Config, SetParsesTypedTomlValues) {
  Config cfg =
      load({}, {"train.lr=1e-3", "model.strides=[1, 2, 2, 2]", "data.flip=false", "model.arch=\"resnet18\"",
                "data.mean = [0.5, 0.25, 1]", "train.seed=42", "train.epochs=7", "loss.alpha=1"});
  EXPECT_EQ(cfg.train.lr, 1e-3);
  EXPECT_EQ(cfg.model.strides, (std::array<int, 4>{1, 2, 2, 2}));
  EXPECT_FALSE(cfg.data.flip);
  EXPECT_EQ(cfg.model.arch, "resnet18");
  EXPECT_EQ(cfg.data.mean, (std::array<double, 3>{0.5, 0.25, 1.0}));
  EXPECT_EQ(cfg.train.seed, 42u);
  EXPECT_EQ(cfg.train.epochs, 7);
  EXPECT_EQ(cfg.loss.alpha, 1.0);
}

TEST(Config, SetTakesBareWordsAsStrings) {
  Config cfg = load({}, {"model.arch=resnet18", "run.out=/tmp/x y", "data.root=", "model.pretrained=2024"});
  EXPECT_EQ(cfg.model.arch, "resnet18");
  EXPECT_EQ(cfg.run.out, "/tmp/x y");
  EXPECT_EQ(cfg.data.root, "");
  EXPECT_EQ(cfg.model.pretrained, "2024");
}

TEST(Config, SetAcceptsAnInlineTableForASection) {
  Config cfg = load({}, {"model={arch=\"resnet101\", strides=[2,2,2,1]}"});
  EXPECT_EQ(cfg.model.arch, "resnet101");
  EXPECT_EQ(cfg.model.strides, (std::array<int, 4>{2, 2, 2, 1}));
}

TEST(Config, IntegerIsAcceptedWhereAFloatIsExpected) {
  Config cfg = load({write_temp("a.toml", "[train]\nlr = 1\nhead_lr_mult = 20\n")}, {});
  EXPECT_EQ(cfg.train.lr, 1.0);
  EXPECT_EQ(cfg.train.head_lr_mult, 20.0);
}

TEST(Config, MalformedSetItemIsAUsageError) {
  EXPECT_NE(load_error({}, {"train.lr"}).find("--set train.lr: expected key.path=value"), std::string::npos);
  EXPECT_NE(load_error({}, {"=3"}).find("expected key.path=value"), std::string::npos);
}

// ---------------------------------------------------------------- unknown keys

TEST(Config, UnknownKeyNamesFileLineAndPath) {
  std::string file = write_temp("x.toml", "[train]\nlr = 0.1\n\nlrr = 0.2\n");
  std::string msg = load_error({file});
  EXPECT_NE(msg.find(file + ":4: unknown key 'train.lrr'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'train.lr'?"), std::string::npos) << msg;
}

TEST(Config, UnknownSectionNamesFileLineAndSuggestsTheClosest) {
  std::string file = write_temp("x.toml", "[model]\narch = \"resnet50\"\n\n[trian]\nlr = 0.1\n");
  std::string msg = load_error({file});
  EXPECT_NE(msg.find(file + ":4: unknown key 'trian'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'train'?"), std::string::npos) << msg;
}

TEST(Config, KeyInTheWrongSectionSuggestsTheRightOne) {
  std::string msg = load_error({write_temp("x.toml", "[train]\nalpha = 0.1\n")});
  EXPECT_NE(msg.find("unknown key 'train.alpha' (did you mean 'loss.alpha'?)"), std::string::npos) << msg;
}

TEST(Config, FarFetchedUnknownKeyGetsNoSuggestion) {
  std::string msg = load_error({write_temp("x.toml", "[train]\nwarmup_schedule_kind = 1\n")});
  EXPECT_NE(msg.find("unknown key 'train.warmup_schedule_kind'"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("did you mean"), std::string::npos) << msg;
}

TEST(Config, UnknownKeyInSetNamesTheSetItem) {
  std::string msg = load_error({}, {"train.lrr=0.1"});
  EXPECT_NE(msg.find("--set train.lrr=0.1: unknown key 'train.lrr' (did you mean 'train.lr'?)"),
            std::string::npos)
      << msg;
}

TEST(Config, KeyBelowAValueIsUnknown) {
  std::string msg = load_error({}, {"train.lr.x=1"});
  EXPECT_NE(msg.find("unknown key 'train.lr.x'"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- wrong types

TEST(Config, WrongTypeNamesFileLineKeyExpectedAndActual) {
  std::string file = write_temp("x.toml", "[train]\nlr = 0.1\nepochs = \"ten\"\n");
  std::string msg = load_error({file});
  EXPECT_NE(msg.find(file + ":3: key 'train.epochs' expects an integer, got string"), std::string::npos)
      << msg;
}

TEST(Config, FloatWhereAnIntegerIsExpectedIsRejected) {
  std::string msg = load_error({write_temp("x.toml", "[data]\ntrain_crop = 224.0\n")});
  EXPECT_NE(msg.find(":2: key 'data.train_crop' expects an integer, got float"), std::string::npos) << msg;
}

TEST(Config, ArrayOfTheWrongLengthIsRejected) {
  std::string msg = load_error({write_temp("x.toml", "[model]\nstrides = [1, 2, 2]\n")});
  EXPECT_NE(msg.find(":2: key 'model.strides' expects an array of 4 integers, got array of 3"),
            std::string::npos)
      << msg;
}

TEST(Config, ArrayElementOfTheWrongTypeIsRejected) {
  std::string msg = load_error({write_temp("x.toml", "[data]\n\nmean = [0.5, \"x\", 0.5]\n")});
  EXPECT_NE(msg.find(":3: key 'data.mean' expects an array of 3 numbers, got string at index 1"),
            std::string::npos)
      << msg;
}

TEST(Config, WrongTypeInSetNamesTheSetItem) {
  std::string msg = load_error({}, {"train.lr=abc"});
  EXPECT_NE(msg.find("--set train.lr=abc: key 'train.lr' expects a number, got string"), std::string::npos)
      << msg;
}

TEST(Config, SectionGivenAValueIsRejected) {
  std::string msg = load_error({write_temp("x.toml", "model = 3\n")});
  EXPECT_NE(msg.find(":1: key 'model' expects a table, got integer"), std::string::npos) << msg;
}

TEST(Config, IntegerOutsideThe32BitRangeIsRejected) {
  std::string msg = load_error({}, {"train.epochs=4294967296"});
  EXPECT_NE(msg.find("key 'train.epochs' expects an integer, got 4294967296 (outside the 32-bit range)"),
            std::string::npos)
      << msg;
}

TEST(Config, NegativeSeedIsRejected) {
  std::string msg = load_error({}, {"train.seed=-1"});
  EXPECT_NE(msg.find("key 'train.seed' expects a non-negative integer, got -1"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- ranges and choices

TEST(Config, OutOfRangeValueNamesFileLineKeyAndValue) {
  std::string file = write_temp("x.toml", "[train]\nepochs = 2\nlr = -0.5\n");
  std::string msg = load_error({file});
  EXPECT_NE(msg.find(file + ":3: train.lr = -0.5: must be > 0"), std::string::npos) << msg;
}

TEST(Config, OutOfRangeValueFromSetNamesTheSetItem) {
  std::string msg = load_error({}, {"train.momentum=1"});
  EXPECT_NE(msg.find("--set train.momentum=1: train.momentum = 1.0: must be in [0, 1)"), std::string::npos)
      << msg;
}

TEST(Config, LaterSourceOfABadValueIsTheOneNamed) {
  std::string file = write_temp("x.toml", "[train]\nbatch_size = 0\n");
  std::string msg = load_error({file}, {"train.batch_size=-3"});
  EXPECT_NE(msg.find("--set train.batch_size=-3: train.batch_size = -3: must be > 0"), std::string::npos)
      << msg;
}

TEST(Config, InvalidChoiceListsTheAllowedValues) {
  std::string file = write_temp("x.toml", "[model]\narch = \"resnet152\"\n");
  std::string msg = load_error({file});
  EXPECT_NE(
      msg.find(file +
               ":2: model.arch = \"resnet152\": must be one of resnet18, resnet34, resnet50, resnet101"),
      std::string::npos)
      << msg;
  EXPECT_NE(load_error({}, {"data.layout=coco"})
                .find("data.layout = \"coco\": must be one of cub, imagenet, voc, folder"),
            std::string::npos);
  EXPECT_NE(load_error({}, {"train.optimizer=adam"}).find("must be one of reference, sgd"),
            std::string::npos);
}

// run.channels_last takes a boolean or "auto" (TOML or --set); anything
// else names the key, what it expects and what it got.
TEST(Config, ChannelsLastIsABooleanOrAuto) {
  EXPECT_EQ(load({}, {"run.channels_last=auto"}).run.channels_last, Toggle::kAuto);
  EXPECT_EQ(load({}, {"run.channels_last=true"}).run.channels_last, Toggle::kTrue);
  EXPECT_EQ(load({write_temp("x.toml", "[run]\nchannels_last = false\n")}, {}).run.channels_last,
            Toggle::kFalse);
  EXPECT_EQ(load({write_temp("y.toml", "[run]\nchannels_last = \"auto\"\n")}, {}).run.channels_last,
            Toggle::kAuto);
  const std::string file = write_temp("z.toml", "[run]\nchannels_last = \"yes\"\n");
  EXPECT_NE(load_error({file}).find(file + ":2: key 'run.channels_last' expects true, false or \"auto\", got "
                                           "the string \"yes\""),
            std::string::npos)
      << load_error({file});
  EXPECT_NE(load_error({}, {"run.channels_last=1"}).find("expects true, false or \"auto\", got integer"),
            std::string::npos);
  EXPECT_NE(load_error({}, {"run.precision=fp16"}).find("must be one of auto, fp32, bf16"), std::string::npos);
  EXPECT_NE(load_error({}, {"data.resample=bicubic"}).find("must be one of pil, fast"), std::string::npos);
  EXPECT_NE(load_error({}, {"data.batch_dtype=half"}).find("must be one of auto, float32, uint8"),
            std::string::npos);
}

TEST(Config, StrideOtherThanOneOrTwoIsRejected) {
  std::string msg = load_error({}, {"model.strides=[1,2,3,1]"});
  EXPECT_NE(msg.find("model.strides = [1, 2, 3, 1]: each element must be one of 1, 2"), std::string::npos)
      << msg;
}

TEST(Config, CropLargerThanResizeIsRejected) {
  std::string file = write_temp("x.toml", "[data]\ntrain_resize = 256\ntrain_crop = 300\n");
  std::string msg = load_error({file});
  EXPECT_NE(msg.find(file + ":3: data.train_crop = 300 must be <= data.train_resize = 256"),
            std::string::npos)
      << msg;
  msg = load_error({}, {"data.test_resize=400"});
  EXPECT_NE(msg.find("--set data.test_resize=400: data.test_crop = 448 must be <= data.test_resize = 400"),
            std::string::npos)
      << msg;
}

TEST(Config, NonFiniteNumbersAreRejected) {
  EXPECT_NE(load_error({}, {"train.lr=nan"}).find("train.lr = nan: must be a finite number"),
            std::string::npos);
  EXPECT_NE(load_error({}, {"data.mean=[0.5, inf, 0.5]"}).find("each element must be a finite number"),
            std::string::npos);
}

TEST(Config, EmptyRunFolderIsRejected) {
  EXPECT_NE(load_error({}, {"run.out="}).find("run.out = \"\": must be non-empty"), std::string::npos);
}

TEST(Config, EachRangeBoundaryIsEnforced) {
  EXPECT_NO_THROW(
      (void)load({}, {"train.momentum=0", "loss.alpha=0", "train.max_steps=0", "eval.heatmaps=0"}));
  for (std::string bad :
       {"loss.alpha=-0.1", "data.std=[0.2, 0, 0.2]", "train.weight_decay=-1e-9", "train.head_lr_mult=0",
        "train.poly_power=-1", "train.max_steps=-1", "train.log_every=0", "train.checkpoint_every=-1",
        "train.keep_checkpoints=0", "eval.every_epochs=-1", "eval.batch_size=0", "eval.heatmaps=-1",
        "run.threads=-1", "data.loader_threads=-1", "data.train_resize=0", "train.epochs=0"})
    EXPECT_NE(load_error({}, {bad}).find("--set " + bad + ": "), std::string::npos) << bad;
}

TEST(Config, ValidateWithoutLocationsNamesKeyAndValue) {
  Config cfg;
  cfg.train.batch_size = 0;
  EXPECT_EQ(usage_error([&] { validate(cfg); }), "train.batch_size = 0: must be > 0");
  cfg = Config{};
  cfg.train.seed = std::numeric_limits<std::uint64_t>::max();
  EXPECT_NE(usage_error([&] { validate(cfg); }).find("train.seed"), std::string::npos);
}

// ---------------------------------------------------------------- files

TEST(Config, ParseErrorNamesFileLineAndColumn) {
  std::string file = write_temp("x.toml", "[train]\nlr = 0.1\nepochs = = 3\n");
  std::string msg = load_error({file});
  EXPECT_EQ(msg.rfind(file + ":3:", 0), 0u) << msg;
}

TEST(Config, MissingFileIsAUsageErrorNamingThePath) {
  std::string msg = load_error({"/nonexistent/c2am.toml"});
  EXPECT_NE(msg.find("/nonexistent/c2am.toml: cannot read config file"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- to_toml

TEST(Config, ToTomlRoundTripsEveryFieldExactly) {
  Config cfg;
  cfg.model.arch = "resnet101";
  cfg.model.strides = {2, 1, 2, 2};
  cfg.model.pretrained = "w/\"odd\" \\ name\t\x01 \xc3\xa9.pth";
  cfg.loss.alpha = 0.1 + 0.2;
  cfg.data.layout = "folder";
  cfg.data.root = "/data/my set";
  cfg.data.train_resize = 300;
  cfg.data.train_crop = 300;
  cfg.data.flip = false;
  cfg.data.test_resize = 500;
  cfg.data.test_crop = 17;
  cfg.data.loader_threads = 5;
  cfg.data.max_pixels = 0;
  cfg.data.resample = "fast";
  cfg.data.batch_dtype = "uint8";
  cfg.data.mean = {-0.0, 1.0 / 3.0, 123456789.123456789};
  cfg.data.std = {5e-324, 1e300, 2.0};
  cfg.train.epochs = 123;
  cfg.train.batch_size = 7;
  cfg.train.lr = 1e-20;
  cfg.train.weight_decay = 0.0;
  cfg.train.optimizer = "sgd";
  cfg.train.momentum = std::nextafter(1.0, 0.0);
  cfg.train.head_lr_mult = 1e20;
  cfg.train.poly_power = 10.0;
  cfg.train.max_steps = 2147483647;
  cfg.train.seed = 9223372036854775807ull;
  cfg.train.log_every = 1;
  cfg.train.checkpoint_every = 11;
  cfg.train.keep_checkpoints = 9;
  cfg.eval.every_epochs = 2;
  cfg.eval.batch_size = 3;
  cfg.eval.heatmaps = 0;
  cfg.dist.backend = "mpi";
  cfg.dist.bucket_mb = 0.5;
  cfg.dist.timeout_s = 30;
  cfg.dist.sync_batchnorm = "all";
  cfg.dist.negatives = "local";
  cfg.run.out = "runs/round trip";
  cfg.run.threads = 4;
  cfg.run.precision = "bf16";
  cfg.run.channels_last = Toggle::kTrue;
  ASSERT_NO_THROW(validate(cfg));

  std::string text = to_toml(cfg);
  Config back = load({write_temp("resolved.toml", text)}, {});
  expect_same(back, cfg);
  EXPECT_TRUE(std::signbit(back.data.mean[0]));
  EXPECT_EQ(to_toml(back), text);
}

TEST(Config, ToTomlOfTheDefaultsListsEveryTableAndKey) {
  std::string text = to_toml(Config{});
  for (const char* table : {"[model]", "[loss]", "[data]", "[train]", "[eval]", "[wsss]", "[dist]", "[run]"})
    EXPECT_NE(text.find(table), std::string::npos) << table;
  EXPECT_EQ(keys_of(text).size(), 66u);
  EXPECT_NE(text.find("lr = 0.0001"), std::string::npos) << text;
  EXPECT_NE(text.find("head_lr_mult = 10.0"), std::string::npos) << text;
  expect_same(load({write_temp("defaults.toml", text)}, {}), Config{});
}

// ---------------------------------------------------------------- shipped files

TEST(Config, EveryShippedConfigFileLoadsAndValidates) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(C2AM_SOURCE_DIR) / "configs")) {
    if (entry.path().extension() != ".toml") continue;
    ++count;
    EXPECT_NO_THROW((void)load({entry.path().string()}, {})) << entry.path();
  }
  EXPECT_GE(count, 4);
}

TEST(Config, ReferenceRecipesMatchTheMethodSection6) {
  const std::string dir = std::string(C2AM_SOURCE_DIR) + "/configs/";
  Config cub = load({dir + "cub.toml"}, {});
  EXPECT_EQ(cub.data.layout, "cub");
  EXPECT_EQ(cub.train.batch_size, 16);
  EXPECT_EQ(cub.train.lr, 1e-4);
  EXPECT_EQ(cub.train.epochs, 20);
  EXPECT_EQ(cub.data.train_resize, 256);
  EXPECT_EQ(cub.data.train_crop, 224);
  EXPECT_EQ(cub.data.test_resize, 480);
  EXPECT_EQ(cub.data.test_crop, 448);
  EXPECT_EQ(cub.loss.alpha, 0.05);
  Config ilsvrc = load({dir + "ilsvrc.toml"}, {});
  EXPECT_EQ(ilsvrc.data.layout, "imagenet");
  EXPECT_EQ(ilsvrc.train.batch_size, 256);
  EXPECT_EQ(ilsvrc.train.lr, 1e-4);
  EXPECT_EQ(ilsvrc.train.epochs, 5);
  EXPECT_EQ(ilsvrc.loss.alpha, 0.05);
  Config voc = load({dir + "voc.toml"}, {});
  EXPECT_EQ(voc.data.layout, "voc");
  EXPECT_EQ(voc.data.train_resize, 512);
  EXPECT_EQ(voc.data.train_crop, 448);
  EXPECT_EQ(voc.train.batch_size, 128);
  EXPECT_EQ(voc.train.lr, 1e-3);
  EXPECT_EQ(voc.train.epochs, 10);
  EXPECT_EQ(voc.loss.alpha, 0.25);
  for (const Config* c : {&cub, &ilsvrc, &voc}) {
    EXPECT_EQ(c->model.arch, "resnet50");
    EXPECT_EQ(c->model.strides, (std::array<int, 4>{1, 2, 2, 1}));
    EXPECT_EQ(c->train.optimizer, "reference");
    EXPECT_EQ(c->train.weight_decay, 1e-4);
    EXPECT_EQ(c->train.head_lr_mult, 10.0);
    EXPECT_EQ(c->train.poly_power, 0.9);
    EXPECT_EQ(c->data.mean, (std::array<double, 3>{0.485, 0.456, 0.406}));
    EXPECT_EQ(c->data.std, (std::array<double, 3>{0.229, 0.224, 0.225}));
  }
  Config demo = load({dir + "synth_demo.toml"}, {});
  EXPECT_EQ(demo.model.arch, "resnet18");
  EXPECT_EQ(demo.train.optimizer, "sgd");
  EXPECT_EQ(demo.run.out, "runs/demo");
}

TEST(Config, ReferenceFilesLayerOverTheRecipes) {
  const std::string dir = std::string(C2AM_SOURCE_DIR) + "/configs/";
  // The authors' code as it ran (docs/training.md "Reference mode").
  const Config cub = load({dir + "cub.toml", dir + "cub_reference.toml"}, {});
  const Config ilsvrc = load({dir + "ilsvrc.toml", dir + "ilsvrc_reference.toml"}, {});
  const Config voc = load({dir + "voc.toml", dir + "voc_reference.toml"}, {});
  for (const Config* c : {&cub, &ilsvrc, &voc}) EXPECT_EQ(c->train.head_lr_mult, 1.0);
  EXPECT_EQ(cub.dist.negatives, "global");
  EXPECT_EQ(ilsvrc.dist.negatives, "local");
  EXPECT_EQ(voc.dist.negatives, "global");
  EXPECT_EQ(cub.train.polarity_rule, "wsol");
  EXPECT_EQ(ilsvrc.train.polarity_rule, "wsol");
  EXPECT_EQ(voc.train.polarity_rule, "wsss");
  EXPECT_EQ(cub.eval.protocol, "reference");
  EXPECT_EQ(ilsvrc.eval.protocol, "reference");
  // Everything else is the recipe's.
  EXPECT_EQ(cub.train.lr, 1e-4);
  EXPECT_EQ(voc.data.train_crop, 448);
}

TEST(Config, PsolRecipesFollowTheAuthorsTrainingScripts) {
  const std::string dir = std::string(C2AM_SOURCE_DIR) + "/configs/";
  const Config cub = load({dir + "cub_psol.toml"}, {});
  const Config ilsvrc = load({dir + "ilsvrc_psol.toml"}, {});
  for (const Config* c : {&cub, &ilsvrc}) {
    EXPECT_EQ(c->model.kind, "regressor");
    EXPECT_EQ(c->model.arch, "resnet50");
    EXPECT_EQ(c->model.strides, (std::array<int, 4>{1, 2, 2, 2}));
    EXPECT_EQ(c->train.lr, 0.002);
    EXPECT_EQ(c->train.lr_schedule, "cosine");
    EXPECT_EQ(c->train.optimizer, "sgd");
    EXPECT_EQ(c->train.momentum, 0.9);
    EXPECT_EQ(c->train.weight_decay, 1e-4);
    EXPECT_EQ(c->train.parameters, "all");
    EXPECT_EQ(c->train.head_lr_mult, 2.0);
    EXPECT_EQ(c->data.test_resize, 256);
    EXPECT_EQ(c->data.test_crop, 224);
  }
  EXPECT_EQ(cub.train.epochs, 100);
  EXPECT_EQ(cub.train.batch_size, 64);
  EXPECT_EQ(ilsvrc.train.epochs, 20);
  EXPECT_EQ(ilsvrc.train.batch_size, 256);
}

TEST(Config, DocsDescribeEveryKey) {
  std::string docs = read_text(fs::path(C2AM_SOURCE_DIR) / "docs" / "config.md");
  ASSERT_FALSE(docs.empty());
  for (const std::string& key : keys_of(to_toml(Config{})))
    EXPECT_NE(docs.find("`" + key + "`"), std::string::npos) << key << " is missing from docs/config.md";
}

}  // namespace
}  // namespace c2am::config
