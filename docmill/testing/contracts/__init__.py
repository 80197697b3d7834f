"""Contract test suites: what every plugin of a kind must do, to import into your own pytest suite.

Subclass the contract for your plugin's kind and provide the fixture its
docstring names; pytest collects the inherited tests::

    from docmill.testing.contracts import VectorStoreContract

    class TestMyStore(VectorStoreContract):
        @pytest.fixture
        def make_store(self, tmp_path):
            return lambda dimension, model: MyStore(tmp_path, dimension=dimension, model=model)

docmill's built-ins and the stubs in :mod:`docmill.testing.stubs` pass these
same suites. Importing this package needs pytest.
"""

from .chunker import ChunkerContract
from .embedder import EmbedderContract
from .extractor import ExtractorContract
from .keywords import KeywordIndexContract
from .ocr import OcrEngineContract
from .source import SourceContract
from .store import VectorStoreContract

__all__ = [
    "ChunkerContract",
    "EmbedderContract",
    "ExtractorContract",
    "KeywordIndexContract",
    "OcrEngineContract",
    "SourceContract",
    "VectorStoreContract",
]
