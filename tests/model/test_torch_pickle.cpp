// Implements: tests of c2am::model::read_torch_save against files that Python's
// torch.save writes at test time (/usr/bin/python3 with python3-torch and
// torchvision; the test fails when they are missing). Every case NAME.pth comes
// with NAME.expected.pt: the same tensors, flattened by Python into a plain dict
// of contiguous tensors that LibTorch's own torch::pickle_load can read.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/error_message.h"
#include "common/python_files.h"
#include "common/temp_dir.h"
#include "model/torch_pickle.h"
#include "model/weights.h"
#include "util/error.h"
#include "util/fs.h"

namespace {

using TensorMap = std::map<std::string, torch::Tensor>;

constexpr const char* kMakeFiles = R"PY(
import argparse, collections, io, os, pickle, sys
import torch, torchvision

out = sys.argv[1]
torch.manual_seed(0)

def flatten(obj, prefix, res):
    if isinstance(obj, torch.Tensor):
        res[prefix] = obj.detach().clone(memory_format=torch.contiguous_format)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, f'{prefix}.{k}' if prefix else str(k), res)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(v, f'{prefix}.{i}' if prefix else str(i), res)
    return res

def save_case(name, obj, **kw):
    torch.save(obj, os.path.join(out, name + '.pth'), **kw)
    torch.save(flatten(obj, '', {}), os.path.join(out, name + '.expected.pt'))

# (a) a torchvision state_dict: an OrderedDict with _metadata.
sd = torchvision.models.resnet18(weights=None).state_dict()
assert type(sd) is collections.OrderedDict and hasattr(sd, '_metadata')
save_case('resnet18', sd)

# (b) a MoCo-style checkpoint, with an optimizer state and argparse args.
net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
opt = torch.optim.SGD(net.parameters(), lr=0.03, momentum=0.9, weight_decay=1e-4)
net(torch.randn(2, 3, 8, 8)).sum().backward()
opt.step()
net_sd = net.state_dict()
sd = collections.OrderedDict(('module.encoder_q.' + k, v) for k, v in net_sd.items())
sd.update(('module.encoder_k.' + k, v.clone()) for k, v in net_sd.items())
sd['module.queue'] = torch.randn(16, 32)
sd['module.queue_ptr'] = torch.zeros(1, dtype=torch.long)
sd._metadata = net_sd._metadata
moco = {'epoch': 3, 'arch': 'resnet50', 'state_dict': sd, 'optimizer': opt.state_dict(),
        'args': argparse.Namespace(lr=0.1, arch='resnet50', gpu=None, schedule=[120, 160]),
        'best_acc1': 71.5, 'flag': True, 'nothing': None, 'big': 2**70, 'neg': -123456789012,
        'device': torch.device('cpu'), 'dtype': torch.float16, 'blob': b'\x00\x01'}
save_case('moco', moco)
save_case('moco_p4', moco, pickle_protocol=4)

# (c) dtypes, views, shared storages, 0-dim and empty tensors.
base = torch.randn(3, 5)
shared = torch.arange(12, dtype=torch.float32)
save_case('dtypes', {
    'f32': torch.randn(3, 4), 'f64': torch.randn(5, dtype=torch.float64),
    'f16': torch.randn(2, 3).half(), 'bf16': torch.randn(4).bfloat16(),
    'i64': torch.arange(-3, 3), 'i32': torch.tensor([1, -2, 2**31 - 1], dtype=torch.int32),
    'i16': torch.tensor([-7, 300], dtype=torch.int16), 'i8': torch.tensor([-128, 5], dtype=torch.int8),
    'u8': torch.tensor([0, 7, 255], dtype=torch.uint8), 'bool': torch.tensor([True, False, True]),
    'base': base, 'base_t': base.t(), 'shared_a': shared[:6], 'shared_b': shared[4:10].view(2, 3),
    'scalar': torch.tensor(3.5), 'scalar_i': torch.tensor(7), 'empty': torch.zeros(0, 3),
    'expanded': torch.ones(1).expand(4), 'param': torch.nn.Parameter(torch.randn(2, 2)),
    'nested': [torch.ones(2), (torch.zeros(1), {'x': torch.full((2,), 5.0), 7: torch.tensor([1])})],
})
torch.save(torch.arange(3.0), os.path.join(out, 'single.pth'))  # (one-key dicts use SETITEM, which torch::pickle_load lacks)

# (d) the legacy (pre-1.6) format.
torch.save({'w': torch.randn(3)}, os.path.join(out, 'legacy.pth'), _use_new_zipfile_serialization=False)

# A PyTorch-2-style archive: protocol 4, torch.storage.UntypedStorage (numel in
# bytes), _rebuild_tensor_v3 with a dtype, a 'byteorder' record.
def v3(*args):
    raise RuntimeError('only pickled')
v3.__module__, v3.__name__, v3.__qualname__ = 'torch._utils', '_rebuild_tensor_v3', '_rebuild_tensor_v3'
torch._utils._rebuild_tensor_v3 = v3
class Raw:
    def __init__(self, key, data):
        self.key, self.data = key, data
