"""Embedding networks."""

from __future__ import annotations

import torch
from torch import nn


class MLPEmbedding(nn.Sequential):
    """Report 003's base network: Flatten → [Dense(w) ReLU → Dropout]… → Dense(w) ReLU.

    ``keras_init`` reproduces Keras' Dense defaults (Glorot-uniform weights, zero biases);
    PyTorch's own default (Kaiming-uniform with a=√5) starts from different weights.
    """

    def __init__(
        self,
        in_features: int = 784,
        widths: tuple[int, ...] = (128, 128, 128),
        dropout: float = 0.1,
        keras_init: bool = True,
    ):
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


class SmallConvNet(nn.Module):
    """Two conv blocks and a linear embedding head, for 1-channel images on a CPU.

    conv3×3(32) ReLU maxpool → conv3×3(64) ReLU maxpool → Linear(embedding_size); the loss's
    distance does the L2 normalization (PML's CosineSimilarity / LpDistance by default).
    """

    def __init__(self, embedding_size: int = 128, in_channels: int = 1, image_size: int = 28):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.head = nn.Linear(64 * (image_size // 4) ** 2, embedding_size)
        self.embedding_size = embedding_size

    def forward(self, x):
        if x.ndim == 3:
            x = x.unsqueeze(1)
        return self.head(self.features(x))


def resnet18_embedding(embedding_size: int = 128, in_channels: int = 1, pretrained: bool = True) -> nn.Module:
    """torchvision ResNet18 with its classifier replaced by a linear embedding head.

    ImageNet weights are used only when torchvision finds them in its local cache (no download
    here); otherwise the network starts from random init and a warning says so. The returned
    model's ``imagenet_weights`` tells which happened.
    """
    import warnings
    from pathlib import Path

    from torch.hub import get_dir
    from torchvision.models import ResNet18_Weights, resnet18

    weights = ResNet18_Weights.IMAGENET1K_V1
    cached = Path(get_dir()) / "checkpoints" / Path(weights.url).name
    use = pretrained and cached.exists()
    if pretrained and not use:
        warnings.warn(
            f"ImageNet weights for ResNet18 are not in torchvision's cache ({cached}); no download here, "
            "so the network starts from RANDOM initialization",
            stacklevel=2,
        )
    model = resnet18(weights=weights if use else None)
    if in_channels != 3:
        old = model.conv1
        model.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        with torch.no_grad():  # keep pretrained filters: average them over the RGB channels
            model.conv1.weight.copy_(old.weight.mean(dim=1, keepdim=True).repeat(1, in_channels, 1, 1))
    model.fc = nn.Linear(model.fc.in_features, embedding_size)
    model.embedding_size = embedding_size
    model.imagenet_weights = use
    return _ChannelFirst(model)


class _ChannelFirst(nn.Module):
    """Adds the channel axis to (N, H, W) batches of 1-channel images; standardizes RGB in [0, 1]
    with ImageNet's channel means and deviations, as the pretrained weights expect."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.embedding_size = net.embedding_size
        self.imagenet_weights = net.imagenet_weights
        self.rgb = net.conv1.in_channels == 3
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(self, x):
        x = x.unsqueeze(1) if x.ndim == 3 else x
        return self.net((x - self.mean) / self.std if self.rgb else x)


BACKBONES = ("convnet", "resnet18")


def build_backbone(name: str, embedding_size: int, image_shape: tuple[int, ...], pretrained: bool = True) -> nn.Module:
    """A backbone by name for images of ``image_shape``: (H, W) grey or (C, H, W)."""
    channels = image_shape[0] if len(image_shape) == 3 else 1
    if name == "convnet":
        return SmallConvNet(embedding_size=embedding_size, in_channels=channels, image_size=image_shape[-1])
    if name == "resnet18":
        return resnet18_embedding(embedding_size, in_channels=channels, pretrained=pretrained)
    raise ValueError(f"unknown backbone {name!r}; use one of {list(BACKBONES)}")
