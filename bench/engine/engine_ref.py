"""PyTorch side of bench/engine/engine.bench.ts: the same measurements with Debian's python3-torch.

Run by the TypeScript benchmark as
    GLIBC_TUNABLES=... OPENBLAS_NUM_THREADS=2 /usr/bin/python3 engine_ref.py '<config json>'
and prints one JSON object: {"torch": version, "threads": n, "results": {name: [ms per run, ...]}}.
The protocol (warm-up runs, timed runs, what one run contains) mirrors measure() in engine.bench.ts.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


def measure(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def block(cin, cout):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
        nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
    )


class UNet(nn.Module):
    """Three levels, 16-32-64 channels, transposed-conv upsampling, skip concatenation."""

    def __init__(self, cin, classes):
        super().__init__()
        self.enc1 = block(cin, 16)
        self.enc2 = block(16, 32)
        self.mid = block(32, 64)
        self.up2 = nn.ConvTranspose2d(64, 32, 2, stride=2)
        self.dec2 = block(64, 32)
        self.up1 = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.dec1 = block(32, 16)
        self.head = nn.Conv2d(16, classes, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        m = self.mid(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return self.head(d1)


def main():
    cfg = json.loads(sys.argv[1])
    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(0)
    res = {}

    # per-call cost of a tiny op: one run is `calls` adds of 1-element tensors
    a, b = torch.ones(1), torch.ones(1)
    calls = cfg["tinyCalls"]

    def tiny():
        for _ in range(calls):
            a + b

    res["tiny"] = measure(tiny, 1, cfg["tinyRuns"])

    c = cfg["conv"]
    x = torch.randn(c["n"], c["cin"], c["h"], c["w"])
    w = torch.randn(c["cout"], c["cin"], 3, 3) * 0.05
    bias = torch.randn(c["cout"])

    def conv_fwd():
        with torch.no_grad():
            F.conv2d(x, w, bias, padding=1)

    res["convFwd"] = measure(conv_fwd, cfg["warmup"], cfg["runs"])

    wg = w.clone().requires_grad_()
    bg = bias.clone().requires_grad_()
    gy = torch.ones(c["n"], c["cout"], c["h"], c["w"])

    def conv_fwd_bwd():
        F.conv2d(x, wg, bg, padding=1).backward(gy)
        wg.grad = None
        bg.grad = None

    res["convFwdBwd"] = measure(conv_fwd_bwd, cfg["warmup"], cfg["runs"])

    m = cfg["matmul"]
    A = torch.randn(m, m)
    B = torch.randn(m, m)

    def matmul():
        with torch.no_grad():
            A @ B

    res["matmul"] = measure(matmul, cfg["warmup"], cfg["runs"])

    u = cfg["unet"]
    net = UNet(u["cin"], u["classes"])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    ux = torch.randn(u["n"], u["cin"], u["size"], u["size"])
    uy = torch.randint(0, u["classes"], (u["n"], u["size"], u["size"]))

    def train_step():
        opt.zero_grad(set_to_none=True)  # 1.13's default is False (a memset); give PyTorch the fast path
        F.cross_entropy(net(ux), uy).backward()
        opt.step()

    res["unetStep"] = measure(train_step, cfg["warmup"], cfg["unetRuns"])
    params = sum(p.numel() for p in net.parameters())
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "unetParams": params, "results": res}))


if __name__ == "__main__":
    main()
