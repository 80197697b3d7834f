"""Nothing phones home (invariant 9): the switches every docmill process sets before any third-party import.

``docmill/__init__.py`` calls :func:`switch_off` first thing, so the command
line, worker and isolation processes, the scheduler, and any program that
imports docmill have them before onnxruntime, Chroma or the Hugging Face hub
client is loaded. Later is too late: onnxruntime decides at initialisation
whether its telemetry uploader runs.

* onnxruntime's telemetry events: off (``ORT_DISABLE_TELEMETRY``).
* Chroma's anonymized telemetry: off (``ANONYMIZED_TELEMETRY``).
* The Hugging Face hub: offline (``HF_HUB_OFFLINE``) and without telemetry.
  docmill's default model is installed with it; a model named by the user is
  downloaded only if they allow it with ``HF_HUB_OFFLINE=0``.
* ``pymupdf.layout`` and ``pymupdf4llm``: never imported. docmill depends on
  pymupdf-lite, which has neither; where the full pymupdf is installed too,
  its ``import pymupdf.layout`` (which loads an ONNX model through
  onnxruntime) finds the module blocked and carries on without it.
"""

from __future__ import annotations

import os
import sys

__all__ = ["BLOCKED_MODULES", "SWITCHES", "switch_off"]

#: Environment variables set whatever they said before.
SWITCHES = {
    "ORT_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}
#: Modules docmill never imports, blocked in ``sys.modules`` (importing them raises ImportError).
BLOCKED_MODULES = ("pymupdf.layout", "pymupdf4llm")


def hub_allowed() -> bool:
    """Whether the user allowed model downloads from the Hugging Face hub (``HF_HUB_OFFLINE=0``)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("0", "false", "no", "off")


def switch_off() -> None:
    """Set the privacy switches in this process's environment, and block the modules docmill never uses."""
    os.environ.update(SWITCHES)
    if not hub_allowed():
        os.environ["HF_HUB_OFFLINE"] = "1"
    for name in BLOCKED_MODULES:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]
