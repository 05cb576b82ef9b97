"""Exact rewrites of frozen layers that make a generator's tail cheaper on a CPU: eval
BatchNorm folded into the transposed convolution before it, and the first transposed
convolution of a tail evaluated as a function of a spatial mask (minimal.py's u(S) form)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

# kernel row used by output row parity a for the input row i + d - 1 (d = 0, 1, 2) of a
# ConvTranspose2d(kernel 4, stride 2, padding 1): output row 2i + a gathers these taps
_TAPS = ({1: 1, 0: 3}, {1: 2, 2: 0})


def fold_batchnorm(conv: nn.ConvTranspose2d, bn: nn.BatchNorm2d | None,
                   memory_format: torch.memory_format = torch.contiguous_format) -> tuple[Tensor, Tensor, int, int]:
    """(weight, bias, stride, padding) of conv followed by eval-mode bn, as one transposed convolution."""
    weight = conv.weight.detach()
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros(weight.shape[1], device=weight.device)
    if bn is not None:
        scale = bn.weight.detach() * torch.rsqrt(bn.running_var + bn.eps)
        weight = weight * scale.view(1, -1, 1, 1)
        bias = (bias - bn.running_mean) * scale + bn.bias.detach()
    return weight.contiguous(memory_format=memory_format), bias.contiguous(), conv.stride[0], conv.padding[0]


class SpatialMaskDeconv:
    """y(m) = conv_transpose2d(baseline + m * delta, weight, bias, stride 2, padding 1), kernel 4,
    for spatial masks m [B, 1, h, w]. y is linear in m: each input cell adds its own 4x4 patch
    of outputs scaled by m there. The patches (the expensive channel contraction) are computed
    once; per call, each output pixel mixes the masks of its 3x3 input neighbourhood with
    precomputed coefficients (one batched matrix product), ~Cin/9 times fewer operations."""

    def __init__(self, weight: Tensor, bias: Tensor, baseline: Tensor, delta: Tensor, channels_last: bool):
        c_in, c_out, k, _ = weight.shape
        if k != 4:
            raise ValueError("SpatialMaskDeconv needs a 4x4 kernel with stride 2 and padding 1")
        _, h, w = baseline.shape
        self.h, self.w, self.c_out, self.channels_last = h, w, c_out, channels_last
        with torch.no_grad():
            self.base = F.conv_transpose2d(baseline[None], weight.contiguous(), bias, stride=2, padding=1)
            patches = torch.einsum("cyx,cokl->kloyx", delta, weight.contiguous())   # [4, 4, Cout, h, w]
            padded = F.pad(patches, (1, 1, 1, 1))
            coef = torch.zeros(2, 2, 9, c_out, h, w, dtype=weight.dtype, device=weight.device)
            for a in (0, 1):
                for b in (0, 1):
                    for dy, ky in _TAPS[a].items():
                        for dx, kx in _TAPS[b].items():
                            coef[a, b, dy * 3 + dx] = padded[ky, kx, :, dy:dy + h, dx:dx + w]
            # [h*w, 9, (a, b, Cout)]: per input position, the 9 neighbour masks -> 4 output pixels x Cout
            self.coef = coef.permute(4, 5, 2, 0, 1, 3).reshape(h * w, 9, 4 * c_out).contiguous()

    def __call__(self, mask: Tensor) -> Tensor:
        neigh = F.unfold(mask, 3, padding=1).permute(2, 0, 1).contiguous()   # [h*w, B, 9]
        out = _Mix.apply(neigh, self.coef, self.h, self.w) + self.base
        return out if self.channels_last else out.contiguous()


class _Mix(torch.autograd.Function):
    """[h*w, B, 9] neighbour masks x [h*w, 9, 4*Cout] -> [B, Cout, 2h, 2w] (channels-last), with a
    backward that re-lays the incoming gradient out once instead of per batch element."""

    @staticmethod
    def forward(ctx, neigh: Tensor, coef: Tensor, h: int, w: int) -> Tensor:
        ctx.save_for_backward(coef)
        ctx.h, ctx.w = h, w
        batch, c_out = neigh.shape[1], coef.shape[2] // 4
        out = torch.bmm(neigh, coef).view(h, w, batch, 2, 2, c_out).permute(2, 0, 3, 1, 4, 5)
        return out.reshape(batch, 2 * h, 2 * w, c_out).permute(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (coef,) = ctx.saved_tensors
        h, w = ctx.h, ctx.w
        batch, c_out = grad.shape[0], grad.shape[1]
        g = grad.permute(0, 2, 3, 1).reshape(batch, h, 2, w, 2, c_out).permute(1, 3, 0, 2, 4, 5)
        g = g.reshape(h * w, batch, 4 * c_out)
        return torch.bmm(g, coef.transpose(1, 2)), None, None, None
