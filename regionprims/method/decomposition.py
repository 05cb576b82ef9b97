"""The one result object of a decomposition, shared by the CLI, the file format and the UI."""
from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor

from regionprims.method.specs import DecompositionSpec


@dataclass
class Decomposition:
    """All tensors are CPU float32 unless stated. Rows of `minimal`/`components` follow
    `subsets` (binary counting, regions.subset_matrix). components[0] holds f0 (I_or(empty));
    components[k] for k > 0 is Delta f_S = I_or(S)."""

    spec: DecompositionSpec
    z: Tensor                  # [z_dim] latent code of the explained image
    image: Tensor              # [3, H, W] x = tail(f), in [-1, 1]
    feature: Tensor            # [C, h, w] f
    baseline: Tensor           # [C, h, w] f0
    subsets: Tensor            # uint8 [2**n, n]
    minimal: Tensor            # [2**n, C, h, w] u(S)
    components: Tensor         # [2**n, C, h, w]
    residual: Tensor           # [C, h, w] f - u(N)
    player_masks: Tensor       # [n, H, W] float
    fit_loss: Tensor           # [2**n] final masked MSE of tail(u(S)) vs x on M_S
    ranking: list[int]         # non-empty subset rows, strongest first
    metrics: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)   # timings, steps used, versions, ...

    @property
    def n(self) -> int:
        return int(self.subsets.shape[1])

    @property
    def players_mask(self) -> Tensor:
        """[H, W]: the union of the player patches, where the fit and the PSNR on the players are measured."""
        return self.player_masks.amax(0)
