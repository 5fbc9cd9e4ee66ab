"""The cache study runs end to end on tiny workloads and writes its tables and plot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

STUDY = Path(__file__).parents[3] / "bench" / "cdn_cache_study.py"


def test_cache_study_smoke(tmp_path: Path) -> None:
    png = tmp_path / "hit-ratio.png"
    args = ["--titles", "8", "--new-per-day", "1", "--days", "3", "--plays-per-day", "20"]
    args += ["--workload", "broadband", "spread", "--alphas", "1.0", "--jobs", "1"]
    out = subprocess.run(
        [sys.executable, str(STUDY), *args, "--png", str(png)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    assert out.count("| 1.0 | 20% |") == 4  # hit ratio and egress rows, for each workload
    assert "workload `broadband`" in out
    assert "workload `spread`" in out
    assert "Belady" in out
    assert "Infinite cache" in out
    assert png.stat().st_size > 10_000