class V3:
    def __init__(self, raw, offset, size, stride, dtype):
        self.args = (raw, offset, size, stride, False, collections.OrderedDict(), dtype)
    def __reduce__(self):
        return (v3, self.args)
class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        return ('storage', torch.UntypedStorage, obj.key, 'cpu', len(obj.data)) if isinstance(obj, Raw) else None

def write_archive(name, records):
    w = torch._C.PyTorchFileWriter(os.path.join(out, name))
    for key, data in records.items():
        w.write_record(key, data, len(data))
    w.write_end_of_file()

h = torch.randn(3, 4).half()
raw = Raw('0', h.numpy().tobytes())
buf = io.BytesIO()
Pickler(buf, protocol=4).dump({'h': V3(raw, 0, (3, 4), (4, 1), torch.float16),
                               'h_tail': V3(raw, 4, (2, 4), (4, 1), torch.float16),
                               'h_t': V3(raw, 0, (4, 3), (1, 4), torch.float16)})
write_archive('v2style.pth', {'data.pkl': buf.getvalue(), 'byteorder': b'little', 'data/0': raw.data})
torch.save({'h': h, 'h_tail': h[1:].clone(), 'h_t': h.t().contiguous()}, os.path.join(out, 'v2style.expected.pt'))

# An archive whose tensor reaches outside its storage (12 float16 elements).
buf = io.BytesIO()
Pickler(buf, protocol=4).dump({'outside': V3(raw, 6, (2, 4), (4, 1), torch.float16)})
write_archive('outside.pth', {'data.pkl': buf.getvalue(), 'byteorder': b'little', 'data/0': raw.data})

# An archive whose pickle uses an opcode the reader lacks (EMPTY_SET).
write_archive('badop.pth', {'data.pkl': b'\x80\x02\x8f.'})
print('ok')
)PY";

// The expected tensors, through LibTorch's own unpickler (a plain dict works there).
TensorMap read_expected(const std::string& path) {
  const std::string bytes = c2am::util::read_file(path);
  const c10::IValue root = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  TensorMap out;
  for (const auto& item : root.toGenericDict()) out[item.key().toStringRef()] = item.value().toTensor();
  return out;
}

std::vector<std::string> keys_of(const TensorMap& m) {
  std::vector<std::string> keys;
  for (const auto& item : m) keys.push_back(item.first);
  return keys;
}

// Same keys, dtypes, sizes and bytes.
void expect_same(const TensorMap& ours, const TensorMap& expected) {
  ASSERT_EQ(keys_of(ours), keys_of(expected));
  for (const auto& [key, want] : expected) {
    const torch::Tensor& got = ours.at(key);
    EXPECT_EQ(got.scalar_type(), want.scalar_type()) << key;
    EXPECT_FALSE(got.requires_grad()) << key;
    ASSERT_EQ(got.sizes(), want.sizes()) << key;
    const torch::Tensor a = got.contiguous();
    const torch::Tensor b = want.contiguous();
    if (a.numel() > 0) {
      EXPECT_EQ(0, std::memcmp(a.data_ptr(), b.data_ptr(), a.nbytes())) << key;
    }
  }
}

// The message of the c2am::Error that reading `path` throws.
std::string error_of(const std::string& path) {
  return c2am::testing_util::error_message([&] { c2am::model::read_torch_save(path); });
}

