"""Generators behind one protocol (base.SplitGenerator), the registry that knows and loads them,
and `wrap_module`, which turns any torch.nn.Module generator into a SplitGenerator."""
from regionprims.models.wrap import wrap_module

__all__ = ["wrap_module"]
