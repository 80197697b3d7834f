"""Reading a Prometheus endpoint in tests: every sample, and sums over the labels a test cares about."""

from __future__ import annotations

import time
import urllib.request

__all__ = ["Samples", "scrape", "scraped", "total"]

#: (metric name, its labels sorted) -> value.
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    """Every sample ``url`` (``http://host:port/metrics``) serves now; OSError when nothing answers."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def scraped(url: str, timeout: float = 60) -> Samples:
    """The first answer of ``url`` within ``timeout`` seconds (a service that is starting); TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return scrape(url)
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing answered at {url} within {timeout:g} s") from None
            time.sleep(0.2)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(value for (found, have), value in samples.items() if found == name and set(labels.items()) <= set(have))
