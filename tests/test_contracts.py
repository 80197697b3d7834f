"""Every built-in plugin and every stub passes its kind's contract from docmill.testing."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from docmill.core.plugins import load_plugins
from docmill.core.sniff import media_type_of
from docmill.core.values import Blob, DocumentRef
from docmill.plugins.chroma_store import ChromaStore
from docmill.plugins.chunker import TextChunker
from docmill.plugins.folder import FolderSource
from docmill.plugins.postgres_keywords import PostgresKeywords
from docmill.plugins.pymupdf_extractor import PyMuPdfExtractor
from docmill.plugins.qdrant_store import QdrantStore
from docmill.plugins.sqlite_keywords import SqliteKeywords
from docmill.plugins.tesseract_ocr import TesseractOcr
from docmill.plugins.text_extractor import TextExtractor
from docmill.settings import Settings
from docmill.testing import contracts
from docmill.testing.stubs import (
    StubChunker,
    StubEmbedder,
    StubExtractor,
    StubOcrEngine,
    StubSource,
    StubVectorStore,
)

# Stores ------------------------------------------------------------------


class TestChromaStore(contracts.VectorStoreContract):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> Callable[[int, str], Any]:
        return lambda dim, model: ChromaStore(str(tmp_path / "chroma"), "contract", dimension=dim, model=model)


class TestQdrantLocalStore(contracts.VectorStoreContract):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> Callable[[int, str], Any]:
        return lambda dim, model: QdrantStore("contract", dimension=dim, model=model, path=str(tmp_path / "q"))


@pytest.mark.skipif(not os.environ.get("QDRANT_URL"), reason="no Qdrant server: set QDRANT_URL to run these")
class TestQdrantServerStore(contracts.VectorStoreContract):
    @pytest.fixture
    def make_store(self) -> Iterator[Callable[[int, str], Any]]:
        collection = f"docmill-contract-{uuid.uuid4().hex[:8]}"
        url, key = os.environ["QDRANT_URL"], os.environ.get("QDRANT_API_KEY")
        yield lambda dimension, model: QdrantStore(collection, dimension=dimension, model=model, url=url, api_key=key)
        from qdrant_client import QdrantClient

        QdrantClient(url=url, api_key=key).delete_collection(collection)


class TestStubStore(contracts.VectorStoreContract):
    @pytest.fixture
    def make_store(self) -> Callable[[int, str], Any]:
        space: dict[str, Any] = {}
        return lambda dimension, model: StubVectorStore(dimension, model, space)


class TestChromaWithKeywordsStore(contracts.VectorStoreContract):
    """The store the stages write when a keyword index is configured (``core.indexes``) is a store too."""

    @pytest.fixture
    def make_store(self, tmp_path: Path) -> Callable[[int, str], Any]:
        from docmill.core.indexes import paired

        return lambda dim, model: paired(ChromaStore(str(tmp_path / "chroma"), "contract", dimension=dim, model=model),
                                         SqliteKeywords(tmp_path / "keywords.sqlite3"))


class TestQdrantWithPostgresKeywordsStore(contracts.VectorStoreContract):
    @pytest.fixture
    def make_store(self, tmp_path: Path, pg_url: str) -> Callable[[int, str], Any]:
        from docmill.core.indexes import paired

        return lambda dim, model: paired(QdrantStore("contract", dimension=dim, model=model, path=str(tmp_path / "q")),
                                         PostgresKeywords(pg_url, "contract"))


# Keyword indexes -----------------------------------------------------------


class TestSqliteKeywords(contracts.KeywordIndexContract):
    @pytest.fixture
    def make_index(self, tmp_path: Path) -> Callable[[], Any]:
        return lambda: SqliteKeywords(tmp_path / "keywords" / "contract.sqlite3")


class TestPostgresKeywords(contracts.KeywordIndexContract):
    @pytest.fixture
    def make_index(self, pg_url: str) -> Callable[[], Any]:
        return lambda: PostgresKeywords(pg_url, "contract")


# Embedders ---------------------------------------------------------------


class TestFastEmbedder(contracts.EmbedderContract):
    @pytest.fixture(scope="class")
    @classmethod
    def embedder(cls, tmp_path_factory: pytest.TempPathFactory) -> Any:
        return load_plugins(None).embedder(Settings(home=tmp_path_factory.mktemp("home")))


class TestStubEmbedder(contracts.EmbedderContract):
    semantic = False

    @pytest.fixture
    def embedder(self) -> Any:
        return StubEmbedder()


# OCR engines -------------------------------------------------------------


class TestTesseract(contracts.OcrEngineContract):
    @pytest.fixture
    def engine(self) -> Any:
        return TesseractOcr("eng", timeout=60, concurrency=1)


class TestStubOcr(contracts.OcrEngineContract):
    reads_text = False

    @pytest.fixture
    def engine(self) -> Any:
        return StubOcrEngine()


# Chunkers ----------------------------------------------------------------


class TestTextChunker(contracts.ChunkerContract):
    @pytest.fixture
    def chunker(self) -> Any:
        return TextChunker(300, 50)


class TestStubChunker(contracts.ChunkerContract):
    @pytest.fixture
    def chunker(self) -> Any:
        return StubChunker(words=20)


# Sources -----------------------------------------------------------------


class TestFolderSource(contracts.SourceContract):
    @pytest.fixture
    def source(self, tmp_path: Path) -> Any:
        for name in ("a.txt", "sub/b.md"):
            (tmp_path / "root" / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "root" / name).write_text(f"content of {name}")
        return FolderSource(str(tmp_path / "root"))

    @pytest.fixture
    def change(self, source: FolderSource) -> Callable[[DocumentRef], None]:
        def edit(ref: DocumentRef) -> None:
            path = Path(source.fetch(ref).path or "")
            path.write_text(path.read_text() + " and more")

        return edit


class TestStubSource(contracts.SourceContract):
    @pytest.fixture
    def source(self) -> Any:
        return StubSource({"a.stub": b"alpha", "b.stub": b"beta"})

    @pytest.fixture
    def change(self, source: StubSource) -> Callable[[DocumentRef], None]:
        return lambda ref: source.change(ref.locator, b"changed")


# Extractors --------------------------------------------------------------


def _blob(path: Path) -> Blob:
    data = path.read_bytes()
    return Blob(path.name, data, media_type_of(path.name, data), path)


class TestPyMuPdfOnAScan(contracts.ExtractorContract):
    @pytest.fixture
    def extractor(self) -> Any:
        return PyMuPdfExtractor()

    @pytest.fixture
    def sample(self, corpus: Path) -> Blob:
        return _blob(corpus / "scanned" / "scan-001.pdf")

    @pytest.fixture
    def damaged(self, corpus: Path) -> Blob:
        return Blob("truncated.pdf", (corpus / "bad" / "truncated.pdf").read_bytes(), "application/pdf")


class TestPyMuPdfOnBornDigital(TestPyMuPdfOnAScan):
    @pytest.fixture
    def sample(self, corpus: Path) -> Blob:
        return _blob(sorted((corpus / "text").iterdir())[1])


class TestTextExtractor(contracts.ExtractorContract):
    @pytest.fixture
    def extractor(self) -> Any:
        return TextExtractor()

    @pytest.fixture
    def sample(self, corpus: Path) -> Blob:
        return _blob(corpus / "plain" / "latin1.txt")

    @pytest.fixture
    def damaged(self) -> Blob:
        return Blob("noise.txt", bytes(range(256)) * 64, "text/plain")


class TestStubExtractor(contracts.ExtractorContract):
    @pytest.fixture
    def extractor(self) -> Any:
        return StubExtractor()

    @pytest.fixture
    def sample(self) -> Blob:
        return Blob("a.stub", b"page one\fpage two\f%SCAN")

    @pytest.fixture
    def damaged(self) -> Blob:
        return Blob("b.stub", b"%BROKEN")
