"""``spec`` writes what ``runc spec`` writes; and refuses to overwrite."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from rt_helpers import DOCKYARD_RUNTIME, RUNC

from dockyard.runtime.spec import default_spec


def test_spec_matches_runc(tmp_path: Path) -> None:
    docs = {}
    for name, binary in (("dockyard", DOCKYARD_RUNTIME), ("runc", RUNC)):
        d = tmp_path / name
        d.mkdir()
        subprocess.run([binary, "spec"], cwd=d, check=True)
        docs[name] = json.loads((d / "config.json").read_text())
        again = subprocess.run([binary, "spec"], cwd=d, capture_output=True, text=True)
        assert again.returncode != 0 and "exists" in again.stderr
    assert docs["dockyard"] == docs["runc"]


def test_default_spec_is_typed() -> None:
    spec = default_spec(["echo", "hi"], terminal=False)
    assert spec.process is not None and spec.process.args == ["echo", "hi"]
    assert spec.root is not None and spec.root.readonly
