"""Where and with what code a run ran: the machine's description and the checkout's git commit (run records)."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path


def machine_description() -> str:
    """``"AMD EPYC, 2 cores, torch CPU capability AVX512 with AVX512-BF16"``: the machine a run's wall time belongs to."""
    model, bf16 = platform.processor() or platform.machine(), False
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model != line.split(":", 1)[1].strip():
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                bf16 = bf16 or "avx512_bf16" in line.split()
    except OSError:
        pass
    import torch

    # torch says "AVX512" with and without native bf16 (the two CPU kinds these runs meet differ exactly there)
    capability = torch.backends.cpu.get_cpu_capability() + (" with AVX512-BF16" if bf16 else "")
    return f"{model}, {os.cpu_count()} cores, torch CPU capability {capability}"


def code_version() -> str:
    """The git commit of the ppog_sb3 checkout that ran (``"unknown"`` for an installed wheel), ``+dirty`` if changed."""
    checkout = Path(__file__).resolve().parents[2]  # <checkout>/ppog_sb3/common/provenance.py
    try:
        head = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        status = ["git", "-C", str(checkout), "status", "--porcelain", "ppog_sb3"]
        dirty = subprocess.run(status, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
