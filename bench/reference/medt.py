"""MedT in PyTorch, the same network as src/models/medt/ (same parameter names, so it loads kneeseg's
safetensors weights), written after the official code (jeya-maria-jose/Medical-Transformer,
lib/models/axialnet.py) but taking any H x W like ours. `local_loop=True` runs the local branch one
patch at a time, as the official code does (the baseline of bench/models); `local_loop=False` folds
the patches into the batch, as kneeseg does."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

GATE_INIT = {"f_qr": 0.1, "f_kr": 0.1, "f_sve": 0.1, "f_sv": 1.0}


class AxialAttention(nn.Module):
    def __init__(self, channels, heads, max_length, kind, width, stride):
        super().__init__()
        gp = channels // heads
        self.C, self.G, self.gp, self.K = channels, heads, gp, max_length
        self.kind, self.width, self.stride = kind, width, stride
        positional = kind != "plain"
        self.qkv_transform = nn.Conv1d(channels, 2 * channels, 1, bias=False)
        self.bn_qkv = nn.BatchNorm1d(2 * channels)
        self.bn_similarity = nn.BatchNorm2d(3 * heads if positional else heads)
        self.bn_output = nn.BatchNorm1d(2 * channels if positional else channels)
        nn.init.normal_(self.qkv_transform.weight, 0, math.sqrt(1.0 / channels))
        if kind == "gated":
            for name, v in GATE_INIT.items():
                setattr(self, name, nn.Parameter(torch.tensor(v)))
        self.relative = nn.Parameter(torch.randn(2 * gp, 2 * max_length - 1) * math.sqrt(1.0 / gp)) if positional else None

    def _index(self, L):
        i = torch.arange(L).unsqueeze(1)
        j = torch.arange(L).unsqueeze(0)
        return (i - j + self.K - 1).reshape(-1)

    def forward(self, x):
        x = x.permute(0, 2, 1, 3) if self.width else x.permute(0, 3, 1, 2)  # N, M, C, L
        N, M, C, L = x.shape
        assert L <= self.K, f"sequence {L} longer than the table {self.K}"
        B, G, gp = N * M, self.G, self.gp
        x = x.contiguous().view(B, C, L)
        qkv = self.bn_qkv(self.qkv_transform(x))
        q, k, v = torch.split(qkv.reshape(B, G, 2 * gp, L), [gp // 2, gp // 2, gp], dim=2)
        qk = torch.einsum("bgci,bgcj->bgij", q, k)
        if self.relative is None:
            sim = F.softmax(self.bn_similarity(qk), dim=3)
            sv = torch.einsum("bgij,bgcj->bgci", sim, v)
            out = self.bn_output(sv.reshape(B, C, L)).reshape(N, M, C, L)
        else:
            emb = torch.index_select(self.relative, 1, self._index(L)).view(2 * gp, L, L)
            qe, ke, ve = torch.split(emb, [gp // 2, gp // 2, gp], dim=0)
            qr = torch.einsum("bgci,cij->bgij", q, qe)
            kr = torch.einsum("bgci,cij->bgij", k, ke).transpose(2, 3)
            if self.kind == "gated":
                qr = qr * self.f_qr
                kr = kr * self.f_kr
            stacked = self.bn_similarity(torch.cat([qk, qr, kr], dim=1)).view(B, 3, G, L, L).sum(dim=1)
            sim = F.softmax(stacked, dim=3)
            sv = torch.einsum("bgij,bgcj->bgci", sim, v)
            sve = torch.einsum("bgij,cij->bgci", sim, ve)
            if self.kind == "gated":
                sv = sv * self.f_sv
                sve = sve * self.f_sve
            out = torch.cat([sv, sve], dim=-1).view(B, 2 * C, L)
            out = self.bn_output(out).view(N, M, C, 2, L).sum(dim=-2)
        out = out.permute(0, 2, 1, 3) if self.width else out.permute(0, 2, 3, 1)
        if self.stride > 1:
            out = F.avg_pool2d(out, 2, 2, ceil_mode=True)
        return out


class AxialBlock(nn.Module):
    def __init__(self, in_ch, planes, stride, heads, kind, size):
        super().__init__()
        out = planes * 2
        self.conv_down = nn.Conv2d(in_ch, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.hight_block = AxialAttention(planes, heads, size[0], kind, False, 1)
        self.width_block = AxialAttention(planes, heads, size[1], kind, True, stride)
        self.conv_up = nn.Conv2d(planes, out, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or in_ch != out:
            self.downsample = nn.Sequential(nn.Conv2d(in_ch, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv_down(x)))
        y = F.relu(self.width_block(self.hight_block(y)))
        y = self.bn2(self.conv_up(y))
        identity = self.downsample(x) if self.downsample is not None else x
        return F.relu(y + identity)


def _half(s):
    return (math.ceil(s[0] / 2), math.ceil(s[1] / 2))


def _up(conv, x, size):
    return F.relu(F.interpolate(conv(x), size=size, mode="bilinear", align_corners=False))


class Branch:
    """Layers registered flat on the owner with a suffix, as kneeseg (and the official code) name them."""

    def __init__(self, owner, suffix, in_ch, size, s, stem_ch, heads, layers, attention, bottleneck, stem_out):
        reg = lambda name, m: owner.add_module(name + suffix, m) or m  # noqa: E731
        base = stem_out if stem_out is not None else int(64 * s)
        self.stem = [
            (reg("conv1", nn.Conv2d(in_ch, base, 7, stride=2, padding=3, bias=False)), reg("bn1", nn.BatchNorm2d(base))),
            (reg("conv2", nn.Conv2d(base, stem_ch, 3, padding=1, bias=False)), reg("bn2", nn.BatchNorm2d(stem_ch))),
            (reg("conv3", nn.Conv2d(stem_ch, base, 3, padding=1, bias=False)), reg("bn3", nn.BatchNorm2d(base))),
        ]
        size = _half(size)
        in_c = base
        planes = [int(128 * s * 2 ** i) for i in range(len(layers))]
        self.stages = []
        for i, count in enumerate(layers):
            blocks = []
            for b in range(count):
                stride = 2 if i > 0 and b == 0 else 1
                blocks.append(AxialBlock(in_c, planes[i], stride, heads, attention, size))
                in_c = planes[i] * 2
                if stride == 2:
                    size = _half(size)
            self.stages.append(reg(f"layer{i + 1}", nn.Sequential(*blocks)))
        out = [p * 2 for p in planes]
        n = len(layers)
        c3 = lambda a, b, stride=1: nn.Conv2d(a, b, 3, stride=stride, padding=1, bias=True)  # noqa: E731
        self.bottleneck = reg("decoder1", c3(out[-1], out[-1], 2)) if bottleneck else None
        self.decoders = [None] * (n - 1)
        for i in range(n - 1, 0, -1):
            self.decoders[i - 1] = reg(f"decoder{6 - (i + 1)}", c3(out[i], out[i - 1]))
        self.final = reg("decoder5", c3(out[0], planes[0]))

    def forward(self, x):
        size = x.shape[2:]
        for conv, bn in self.stem:
            x = F.relu(bn(conv(x)))
        skips = []
        for st in self.stages:
            x = st(x)
            skips.append(x)
        if self.bottleneck is not None:
            x = _up(self.bottleneck, x, x.shape[2:]) + x
        for i in range(len(self.decoders) - 1, -1, -1):
            x = _up(self.decoders[i], x, skips[i].shape[2:]) + skips[i]
        return _up(self.final, x, size)


class MedT(nn.Module):
    def __init__(self, in_ch, image_size, c, local_loop=False):
        super().__init__()
        s = c["widthFactor"]
        self.local_loop = local_loop
        ps = c.get("patchSize")
        self.patch = tuple(ps) if ps else (math.ceil(image_size[0] / 4), math.ceil(image_size[1] / 4))
        common = dict(in_ch=in_ch, s=s, stem_ch=c["stemChannels"], heads=c["heads"])
        g, l = c["global"], c["local"]
        self.global_branch = Branch(self, "", size=image_size, layers=g["layers"], attention=g["attention"],
                                    bottleneck=g["bottleneck"], stem_out=g.get("stemOut"), **common)
        local_stem = l.get("stemOut") or int(128 * s * 2 ** (len(g["layers"]) - 1)) * 2
        self.local_branch = Branch(self, "_p", size=self.patch, layers=l["layers"], attention=l["attention"],
                                   bottleneck=l["bottleneck"], stem_out=local_stem, **common)
        self.out_channels = int(128 * s)
        self.decoderf = nn.Conv2d(self.out_channels, self.out_channels, 3, padding=1)
        if c.get("gatesFrozen"):
            for n, p in self.named_parameters():
                if n.split(".")[-1] in GATE_INIT:
                    p.requires_grad_(False)

    def _local(self, x):
        N, C, H, W = x.shape
        ph, pw = self.patch
        gh, gw = math.ceil(H / ph), math.ceil(W / pw)
        if gh * ph != H or gw * pw != W:
            x = F.pad(x, [0, gw * pw - W, 0, gh * ph - H])
        if self.local_loop:  # the official code: one patch at a time, pasted into place
            out = None
            for i in range(gh):
                for j in range(gw):
                    y = self.local_branch.forward(x[:, :, ph * i:ph * (i + 1), pw * j:pw * (j + 1)])
                    if out is None:
                        out = torch.zeros(N, y.shape[1], gh * ph, gw * pw, dtype=y.dtype)
                    out[:, :, ph * i:ph * (i + 1), pw * j:pw * (j + 1)] = y
        else:
            p = x.view(N, C, gh, ph, gw, pw).permute(0, 2, 4, 1, 3, 5).reshape(N * gh * gw, C, ph, pw)
            y = self.local_branch.forward(p)
            Fc = y.shape[1]
            out = y.view(N, gh, gw, Fc, ph, pw).permute(0, 3, 1, 4, 2, 5).reshape(N, Fc, gh * ph, gw * pw)
        return out[:, :, :H, :W]

    def forward(self, x):
        g = self.global_branch.forward(x)
        return F.relu(self.decoderf(g + self._local(x)))
