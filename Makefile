# The two commands of the quick start, and their helpers. Each target sets up
# what it needs on a fresh Debian machine (as root: apt-get for Tesseract).
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_HOME ?= .docmill-demo
# Seconds the long PostgreSQL outage of `make test-faults` lasts (OUTAGE=600: ten minutes).
OUTAGE ?= 120

.PHONY: install demo test test-faults lint unit bench bench-search bench-peers bench-distributed bench-paperless bench-webdav bench-s3 bench-imap bench-parsing bench-office bench-ocr bench-scale bench-api fresh-check container-test clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml scripts/bootstrap.sh
	scripts/bootstrap.sh $(VENV)
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	scripts/bootstrap.sh --test $(VENV)
	@touch $@

# Ingest docmill's own docs and a scanned invoice (samples/), then search them.
demo: install
	DOCMILL_HOME=$(DEMO_HOME) $(BIN)/docmill ingest README.md docs samples
	DOCMILL_HOME=$(DEMO_HOME) $(BIN)/docmill search "what happens to a password-protected PDF" -k 2
	DOCMILL_HOME=$(DEMO_HOME) $(BIN)/docmill search "how much does the bakery owe for the oak shelves" -k 2

lint: $(VENV)/.installed-test
	$(BIN)/ruff check docmill tests benchmarks
	$(BIN)/mypy

# Two pytest workers: the service tests (tests/distributed) in turn on one, the rest beside them.
unit: $(VENV)/.installed-test
	scripts/test-services.sh
	$(BIN)/pytest -n 2 --dist loadgroup

# Both at once: mypy runs beside the suite (scripts/test.sh).
test: $(VENV)/.installed-test
	scripts/test.sh $(BIN)

# The fault-injection suite (tests/faults): RabbitMQ, PostgreSQL, the Chroma server, the workers and the embedded
# ingest stopped, killed or starved of disk mid-job, on private instances of the services; prints each scenario's
# time to recover. About 25 minutes; `make test` runs its quick scenarios.
test-faults: $(VENV)/.installed-test
	scripts/test-services.sh
	DOCMILL_FAULTS=all DOCMILL_FAULT_OUTAGE=$(OUTAGE) $(BIN)/pytest tests/faults

# The ingest benchmark over a generated corpus (see benchmarks/README.md).
bench: install
	$(BIN)/python benchmarks/ingest.py

# Search quality (dense, keyword, hybrid; 132 labelled queries over 49 PDFs) and its cost (ingest, latency, size,
# 200,000 chunks), side by side in one run (benchmarks/search/README.md); about 30 minutes.
SEARCH_HOME ?= benchmarks/results/search-home
bench-search: install
	rm -rf $(SEARCH_HOME)
	$(BIN)/python benchmarks/search/evaluate.py --home $(SEARCH_HOME)
	$(BIN)/python benchmarks/search/cost.py --home $(SEARCH_HOME)

# docmill against LlamaIndex's IngestionPipeline and LangChain's indexing API (their own venv, benchmarks/peers/).
bench-peers: install
	$(BIN)/python benchmarks/peers.py

# Distributed mode: submit latency, throughput per worker process, orchestration scaling.
bench-distributed: $(VENV)/.installed-test
	$(BIN)/python benchmarks/distributed.py

# Syncing a Paperless-ngx archive (a local look-alike server): first, incremental and full syncs.
bench-paperless: install
	$(BIN)/python benchmarks/paperless.py

# A WebDAV share of 10,000 files on a real Apache (mod_dav_fs), stub embedder (benchmarks/README.md).
bench-webdav: $(VENV)/.installed-test
	$(BIN)/python benchmarks/webdav.py

# Syncing a bucket of 10,000 objects in moto's S3 emulator (a test dependency), stub embedder (benchmarks/s3.py).
bench-s3: $(VENV)/.installed-test
	$(BIN)/python benchmarks/s3.py

# Syncing a 10,000-message IMAP mailbox (a Dovecot of its own): first sync, 50 changes, unchanged, --full.
bench-imap: $(VENV)/.installed-test
	$(BIN)/python benchmarks/imap.py

# Parsing in the sandbox's child processes against in the pipeline's process (benchmarks/README.md).
bench-parsing: install
	$(BIN)/python benchmarks/parsing.py

# Office documents and mail: extraction in the parsing processes against each library's bare call (benchmarks/office.py).
bench-office: install
	$(BIN)/python benchmarks/office.py

# OCR: docmill's engine and a whole ingest of scans against bare tesseract processes (benchmarks/ocr.py).
bench-ocr: install
	$(BIN)/python benchmarks/ocr.py

# Scale (benchmarks/scale.py): submitting 10,000 to 200,000 small files into fresh SQLite and PostgreSQL ledgers,
# a 100,000-document Paperless archive, and 50,000 files through the whole pipeline; about 45 minutes.
bench-scale: install
	$(BIN)/python benchmarks/scale.py

# docker/compose.yaml's whole stack under podman, images built FROM Debian (scripts/container-test.py).
container-test: $(VENV)/.installed-test
	$(BIN)/python scripts/container-test.py

# The HTTP API: uploads from concurrent clients, time to 202, every document done; one caller's upload behind
# another's backlog of 500 (benchmarks/api.py).
bench-api: $(VENV)/.installed-test
	$(BIN)/python benchmarks/api.py
	$(BIN)/python benchmarks/api.py --mode distributed
	$(BIN)/python benchmarks/api.py --fairness
	$(BIN)/python benchmarks/api.py --fairness --mode distributed

# The two commands of the quick start in a bare Debian container (podman), from a clone of HEAD; prints times.
fresh-check:
	scripts/fresh-check.sh

clean:
	rm -rf $(VENV) $(DEMO_HOME) .docmill .pytest_cache .mypy_cache .ruff_cache benchmarks/peers/.venv
