"""Backbone + heads from kneeseg's model config (the JSON that src/models/registry.ts validates)."""
import torch
import torch.nn as nn

from medt import MedT
from unet import UNet


def _head(cin, hidden, cout):
    if hidden > 0:
        return nn.Sequential(nn.Conv2d(cin, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, cout, 1))
    return nn.Sequential(nn.Conv2d(cin, cout, 1))


class SegmentationNet(nn.Module):
    def __init__(self, cfg, local_loop=False):
        super().__init__()
        if cfg["backbone"] == "medt":
            self.backbone = MedT(cfg["inChannels"], tuple(cfg["imageSize"]), cfg["medt"], local_loop)
        else:
            self.backbone = UNet(cfg["inChannels"], cfg["unet"])
        f = self.backbone.out_channels
        heads = cfg.get("heads", {})
        self.pw_head = _head(f, heads.get("pwHidden") or f, cfg["outChannels"])
        self.ls_head = _head(f, heads.get("lsHidden", 0), cfg["outChannels"]) if cfg["levelSet"] else None

    def forward(self, x):
        features = self.backbone(x)
        out = {"features": features, "logits": self.pw_head(features)}
        if self.ls_head is not None:
            out["level_set"] = torch.tanh(self.ls_head(features))
        return out
