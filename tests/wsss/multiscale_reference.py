# The reference's multi-scale aggregation (the C2AM authors' WSSS/inference_CCAM.py,
# get_cam + the hr_cams lines), written out with PIL and PyTorch for the test
# tests/wsss/test_multiscale.cpp, with a simple stand-in for the network:
#   f(x) = avg_pool2d(cat(x0 - x1, x2 - x0), stride) (2 maps at output stride `stride`).
# Usage: multiscale_reference.py IMAGE.png OUT.pt SCALES(comma) STRIDE NEGATE(0|1)
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

path, out, scales, stride, negate = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
scales = [float(s) for s in scales.split(",")]
mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
ori = Image.open(path).convert("RGB")
ori_w, ori_h = ori.size


def net(x):
    m = torch.cat([x[:, 0:1] - x[:, 1:2], x[:, 2:3] - x[:, 0:1]], dim=1)
    return F.avg_pool2d(m, stride, stride)


def get_cam(scale):
    image = ori.resize((round(ori_w * scale), round(ori_h * scale)), resample=Image.BICUBIC)
    a = np.asarray(image)
    norm = np.empty_like(a, np.float32)
    for c in range(3):
        norm[..., c] = (a[..., c] / 255.0 - mean[c]) / std[c]
    image = torch.from_numpy(norm.transpose((2, 0, 1)))
    images = torch.stack([image, image.flip(-1)])
    cams = net(images)
    if negate:
        cams = 1 - cams
    cams = F.relu(cams)
    return cams[0] + cams[1].flip(-1)


up = (((ori_h - 1) // stride + 1) * stride, ((ori_w - 1) // stride + 1) * stride)
with torch.no_grad():
    cams = [get_cam(s) for s in scales]
    hr = [F.interpolate(c.unsqueeze(0), up, mode="bilinear", align_corners=False)[0] for c in cams]
    hr = torch.sum(torch.stack(hr), dim=0)[:, :ori_h, :ori_w]
    hr /= F.adaptive_max_pool2d(hr, (1, 1)) + 1e-5
torch.save({"maps": hr.contiguous()}, out)
