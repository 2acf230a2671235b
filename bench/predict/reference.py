"""PyTorch side of bench/predict: the same network as a kneeseg model file, run over a scan's slices.

  python3 reference.py MODEL.safetensors --slices N --batch B [--threads 2]

Loads the weights and the model config (metadata "model") of a kneeseg model file into the reference
network of bench/reference/ and times eval-mode, no-grad forward passes over N slices in batches of B
(pixel-wise head and argmax only, as prediction needs). Prints one JSON line with the seconds.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import st  # noqa: E402
from model import SegmentationNet  # noqa: E402


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--slices", type=int, required=True)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    state, meta = st.read(a.model)
    cfg = json.loads(meta["model"])
    net = SegmentationNet(cfg)
    net.load_state_dict(state, strict=True)
    net.eval()
    H, W = cfg["imageSize"]
    torch.manual_seed(0)
    x = torch.rand(a.batch, cfg["inChannels"], H, W) * 255
    with torch.no_grad():
        net.pw_head(net.backbone(x[:1])).argmax(1)  # warm-up
        t0 = time.perf_counter()
        for s0 in range(0, a.slices, a.batch):
            n = min(a.batch, a.slices - s0)
            net.pw_head(net.backbone(x[:n])).argmax(1)
        seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "slices": a.slices, "threads": torch.get_num_threads(),
                      "params": sum(p.numel() for p in net.parameters())}))


if __name__ == "__main__":
    main(sys.argv[1:])
