"""The U-Net of src/models/unet.ts in PyTorch (same parameter names, loads kneeseg's weights)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def _norm(c, ch):
    if c["norm"] == "batch":
        return nn.BatchNorm2d(ch)
    return nn.GroupNorm(ch if c["norm"] == "instance" else min(c["groups"], ch), ch)


class DoubleConv(nn.Module):
    def __init__(self, cin, cout, c):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.norm1 = _norm(c, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.norm2 = _norm(c, cout)

    def forward(self, x):
        return F.relu(self.norm2(self.conv2(F.relu(self.norm1(self.conv1(x))))))


class Down(nn.Module):
    def __init__(self, cin, cout, c):
        super().__init__()
        self.conv = DoubleConv(cin, cout, c)

    def forward(self, x):
        return self.conv(F.max_pool2d(x, 2))


class Up(nn.Module):
    def __init__(self, cin, cout, c):
        super().__init__()
        self.bilinear = c["upsample"] == "bilinear"
        if self.bilinear:
            self.reduce = nn.Conv2d(cin, cout, 1)
        else:
            self.up = nn.ConvTranspose2d(cin, cout, 2, stride=2)
        self.conv = DoubleConv(2 * cout, cout, c)

    def forward(self, x, skip):
        h, w = skip.shape[2:]
        if self.bilinear:
            y = self.reduce(F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False))
        else:
            y = self.up(x)
            if y.shape[2] != h or y.shape[3] != w:
                y = F.pad(y, [0, w - y.shape[3], 0, h - y.shape[2]])
        return self.conv(torch.cat([skip, y], 1))


class UNet(nn.Module):
    def __init__(self, in_ch, c):
        super().__init__()
        b, d = c["baseChannels"], c["depth"]
        self.out_channels = b
        self.inc = DoubleConv(in_ch, b, c)
        for i in range(1, d + 1):
            self.add_module(f"down{i}", Down(b * 2 ** (i - 1), b * 2 ** i, c))
        for i in range(d, 0, -1):
            self.add_module(f"up{d - i + 1}", Up(b * 2 ** i, b * 2 ** (i - 1), c))
        self.depth = d
        self.dropout = nn.Dropout(c["dropout"])

    def forward(self, x):
        skips = [self.inc(x)]
        for i in range(1, self.depth + 1):
            skips.append(getattr(self, f"down{i}")(skips[-1]))
        y = self.dropout(skips.pop())
        for i in range(1, self.depth + 1):
            y = getattr(self, f"up{i}")(y, skips.pop())
        return y
