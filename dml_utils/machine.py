"""What CPU and which libraries a run happened on, as far as they change floating-point results
(provenance).

Runs are bit-identical for a seed on one machine, but two CPUs can differ in the last bits of
matrix products (MKL and oneDNN pick kernels by instruction set), and training amplifies those
bits within a few dozen steps. Every results JSON and regression reference records this
fingerprint; the regression check itself compares within tolerances (dml_utils.regression).
"""

from __future__ import annotations

import hashlib
import platform
from importlib import metadata
from pathlib import Path
from typing import Any


def cpu_fingerprint() -> dict[str, Any]:
    """CPU model, torch's vector instruction set, and a short hash of the CPU feature flags."""
    import torch

    model, flags = platform.processor() or "", ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not model:
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = " ".join(sorted(value.split()))
    return {
        "machine": platform.machine(),
        "cpu_model": model,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_flags_sha": hashlib.sha256(flags.encode()).hexdigest()[:12] if flags else "",
        "torch": torch.__version__,
    }


LIBRARIES = (
    "torch",
    "torchvision",
    "pytorch-metric-learning",
    "numpy",
    "scipy",
    "scikit-learn",
    "mlxtend",
    "umap-learn",
    "seaborn",
    "matplotlib",
    "pandas",
)


def library_versions() -> dict[str, str]:
    """Python's version and each of LIBRARIES' ('not installed' where missing)."""
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
