"""The check that every index agrees (invariant 13): the keyword index holds exactly the vector store's chunks."""

from __future__ import annotations

from typing import Any

from docmill.core.indexes import PairedStore
from docmill.core.values import StoredChunk
from docmill.settings import Settings


def _rows(chunks: Any) -> dict[str, tuple[Any, ...]]:
    def row(c: StoredChunk) -> tuple[Any, ...]:
        return c.doc, c.doc_key, c.seq, c.page, c.text, dict(c.metadata), c.version

    return {c.id: row(c) for c in chunks}


def assert_indexes_agree(store: Any) -> int:
    """The vector store and the keyword index written with it hold the same chunks, chunk for chunk (id, name,
    document key, position, page, text, metadata and version); how many."""
    assert isinstance(store, PairedStore), f"{store!r} has no keyword index beside it"
    vectors, keywords = _rows(store.vectors.iter_chunks()), _rows(store.keywords.iter_chunks())
    assert keywords.keys() == vectors.keys(), (f"only in the vector store: {sorted(vectors.keys() - keywords.keys())}; "
                                               f"only in the keyword index: {sorted(keywords.keys() - vectors.keys())}")
    differ = {i: (vectors[i], keywords[i]) for i in vectors if vectors[i] != keywords[i]}
    assert not differ, differ
    return len(vectors)


def indexes_agree(settings: Settings | None = None) -> int:
    """:func:`assert_indexes_agree` on the index the settings (default: this process's environment) name."""
    from docmill.core.runtime import Runtime

    runtime = Runtime(settings or Settings())
    try:
        return assert_indexes_agree(runtime.store)
    finally:
        runtime.close()


def indexes_agree_in_a_process(env: dict[str, str] | None = None) -> int:
    """:func:`indexes_agree` in a process of its own, on the environment's settings: where the test's plugins
    (the stub embedder on PYTHONPATH) are loaded by the commands it runs but not by the test's own process."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH"), (env or {}).get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-m", "tests.indexes"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {}), "PYTHONPATH": path})
    assert done.returncode == 0, done.stderr[-3000:]
    return int(done.stdout.strip())


if __name__ == "__main__":
    print(indexes_agree())
