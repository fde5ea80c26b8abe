"""A small decoder-only transformer for the 4-digit-addition curve of chapter 4 (full mode).

Caballero et al. (2023, arXiv:2210.14891, the arithmetic figure) train minGPT-style models on
4-digit addition and plot the test cross-entropy against the training-set size.  This is a compact
model of the same kind (pre-norm blocks, learned positions, causal attention); its sizes are
configuration, not the paper's (which we could not read).
"""
from __future__ import annotations

import torch
from torch import nn


class TinyTransformer(nn.Module):
    """``vocab`` tokens in, next-token logits out; causal self-attention over ``max_len``."""

    def __init__(self, vocab: int, max_len: int, *, d_model: int = 128, n_layers: int = 2,
                 n_heads: int = 4, dropout: float = 0.0):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.zeros(max_len, d_model))
        layer = nn.TransformerEncoderLayer(d_model, n_heads, 4 * d_model, dropout,
                                           batch_first=True, norm_first=True, activation="gelu")
        self.blocks = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)
        nn.init.normal_(self.pos, std=0.02)
        self.register_buffer("mask", torch.triu(torch.full((max_len, max_len), float("-inf")), 1),
                             persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        n = tokens.shape[1]
        h = self.tok(tokens) + self.pos[:n]
        h = self.blocks(h, mask=self.mask[:n, :n], is_causal=True)
        return self.head(self.norm(h))
