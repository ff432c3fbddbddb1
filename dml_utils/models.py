"""Embedding networks."""
from __future__ import annotations

import torch
from torch import nn


class MLPEmbedding(nn.Sequential):
    """Report 003's base network: Flatten → [Dense(w) ReLU → Dropout]… → Dense(w) ReLU.

    ``keras_init`` reproduces Keras' Dense defaults (Glorot-uniform weights, zero biases);
    PyTorch's own default (Kaiming-uniform with a=√5) starts from different weights.
    """

    def __init__(self, in_features: int = 784, widths: tuple[int, ...] = (128, 128, 128),
                 dropout: float = 0.1, keras_init: bool = True):
        if not widths:
            raise ValueError("widths needs at least one layer")
        layers: list[nn.Module] = [nn.Flatten()]
        prev = in_features
        for i, w in enumerate(widths):
            layers += [nn.Linear(prev, w), nn.ReLU()]
            if i < len(widths) - 1 and dropout > 0:
                layers.append(nn.Dropout(dropout))
            prev = w
        super().__init__(*layers)
        self.embedding_size = prev
        if keras_init:
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.xavier_uniform_(m.weight)
                    nn.init.zeros_(m.bias)


def weight_distance(model: nn.Module, initial_state: dict[str, torch.Tensor]) -> float:
    """Relative L2 distance of the weights from a saved initial state: ||w - w0|| / ||w0||."""
    num, den = 0.0, 0.0
    for name, p in model.state_dict().items():
        if p.is_floating_point():
            num += float(((p - initial_state[name]) ** 2).sum())
            den += float((initial_state[name] ** 2).sum())
    return (num / den) ** 0.5 if den > 0 else float("nan")
