"""`vault serve`'s app settles the cyclic collector once started (vault.api.app.create_served_app)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECK = """
import gc
from vault.api.app import SERVE_GC_GEN0, create_served_app
before = gc.get_freeze_count()
app = create_served_app()
assert gc.get_threshold()[0] == 700, gc.get_threshold()  # nothing changes before the app starts
app.on_startup[-1](app)  # the last start-up hook, after the vault is open
assert gc.get_threshold()[0] == SERVE_GC_GEN0, gc.get_threshold()
assert gc.get_freeze_count() > before + 10_000, gc.get_freeze_count()
print("settled")
"""


def test_served_app_freezes_start_up_objects_and_raises_the_young_threshold(tmp_path: Path) -> None:
    # In a child process: freezing pytest's own objects would change every later test's collector.
    env = {"VAULT_VAR_DIR": str(tmp_path), "VAULT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/v.db",
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", CHECK], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "settled"
