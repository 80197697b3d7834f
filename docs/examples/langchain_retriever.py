"""docmill's index through LangChain: a Chroma retriever over the collection docmill wrote.

    DOCMILL_HOME=.docmill python docs/examples/langchain_retriever.py "how much does the bakery owe" \
        [-k 4] [--where doc=invoice.pdf] [--where source=archive]

docmill stores each chunk's text as Chroma's document and the chunk's fields
(``doc``, ``page``, ``source``, ``tags``, ``correspondent``, ...) as real
metadata keys: what LangChain's Chroma store reads, so ``page_content`` is
the chunk and ``metadata`` what docmill stored. Queries must be embedded by
the model that made the vectors; ``DocmillEmbeddings`` asks docmill's own
embedder (as configured: the bundled MiniLM by default). Needs
``pip install langchain-chroma``.
"""

# ruff: noqa: I001 - docmill is imported before chromadb on purpose (its privacy switches come first)
from __future__ import annotations

import argparse
import json

import docmill  # noqa: F401 - first: it switches Chroma's and onnxruntime's telemetry off before they load
import chromadb
from langchain_chroma import Chroma
from langchain_core.embeddings import Embeddings

from docmill.core.plugins import load_plugins
from docmill.settings import load_settings


class DocmillEmbeddings(Embeddings):
    """LangChain embeddings from docmill's configured embedder (queries in the model's query mode)."""

    def __init__(self) -> None:
        settings = load_settings()
        self._embedder = load_plugins(settings.load_plugins).embedder(settings)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in vector] for vector in self._embedder.embed_documents(texts)]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self._embedder.embed_query(text)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("query")
    parser.add_argument("-k", type=int, default=4)
    parser.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                        help="Chroma metadata equality, repeatable: doc=NAME, source=NAME, correspondent=NAME")
    args = parser.parse_args()
    settings = load_settings()
    client = chromadb.PersistentClient(path=str(settings.home / "chroma"),
                                       settings=chromadb.config.Settings(anonymized_telemetry=False))
    # A Chroma server instead: chromadb.HttpClient(host="chroma", port=8000, settings=...)
    store = Chroma(client=client, collection_name=settings.collection, embedding_function=DocmillEmbeddings())
    clauses = [{key: value} for key, _, value in (w.partition("=") for w in args.where)]
    where = None if not clauses else clauses[0] if len(clauses) == 1 else {"$and": clauses}
    retriever = store.as_retriever(search_kwargs={"k": args.k, "filter": where})
    for found in retriever.invoke(args.query):
        print(json.dumps({"text": found.page_content, "doc": found.metadata["doc"], "page": found.metadata.get("page"),
                          "metadata": found.metadata}))


if __name__ == "__main__":
    main()
