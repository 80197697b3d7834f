"""LlamaIndex's IngestionPipeline: a folder of PDFs into Chroma, re-run incrementally from its docstore.

    python llamaindex_ingest.py FOLDER HOME MODEL_DIR [TEXTS_JSON]

One Document per page (its id the file and page, so a re-run recognises it),
LlamaIndex's SentenceSplitter, and the pipeline's upsert strategy: a re-run
reads and hashes every page again and embeds only what changed. The splitter
counts tokens with the model's own tokenizer (its default, tiktoken, would
download its vocabulary).
"""

from __future__ import annotations

from typing import Any

import common
from llama_index.core import Document
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.storage.docstore import SimpleDocumentStore
from llama_index.vector_stores.chroma import ChromaVectorStore
from pydantic import PrivateAttr
from tokenizers import Tokenizer

#: About docmill's 800 characters: all-MiniLM-L6-v2's word pieces average about 4 characters in this corpus.
CHUNK_TOKENS = 200
OVERLAP_TOKENS = 25


class FastembedEmbedding(BaseEmbedding):
    """The same fastembed model docmill runs, as a LlamaIndex embedding."""

    _model: Any = PrivateAttr()
    _texts: list[str] = PrivateAttr(default_factory=list)

    def __init__(self, model: Any) -> None:
        super().__init__(model_name="all-MiniLM-L6-v2-int8")
        self._model = model

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        self._texts.extend(texts)
        return [vector.tolist() for vector in self._model.embed(texts)]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_query_embedding(self, query: str) -> list[float]:
        return [float(x) for x in next(iter(self._model.query_embed([query])))]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


def main() -> None:
    folder, home, model_dir, texts_file = common.arguments()
    vocabulary = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    vocabulary.no_padding()  # the model's file pads and truncates to 128 tokens, which would make every text 128
    vocabulary.no_truncation()
    embedding = FastembedEmbedding(common.model(model_dir))
    store = ChromaVectorStore(chroma_collection=common.chroma(home).get_or_create_collection("peer"))
    pipeline = IngestionPipeline(
        transformations=[
            SentenceSplitter(chunk_size=CHUNK_TOKENS, chunk_overlap=OVERLAP_TOKENS,
                             tokenizer=lambda text: vocabulary.encode(text, add_special_tokens=False).ids),
            embedding,
        ],
        vector_store=store, docstore=SimpleDocumentStore(), docstore_strategy=DocstoreStrategy.UPSERTS)
    records = home / "pipeline"
    if records.exists():
        pipeline.load(str(records))
    documents = [Document(text=text, id_=f"{name}#{page}", metadata={"file": name, "page": page},
                          excluded_embed_metadata_keys=["file", "page"])
                 for name, page, text in common.pages(folder)]
    nodes = pipeline.run(documents=documents)
    pipeline.persist(str(records))
    common.report(store._collection.count(), len(nodes), texts_file, embedding._texts)


if __name__ == "__main__":
    main()