class TorchPickle : public ::testing::Test {
 protected:
  // The Python files are written once per version of kMakeFiles into the build
  // folder and shared by the test processes (ctest runs each test alone);
  // files that the tests write themselves go to a folder per test.
  static void SetUpTestSuite() {
    dir_ = c2am::testing_util::python_files(
        "model/torch_pickle_files", kMakeFiles,
        "PyTorch and torchvision (Debian: apt install python3-torch python3-torchvision)", &setup_error_);
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  static std::string file(const std::string& name) { return dir_ + "/" + name; }
  std::string scratch(const std::string& name) const { return tmp_.sub(name); }
  static void expect_case(const std::string& name) {
    expect_same(c2am::model::read_torch_save(file(name + ".pth")), read_expected(file(name + ".expected.pt")));
  }

  static inline std::string dir_;  // the Python-written files
  static inline std::string setup_error_;
  c2am::testing_util::TempDir tmp_;  // this test's own files
};

TEST_F(TorchPickle, TorchvisionStateDictWithMetadata) {
  const TensorMap ours = c2am::model::read_torch_save(file("resnet18.pth"));
  EXPECT_EQ(ours.size(), 122u);  // resnet18: 62 parameters + 60 batch-norm buffers
  EXPECT_EQ(ours.at("conv1.weight").sizes(), (std::vector<int64_t>{64, 3, 7, 7}));
  EXPECT_EQ(ours.at("bn1.num_batches_tracked").dim(), 0);
  expect_case("resnet18");
}

TEST_F(TorchPickle, MocoCheckpointWithOptimizerAndArgs) {
  const TensorMap ours = c2am::model::read_torch_save(file("moco.pth"));
  EXPECT_EQ(ours.count("state_dict.module.encoder_q.0.weight"), 1u);
  EXPECT_EQ(ours.count("state_dict.module.encoder_k.1.running_var"), 1u);
  EXPECT_EQ(ours.count("state_dict.module.queue"), 1u);
  EXPECT_EQ(ours.count("optimizer.state.0.momentum_buffer"), 1u);
  for (const auto& item : ours) {
    EXPECT_TRUE(item.first.rfind("state_dict.", 0) == 0 || item.first.rfind("optimizer.state.", 0) == 0)
        << item.first;
  }
  expect_case("moco");
}

TEST_F(TorchPickle, PickleProtocol4) { expect_case("moco_p4"); }

TEST_F(TorchPickle, DtypesViewsAndSharedStorages) {
  expect_case("dtypes");
  const TensorMap t = c2am::model::read_torch_save(file("dtypes.pth"));
  EXPECT_EQ(t.at("f16").scalar_type(), torch::kHalf);
  EXPECT_EQ(t.at("bool").scalar_type(), torch::kBool);
  EXPECT_EQ(t.at("u8").scalar_type(), torch::kByte);

  const torch::Tensor& base_t = t.at("base_t");
  EXPECT_FALSE(base_t.is_contiguous());
  EXPECT_EQ(base_t.strides(), (std::vector<int64_t>{1, 5}));
  EXPECT_EQ(base_t.storage().data(), t.at("base").storage().data());
  EXPECT_EQ(t.at("expanded").strides(), (std::vector<int64_t>{0}));

  torch::Tensor a = t.at("shared_a");
  const torch::Tensor& b = t.at("shared_b");
  EXPECT_EQ(a.storage().data(), b.storage().data());
  EXPECT_EQ(b.storage_offset(), 4);
  a[5] = 100.0f;  // shared[5] is b[0][1]
  EXPECT_EQ(b[0][1].item<float>(), 100.0f);

  EXPECT_EQ(t.at("scalar").dim(), 0);
  EXPECT_EQ(t.at("scalar").item<float>(), 3.5f);
  EXPECT_EQ(t.at("scalar_i").item<int64_t>(), 7);
  EXPECT_EQ(t.at("empty").sizes(), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(t.at("nested.1.1.7").item<int64_t>(), 1);
}

TEST_F(TorchPickle, SingleTensorHasTheEmptyKey) {
  const TensorMap t = c2am::model::read_torch_save(file("single.pth"));
  ASSERT_EQ(keys_of(t), std::vector<std::string>{""});
  EXPECT_TRUE(torch::equal(t.at(""), torch::arange(3.0, torch::kFloat)));
}

TEST_F(TorchPickle, PyTorch2StyleUntypedStorageAndRebuildV3) { expect_case("v2style"); }

TEST_F(TorchPickle, ReadsWhatLibTorchPickleSaveWrites) {
  const TensorMap written = {{"a.w", torch::randn({3, 4})}, {"b", torch::arange(5)}, {"h", torch::ones({2}, torch::kHalf)}};
  c2am::model::write_tensor_dict(scratch("libtorch.pt"), written);
  expect_same(c2am::model::read_torch_save(scratch("libtorch.pt")), written);
}

TEST_F(TorchPickle, LegacyFormatIsRefusedWithAWayOut) {
  const std::string path = file("legacy.pth");
  const std::string msg = error_of(path);
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("legacy"), std::string::npos) << msg;
  EXPECT_NE(msg.find("torch.save(torch.load("), std::string::npos) << msg;
}

TEST_F(TorchPickle, TruncatedFileIsAnError) {
  const std::string bytes = c2am::util::read_file(file("moco.pth"));
  for (const size_t keep : {bytes.size() / 2, bytes.size() - 10, size_t{3}, size_t{0}}) {
    const std::string path = scratch(fmt::format("truncated_{}.pth", keep));
    std::ofstream(path, std::ios::binary) << bytes.substr(0, keep);
    const std::string msg = error_of(path);
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
  }
}

TEST_F(TorchPickle, OtherErrorsNameTheFile) {
  const std::string missing = scratch("missing.pth");
  EXPECT_THROW(c2am::model::read_torch_save(missing), c2am::IoError);

  const std::string badop = file("badop.pth");
  const std::string msg = error_of(badop);
  EXPECT_NE(msg.find(badop), std::string::npos) << msg;
  EXPECT_NE(msg.find("opcode 0x8f"), std::string::npos) << msg;
  EXPECT_NE(msg.find("byte 2"), std::string::npos) << msg;

  const std::string text = scratch("text.pth");
  std::ofstream(text) << "not a checkpoint\n";
  EXPECT_NE(error_of(text).find(text), std::string::npos);
}

TEST_F(TorchPickle, TensorOutsideItsStorageIsAnErrorNamingTheView) {
  const std::string path = file("outside.pth");
  const std::string msg = error_of(path);
  EXPECT_EQ(msg.rfind("cannot read '" + path + "' as a torch.save file: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("torch tensor of size [2, 4], stride [4, 1], offset 6 lies outside its storage of 12 "
                     "float16 elements"),
            std::string::npos)
      << msg;
}

}  // namespace
