"""Token models (chapter 4): AdamW on the masked next-token cross-entropy."""
from __future__ import annotations

from typing import Any

import torch

from ..config import progress_enabled
from .schedules import lr_at


def token_cross_entropy(model: torch.nn.Module, tokens: torch.Tensor, mask: torch.Tensor,
                        batch_size: int = 4096) -> float:
    """Mean next-token cross-entropy (nats) of ``model`` over the positions where ``mask`` is
    True (``tokens[n, L]``, ``mask[n, L - 1]``)."""
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for i in range(0, len(tokens), batch_size):
            t, m = tokens[i:i + batch_size], mask[i:i + batch_size]
            logits = model(t[:, :-1])
            ce = torch.nn.functional.cross_entropy(logits[m], t[:, 1:][m], reduction="sum")
            total, count = total + float(ce), count + int(m.sum())
    model.train()
    return total / max(count, 1)


def train_tokens(model: torch.nn.Module, tokens: torch.Tensor, mask: torch.Tensor, *, steps: int,
                 batch_size: int, lr: float, weight_decay: float = 0.1, warmup_steps: int = 100,
                 seed: int = 0, progress: bool | None = None, desc: str = "training") -> float:
    """AdamW on the masked next-token cross-entropy, minibatches drawn with replacement, linear
    warm-up then cosine decay to 0.  Returns the final training cross-entropy (whole set)."""
    if steps < 1 or batch_size < 1 or not lr > 0:
        raise ValueError(f"steps, batch_size and lr must be positive, got {steps}, {batch_size}, {lr}")
    if mask.shape != (tokens.shape[0], tokens.shape[1] - 1):
        raise ValueError(f"mask must have shape {(tokens.shape[0], tokens.shape[1] - 1)}, "
                         f"got {tuple(mask.shape)}")
    gen = torch.Generator(device="cpu").manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=(0.9, 0.95))
    bar: Any = range(steps)
    if progress_enabled() if progress is None else progress:
        from tqdm.auto import tqdm

        bar = tqdm(bar, desc=desc, leave=False)
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, lr, "cosine", 0.0, warmup=warmup_steps)
        idx = torch.randint(0, len(tokens), (batch_size,), generator=gen).to(tokens.device)
        t, m = tokens[idx], mask[idx]
        logits = model(t[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits[m], t[:, 1:][m])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return token_cross_entropy(model, tokens, mask)
