"""A plugin module made discoverable by entry point without pip, for tests that start worker processes.

Worker processes load plugins from entry points only, so a test plugin
registered in the test process is invisible to them. ``plugin_dir`` writes
the module beside a ``.dist-info`` holding a ``docmill`` entry point, as pip
would install it; put the directory on the workers' ``PYTHONPATH``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

__all__ = ["plugin_dir"]


def plugin_dir(root: Path, module: str, source: str) -> Path:
    """Write ``module`` (its ``source`` dedented) and an installed-distribution record into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    name = module.replace("_", "-")
    # The directory name's part before the first '-' is the distribution's name to importlib:
    # "docmill-poison-1.0.dist-info" would shadow docmill itself.
    info = root / f"{module}-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[docmill]\n{module} = {module}\n")
    return root
