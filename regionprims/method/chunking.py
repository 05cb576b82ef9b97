"""How many subsets one batch of the optimisation holds: the activation memory one more sample
adds to a tail forward + backward (measured with autograd's saved-tensor hooks), the memory
budget of a run, and the chunk that fits in it. The batching changes only how rows are grouped,
never a row's result (up to float rounding)."""
from __future__ import annotations

import threading

import torch
from torch import Tensor

from regionprims.models.base import SplitContext, SplitGenerator

THREAD_BLOCK_BYTES = 32 << 20           # largest tensor of a batch outside the main thread (auto_chunk)


def _saved_sizes(gen: SplitGenerator, ctx: SplitContext, feature: Tensor, batch: int) -> list[int]:
    """Bytes of every tensor autograd saves in a tail forward of `batch` copies of the feature,
    then the output's, in the order they are saved."""
    sizes: list[int] = []

    def pack(t: Tensor) -> Tensor:
        sizes.append(t.numel() * t.element_size())
        return t

    x = feature.unsqueeze(0).expand(batch, *feature.shape).clone().requires_grad_(True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = gen.tail(x, ctx)
    return sizes + [out.numel() * out.element_size()]


def _batch_sizes(gen: SplitGenerator, ctx: SplitContext, feature: Tensor) -> tuple[list[int], list[int]]:
    """_saved_sizes at batch 1 and at batch 2: what one more sample adds, tensor by tensor."""
    return _saved_sizes(gen, ctx, feature, 1), _saved_sizes(gen, ctx, feature, 2)


def _activation_bytes(one: list[int], two: list[int], feature: Tensor) -> int:
    grown = sum(two) - sum(one)
    return max(1, grown) + 8 * feature.numel() * feature.element_size()


def _largest_block(one: list[int], two: list[int]) -> int:
    return max([b - a for a, b in zip(one, two)] + [1])


def activation_bytes_per_sample(gen: SplitGenerator, ctx: SplitContext, feature: Tensor) -> int:
    """Memory that one more sample adds to a tail forward + backward: the tensors autograd saves
    for a batch of 2 minus those for a batch of 1 (weights saved once cancel out), plus the
    sample's output, feature and mask buffers."""
    return _activation_bytes(*_batch_sizes(gen, ctx, feature), feature)


def largest_block_per_sample(gen: SplitGenerator, ctx: SplitContext, feature: Tensor) -> int:
    """The per-sample bytes of the largest tensor of a tail forward that grows with the batch
    (a saved activation or the output; weights do not grow)."""
    return _largest_block(*_batch_sizes(gen, ctx, feature))


def memory_budget_mb(device: torch.device | str, memory_mb: int) -> int:
    """The activation-memory bound of a run: `memory_mb` (the setting), raised on a CUDA device
    to half of the GPU memory that is free when the run starts, so that big GPUs take big
    batches (the chunk only changes how rows are batched, not their results)."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        free, _total = torch.cuda.mem_get_info(device)
        return max(int(memory_mb), int(free // 2 ** 21))
    return int(memory_mb)


def chunk_for(bytes_per_sample: int, memory_mb: int, most: int = 512) -> int:
    """Subsets per batch whose activations fit in memory_mb."""
    return int(max(1, min(most, memory_mb * 2 ** 20 // max(1, bytes_per_sample))))


def auto_chunk(gen: SplitGenerator, ctx: SplitContext, feature: Tensor, memory_mb: int, most: int = 512) -> int:
    """Subsets per batch so that the optimisation's activations stay under memory_mb; on the CPU
    outside the main thread also so that no single tensor exceeds THREAD_BLOCK_BYTES.

    Why the second bound: a thread that glibc serves from an arena other than the main one (the
    explorer's background job, whose server threads may hold arenas made before allocator.tune)
    gets its memory in 64 MiB heaps, and a block larger than a heap is mmapped anew and faulted in
    at every optimisation step whatever the allocator settings; this bound keeps every block in
    a heap (measured in docs/benchmarks.md, "The allocator").
    The rows' results do not depend on the batching."""
    one, two = _batch_sizes(gen, ctx, feature)          # measured once for both bounds
    chunk = chunk_for(_activation_bytes(one, two, feature), memory_mb, most)
    if feature.device.type == "cpu" and threading.current_thread() is not threading.main_thread():
        chunk = min(chunk, max(1, THREAD_BLOCK_BYTES // _largest_block(one, two)))
    return chunk
