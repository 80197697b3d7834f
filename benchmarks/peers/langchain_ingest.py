"""LangChain's indexing API: a folder of PDFs into Chroma, re-run incrementally from a SQL record manager.

    python langchain_ingest.py FOLDER HOME MODEL_DIR [TEXTS_JSON]

One Document per page, RecursiveCharacterTextSplitter at docmill's sizes, and
``index(..., cleanup="incremental")``: a re-run reads, splits and hashes every
page again and writes only chunks whose hash the record manager has not seen.
"""

from __future__ import annotations

from typing import Any

import common
from langchain_chroma import Chroma
from langchain_classic.indexes import SQLRecordManager, index
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter


class FastembedEmbeddings(Embeddings):
    """The same fastembed model docmill runs, as LangChain embeddings."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.texts: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts.extend(texts)
        return [vector.tolist() for vector in self.model.embed(texts)]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in next(iter(self.model.query_embed([text])))]


def main() -> None:
    folder, home, model_dir, texts_file = common.arguments()
    embeddings = FastembedEmbeddings(common.model(model_dir))
    store = Chroma(collection_name="peer", embedding_function=embeddings, client=common.chroma(home))
    records = SQLRecordManager("chroma/peer", db_url=f"sqlite:///{home / 'records.db'}")
    records.create_schema()
    splitter = RecursiveCharacterTextSplitter(chunk_size=common.CHUNK_CHARS, chunk_overlap=common.OVERLAP_CHARS)
    documents = splitter.split_documents(
        Document(page_content=text, metadata={"source": name, "page": page})
        for name, page, text in common.pages(folder))
    result = index(documents, records, store, cleanup="incremental", source_id_key="source")
    common.report(store._collection.count(), result["num_added"] + result["num_updated"], texts_file,
                  embeddings.texts)


if __name__ == "__main__":
    main()
