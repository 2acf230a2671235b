"""Runs the PyTorch reference networks on kneeseg's weights.

  python3 run.py parity DIR... [--threads N]
      DIR/weights.safetensors (state dict; metadata "config" = the model config JSON) and
      DIR/input.safetensors ("x" the input, "w" weights of the scalar loss sum(w * logits) + sum(w * ls)).
      Writes DIR/out.safetensors: eval.* outputs, then train.* outputs and grad.<param> of the loss
      (train mode, batch statistics), and loop.eval.* (MedT with the official per-patch loop).
  python3 run.py bench CONFIG_JSON --batch 4 --steps 3 [--local-loop] [--threads 2] [--no-train]
      Prints one JSON line: train step and per-slice inference times (s) and peak RSS (MiB).
"""
import argparse
import json
import resource
import sys
import time

import torch
import torch.nn.functional as F

import st
from model import SegmentationNet


def load(directory, local_loop=False):
    state, meta = st.read(f"{directory}/weights.safetensors")
    cfg = json.loads(meta["config"])
    net = SegmentationNet(cfg, local_loop)
    net.load_state_dict(state, strict=True)
    return net, cfg, state


def parity(directory):
    inputs, _ = st.read(f"{directory}/input.safetensors")
    x, w = inputs["x"], inputs["w"]
    out = {}
    net, cfg, _ = load(directory)
    net.eval()
    with torch.no_grad():
        for k, v in net(x).items():
            out[f"eval.{k}"] = v
    if cfg["backbone"] == "medt":
        loop, _, _ = load(directory, local_loop=True)
        loop.eval()
        with torch.no_grad():
            for k, v in loop(x).items():
                out[f"loop.eval.{k}"] = v
    net.train()
    y = net(x)
    loss = (y["logits"] * w).sum() + ((y["level_set"] * w).sum() if "level_set" in y else 0)
    loss.backward()
    for k, v in y.items():
        out[f"train.{k}"] = v.detach()
    for n, p in net.named_parameters():
        if p.grad is not None:
            out[f"grad.{n}"] = p.grad
    st.write(f"{directory}/out.safetensors", out)


def bench(cfg, batch, steps, local_loop, train=True):
    torch.manual_seed(0)
    net = SegmentationNet(cfg, local_loop)
    H, W = cfg["imageSize"]
    x = torch.randn(batch, cfg["inChannels"], H, W)
    y = torch.randint(0, cfg["outChannels"], (batch, H, W))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=1e-5)

    def step():
        opt.zero_grad(set_to_none=True)
        out = net(x)
        loss = F.cross_entropy(out["logits"], y)
        if "level_set" in out:
            loss = loss + F.mse_loss(out["level_set"], torch.zeros_like(out["level_set"]))
        loss.backward()
        opt.step()

    net.train()
    times = []
    if train:
        step()  # warm-up
    for _ in range(steps if train else 0):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    net.eval()
    x1 = x[:1].clone()
    infer = []
    with torch.no_grad():
        net(x1)
        for _ in range(max(steps, 3)):
            t0 = time.perf_counter()
            net(x1)
            infer.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"train_step_s": sorted(times), "infer_s": sorted(infer), "peak_rss_mib": rss,
                      "params": sum(p.numel() for p in net.parameters()), "threads": torch.get_num_threads()}))


def main(argv):
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("parity")
    p.add_argument("dirs", nargs="+")
    p.add_argument("--threads", type=int, default=1)
    b = sub.add_parser("bench")
    b.add_argument("config")
    b.add_argument("--batch", type=int, default=4)
    b.add_argument("--steps", type=int, default=3)
    b.add_argument("--local-loop", action="store_true")
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--no-train", action="store_true")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.cmd == "parity":
        for d in a.dirs:
            parity(d)
    else:
        bench(json.loads(a.config), a.batch, a.steps, a.local_loop, not a.no_train)


if __name__ == "__main__":
    main(sys.argv[1:])
