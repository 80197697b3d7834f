"""The fastembed embedder (ONNX runtime on the CPU).

Texts are embedded in batches sorted by length: padding a short chunk to the
length of a long one is wasted work, and on the int8 model unsorted large
batches ran at half speed and used gigabytes. Each model run uses one core,
and as many runs go at once as the embedder has cores (``threads``): on a
2-core machine two one-core runs of the same session embedded a small job's
chunks 15% faster than one run spread over both cores, since a chunk is too
small a tensor to split well. The model loads on first use, once per
process, and its session serves every thread. onnxruntime's telemetry is off and the model hub offline
from the start of every docmill process (``docmill/privacy.py``): a model
that is not local (``model_path`` in ``[plugins.fastembed]``, or the bundled default) is
downloaded only when the user allows it with ``HF_HUB_OFFLINE=0``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from docmill import ConfigurationError, EmbedderFactory, PluginContext, Register, hookimpl, hub_allowed

from .offline_model import DEFAULT_MODEL, bundled_model_dir

if TYPE_CHECKING:
    import numpy as np

__all__ = ["FastEmbedder", "FastembedSettings"]

#: Dimensions of models we know without asking fastembed (which would import onnxruntime).
KNOWN_DIMENSIONS = {DEFAULT_MODEL: 384}


def _quiet_onnxruntime() -> None:
    """Belt and braces with ORT_DISABLE_TELEMETRY, which docmill.privacy set before onnxruntime loaded."""
    import onnxruntime

    onnxruntime.disable_telemetry_events()


class FastEmbedder:
    """One fastembed model, shared by the threads of a process."""

    def __init__(self, model: str, *, path: Path | None, batch_size: int, threads: int | None,
                 cache_dir: Path, name: str = "fastembed") -> None:
        self.name = name
        self.model = model
        self.path = path
        self.batch_size = batch_size
        self.threads = threads or os.cpu_count() or 1
        self.cache_dir = cache_dir
        self._model: Any = None
        self._lock = threading.Lock()
        self._runs: ThreadPoolExecutor | None = None  # one model run per core at a time, shared by all callers
        self.dimension = KNOWN_DIMENSIONS.get(model) or self._dimension_from_fastembed(model)

    @property
    def signature(self) -> str:
        """What decides the vectors: another model re-processes documents (batch size and threads do not)."""
        return f"{self.name}:{self.model}"

    @staticmethod
    def _dimension_from_fastembed(model: str) -> int:
        _quiet_onnxruntime()
        from fastembed import TextEmbedding

        for described in TextEmbedding.list_supported_models():
            if described["model"].lower() == model.lower():
                return int(described["dim"])
        raise ConfigurationError(f"{MODEL_SETTING}: fastembed does not know the model {model!r}")

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._open()
                if self.threads > 1:
                    self._runs = ThreadPoolExecutor(self.threads, thread_name_prefix="docmill-embed")
            return self._model

    def warm(self) -> None:
        """Load the model now (the pipeline calls this in the background once it knows work is coming)."""
        self._load()

    def _open(self) -> Any:
        if self.path is None and not hub_allowed():
            raise ConfigurationError(
                f"{MODEL_SETTING}: {self.model} is not installed here, and docmill downloads no model "
                f"unless you allow it: point {PATH_SETTING} at its files, or set HF_HUB_OFFLINE=0 "
                "to let fastembed fetch it from the Hugging Face hub")
        _quiet_onnxruntime()
        from fastembed import TextEmbedding

        try:
            return TextEmbedding(
                model_name=self.model, cache_dir=str(self.cache_dir), threads=1,
                specific_model_path=str(self.path) if self.path else None,
            )
        except Exception as exc:
            where = f"from {self.path}" if self.path else "from the model hub"
            raise ConfigurationError(f"{MODEL_SETTING}: cannot load {self.model} {where}: {exc}") from exc

    def _embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        import numpy as np

        model = self._load()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)

        def run(batch: list[int]) -> None:
            chosen = [texts[i] for i in batch]
            # A query goes through the model's query mode (a prefix some models were trained with).
            vectors = model.query_embed(chosen) if query else model.embed(chosen, batch_size=len(batch))
            for i, vector in zip(batch, vectors, strict=True):
                out[i] = vector

        batches = [order[start:start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        if self._runs is None or len(batches) == 1:
            for batch in batches:
                run(batch)
        else:
            for _ in self._runs.map(run, batches):  # re-raises the first error
                pass
        return out

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_query(self, text: str) -> np.ndarray:
        vector: np.ndarray = self._embed([text], query=True)[0]
        return vector


class FastembedSettings(BaseModel):
    """``[plugins.fastembed]`` in docmill.toml, or ``DOCMILL_PLUGINS__FASTEMBED__<FIELD>``."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(DEFAULT_MODEL, description="Embedding model name.")
    model_path: Path | None = Field(
        None, description="Directory with the model's files; default: the bundled offline model when installed.")
    batch_size: int = Field(
        1, ge=1, le=256,
        description="Chunks per model call, sorted by length (1 was fastest on a 2-core CPU; measure yours).")
    threads: int | None = Field(
        None, ge=1, description="Cores the model uses in this process, one model run each at a time; default: all.")


MODEL_SETTING = "DOCMILL_PLUGINS__FASTEMBED__MODEL"
PATH_SETTING = "DOCMILL_PLUGINS__FASTEMBED__MODEL_PATH"


def make_fastembed(context: PluginContext) -> FastEmbedder:
    """The embedder its settings ask for; the bundled offline model when it is the default and installed."""
    settings: FastembedSettings = context.settings
    cache = context.home / "models"
    path = settings.model_path
    if path is not None and not (Path(path) / "model.onnx").is_file() and not any(Path(path).glob("**/*.onnx")):
        raise ConfigurationError(f"{PATH_SETTING}: no ONNX model in {path}")
    if path is None and settings.model == DEFAULT_MODEL:
        path = bundled_model_dir(cache)
    return FastEmbedder(settings.model, path=path, batch_size=settings.batch_size,
                        threads=settings.threads or context.cpu_count,
                        cache_dir=cache, name=context.name)


@hookimpl
def docmill_register_embedders(register: Register[EmbedderFactory]) -> None:
    register("fastembed", make_fastembed, settings=FastembedSettings)
