"""GenericSSL (src/methods/generic-ssl.ts) in PyTorch, written after the official 2-D code
(xmed-lab/GenericSSL: code/train_diffusion_2d.py, code/DiffVNet/diff_vnet_2d.py, code/utils/loss.py,
guided_diffusion's gaussian_diffusion.py / respace.py) on kneeseg's backbone (model.py), for parity.

  python3 generic_ssl.py DIR... [--threads N]
      DIR/weights.safetensors: the method's state (model.*, psi.*, xi.*, stem.*, time.*, difficulty.*);
        metadata "config" = the model config JSON, "options" = the parsed method options JSON.
      DIR/input.safetensors: "image" [N, C, H, W], "cls" [L, H, W] int64, and for steps a and b:
        "<s>.t" [L] int64, "<s>.noise", "<s>.sample_noise", "<s>.gumbel"; metadata "mu".
      Runs: aggregate, step a, aggregate, step b, backward of b's total. Writes DIR/out.safetensors:
        "<s>.<value>" (xi_l, psi_l, weights, sampled, pseudo, theta_u, deno, diff, unsup, total),
        "agg.<name>" (D_theta after the second aggregation) and "grad.<param>".
"""
import argparse
import json
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import st
from model import SegmentationNet


def swish(x):
    return x * torch.sigmoid(x)


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float32) * -(math.log(10000) / (half - 1)))
    args = t.float()[:, None] * freqs[None, :]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=1)
    return F.pad(emb, (0, 1, 0, 0)) if dim % 2 == 1 else emb


class Fusion(nn.Module):
    def __init__(self, hidden, channels):
        super().__init__()
        self.temb_proj = nn.Linear(hidden, channels)

    def forward(self, x, temb):
        return x + self.temb_proj(swish(temb))[:, :, None, None]


