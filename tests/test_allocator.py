"""certnn.allocator: freed blocks stay in the process (no page faults on reuse),
and the opt-outs are honoured. Each case runs in a fresh interpreter: malloc's
settings are per process and cannot be undone."""

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# 8 arrays of 1 MiB touched and freed per round: glibc's defaults hand them back to
# the kernel (or serve them by mmap), so every round page-faults them in again
SCRIPT = """
import resource, numpy as np
from certnn import allocator
tuned = allocator.tune()
def rnd():
    arrs = [np.ones(131072) for _ in range(8)]
    del arrs
rnd(); rnd()
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    rnd()
print(tuned, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 10)
"""

glibc = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                           reason="mallopt's thresholds are glibc's")


def _run(**env):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "CERTNN_ALLOCATOR"))}
    full.update(env, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=full, capture_output=True, text=True, check=True)
    tuned, faults = out.stdout.split()
    return tuned == "True", float(faults)


@glibc
def test_tuned_process_reuses_freed_memory():
    tuned, faults = _run()
    assert tuned
    assert faults < 50                  # 8 MiB is 2,048 pages: the untuned case below faults them all


@glibc
def test_opt_out_leaves_glibc_defaults():
    tuned, faults = _run(CERTNN_ALLOCATOR="system")
    assert not tuned
    assert faults > 1000


@glibc
def test_users_own_malloc_settings_win():
    tuned, _ = _run(MALLOC_TRIM_THRESHOLD_="131072")
    assert not tuned


def test_tune_is_idempotent():
    from certnn import allocator
    assert allocator.tune() == allocator.tune()


def test_available_memory_is_read_from_meminfo_else_the_free_pages(tmp_path):
    from certnn.allocator import available_bytes
    info = tmp_path / "meminfo"
    info.write_text("MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:    2000000 kB\n")
    assert available_bytes(str(info)) == 2000000 * 1024
    fallback = available_bytes(str(tmp_path / "none"))          # no such file: the free pages, where known
    assert fallback is None or fallback > 0