class TimeEmbedding(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.dim = dim
        self.dense0 = nn.Linear(dim, hidden)
        self.dense1 = nn.Linear(hidden, hidden)

    def forward(self, t):
        return self.dense1(swish(self.dense0(timestep_embedding(t, self.dim))))


class Stem(nn.Module):
    def __init__(self, cin, classes, hidden):
        super().__init__()
        self.conv = nn.Conv2d(cin + classes, cin, 3, padding=1)
        self.fusion = Fusion(hidden, cin)

    def forward(self, image, xt, temb):
        return self.fusion(image + self.conv(torch.cat([image, xt], 1)), temb)


class DenoisingHead(nn.Module):
    def __init__(self, features, hidden, classes, temb_hidden):
        super().__init__()
        self.add_module("0", nn.Conv2d(features, hidden, 1))
        self.fusion = Fusion(temb_hidden, hidden)
        self.add_module("2", nn.Conv2d(hidden, classes, 1))

    def forward(self, f, temb):
        return getattr(self, "2")(self.fusion(F.relu(getattr(self, "0")(f)), temb))


class Difficulty:
    """train_diffusion_2d.py Difficulty.cal_weights, state in float32 tensors."""

    def __init__(self, state, classes, window, power, smooth):
        self.last = state["last_dice"].clone()
        self.learn = state["cls_learn"].clone()
        self.unlearn = state["cls_unlearn"].clone()
        self.dice_weight = state["dice_weight"].clone()
        self.k, self.m, self.power, self.smooth = classes, (window - 1) / window, power, smooth

    def update(self, pred, cls):
        x = F.one_hot(pred.argmax(1), self.k).permute(0, 3, 1, 2).float()
        y = F.one_hot(cls, self.k).permute(0, 3, 1, 2).float()
        tp = (x * y).sum((0, 2, 3))
        fp = (x * (1 - y)).sum((0, 2, 3))
        fn = ((1 - x) * y).sum((0, 2, 3))
        dice = (2 * tp + self.smooth) / (2 * tp + fp + fn + self.smooth + 1e-8)
        delta = dice - self.last
        learn = torch.where(delta > 0, delta, torch.zeros_like(delta)) * torch.log(dice / self.last)
        unlearn = torch.where(delta <= 0, delta, torch.zeros_like(delta)) * torch.log(dice / self.last)
        self.last = dice
        self.learn = self.m * self.learn + (1 - self.m) * learn
        self.unlearn = self.m * self.unlearn + (1 - self.m) * unlearn
        diff = torch.pow((self.unlearn + 1e-8) / (self.learn + 1e-8), self.power)
        self.dice_weight = self.m * self.dice_weight + (1 - self.m) * (1 - dice)
        return diff * self.dice_weight * self.k


def dc_and_ce(logits, cls, weight=None, smooth=1.0):
    """loss.py DC_and_CE_loss: CE (weighted mean) + SoftDiceLoss(batch_dice, do_bg=False)."""
    k = logits.shape[1]
    p = F.softmax(logits, 1)
    y = F.one_hot(cls, k).permute(0, 3, 1, 2).float()
    tp = (p * y).sum((0, 2, 3))
    fp = (p * (1 - y)).sum((0, 2, 3))
    fn = ((1 - p) * y).sum((0, 2, 3))
    dc = ((2 * tp + smooth) / (2 * tp + fp + fn + smooth + 1e-8))[1:]
    if weight is not None:
        dc = dc * weight[1:]
    return F.cross_entropy(logits, cls, weight=weight) - dc.mean()


def gaussian_smoothing(x, size, sigma):
    k = x.shape[1]
    grid = torch.meshgrid([torch.arange(size, dtype=torch.float32)] * 2, indexing="ij")
    kernel = 1
    for g in grid:
        mean = (size - 1) / 2
        kernel = kernel * 1 / (sigma * math.sqrt(2 * math.pi)) * torch.exp(-(((g - mean) / sigma) ** 2) / 2)
    kernel = (kernel / kernel.sum()).view(1, 1, size, size).repeat(k, 1, 1, 1)
    return F.conv2d(x, kernel, groups=k, padding="same")


def space_timesteps(T, count):
    stride = 1 if count <= 1 else (T - 1) / (count - 1)
    cur, steps = 0.0, []
    for _ in range(count):
        steps.append(round(cur))
        cur += stride
    return sorted(set(steps))


class Method:
    def __init__(self, cfg, o, state):
        k = cfg["outChannels"]
        self.o, self.k = o, k
        self.model = SegmentationNet(cfg)
        f = self.model.backbone.out_channels
        hidden = (cfg.get("heads", {}).get("pwHidden")) or f
        self.psi = nn.Sequential(nn.Conv2d(f, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, k, 1))
        self.xi = DenoisingHead(f, hidden, k, o["timeHidden"])
        self.stem = Stem(cfg["inChannels"], k, o["timeHidden"])
        self.time = TimeEmbedding(o["timeEmbedding"], o["timeHidden"])
        self.modules = {"model": self.model, "psi": self.psi, "xi": self.xi, "stem": self.stem, "time": self.time}
        for name, m in self.modules.items():
            m.load_state_dict({n[len(name) + 1:]: v for n, v in state.items() if n.startswith(name + ".")})
            m.train()
        diff = {n[len("difficulty."):]: v for n, v in state.items() if n.startswith("difficulty.")}
        self.difficulty = Difficulty(diff, k, o["difficultyWindow"], o["difficultyPower"], o["difficultySmooth"])
        # the diffusion: float64 numpy as gaussian_diffusion.py, read out as float32
        T = o["timesteps"]
        s = 1000 / T
        betas = np.linspace(s * o["betaStart"], s * o["betaEnd"], T, dtype=np.float64)
        self.abar = np.cumprod(1.0 - betas)
        self.steps = space_timesteps(T, o["samplingSteps"])

    def coef(self, arr, t):
        return torch.from_numpy(arr)[t].float()[:, None, None, None]

    def aggregate(self):
        w = self.o["emaWeight"]
        xi, psi = self.xi.state_dict(), self.psi.state_dict()
        with torch.no_grad():
            for name, p in self.model.pw_head.named_parameters():
                if name in xi and name in psi and xi[name].shape == p.shape:
                    p.data = w * p.data + (1 - w) * (xi[name] + psi[name]) / 2.0

    def denoise(self, image, xt, t):
        temb = self.time(t)
        return self.xi(self.model(self.stem(image, xt, temb))["features"], temb)

    def ddim(self, image, noise):
        """SpacedDiffusion.ddim_sample_loop(...)["pred_xstart"], eta = 0, START_X, clip_denoised."""
        abar = self.abar[self.steps]
        abar_prev = np.append(1.0, abar[:-1])
        n = image.shape[0]
        x = noise
        out = None
        for i in reversed(range(len(self.steps))):
            idx = torch.tensor([i] * n)
            t_model = torch.tensor(self.steps)[idx]
            pred = self.denoise(image, x, t_model).clamp(-1, 1)
            eps = (self.coef(np.sqrt(1.0 / abar), idx) * x - pred) / self.coef(np.sqrt(1.0 / abar - 1), idx)
            x = pred * self.coef(np.sqrt(abar_prev), idx) + self.coef(np.sqrt(1 - abar_prev), idx) * eps
            out = pred
        return out

    def step(self, image, cls, d, mu):
        o = self.o
        L = cls.shape[0]
        il, iu = image[:L], image[L:]
        x0 = F.one_hot(cls, self.k).permute(0, 3, 1, 2).float() * 2 - 1
        xt = self.coef(np.sqrt(self.abar), d["t"]) * x0 + self.coef(np.sqrt(1.0 - self.abar), d["t"]) * d["noise"]
        xi_l = self.denoise(il, xt, d["t"])
        psi_l = self.psi(self.model(il)["features"])
        deno = dc_and_ce(xi_l, cls, None, o["diceSmooth"])
        weights = self.difficulty.update(xi_l.detach(), cls)
        diff = dc_and_ce(psi_l, cls, weights, o["diceSmooth"])
        out_u = self.model(iu)
        theta_u = out_u["logits"]
        with torch.no_grad():
            sampled = self.ddim(iu, d["sample_noise"])
            p_xi = gaussian_smoothing(F.softmax((sampled + d["gumbel"]) / o["gumbelTau"], 1),
                                      o["smoothingKernel"], o["smoothingSigma"])
            p_psi = F.softmax(self.psi(out_u["features"]), 1)
            pseudo = torch.argmax(p_xi + p_psi, dim=1)
        unsup = dc_and_ce(theta_u, pseudo, None, o["diceSmooth"])
        total = deno + diff + mu * unsup
        return {"xi_l": xi_l, "psi_l": psi_l, "weights": weights, "sampled": sampled, "pseudo": pseudo,
                "theta_u": theta_u, "deno": deno, "diff": diff, "unsup": unsup, "total": total}


def parity(directory):
    state, meta = st.read(f"{directory}/weights.safetensors")
    inputs, imeta = st.read(f"{directory}/input.safetensors")
    m = Method(json.loads(meta["config"]), json.loads(meta["options"]), state)
    mu = float(imeta["mu"])
    out = {}
    results = {}
    for s in ("a", "b"):
        m.aggregate()
        d = {k: inputs[f"{s}.{k}"] for k in ("t", "noise", "sample_noise", "gumbel")}
        results[s] = m.step(inputs["image"], inputs["cls"], d, mu)
    results["b"]["total"].backward()
    for s, r in results.items():
        for k, v in r.items():
            out[f"{s}.{k}"] = v.detach()
    for n, p in m.model.pw_head.named_parameters():
        out[f"agg.{n}"] = p.detach()
    for name, mod in m.modules.items():
        for n, p in mod.named_parameters():
            if p.grad is not None:
                out[f"grad.{name}.{n}"] = p.grad
    st.write(f"{directory}/out.safetensors", out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for d in a.dirs:
        parity(d)


if __name__ == "__main__":
    main()
