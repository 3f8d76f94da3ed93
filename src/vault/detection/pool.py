"""Detection in worker processes, so that it never stalls the event loop.

Presidio's recognizers are regular expressions run by the ``re`` module, which holds the GIL
for a whole match: 100k characters of text in a thread still froze every other request for
seconds. Worker processes (spawned, each building its analyzer once) take that work out of
the serving process entirely; the serving process only waits on a future.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from functools import partial

from vault.detection.registry import build_analyzer
from vault.detection.service import DetectedEntity, PiiDetector, RedactedText

# The analyzer of *this worker process*, built by the pool's initializer; never set in the serving process.
_WORKER_DETECTOR: PiiDetector | None = None


def _start_worker() -> None:
    global _WORKER_DETECTOR
    _WORKER_DETECTOR = PiiDetector(build_analyzer())


def _worker() -> PiiDetector:
    if _WORKER_DETECTOR is None:
        _start_worker()
    assert _WORKER_DETECTOR is not None
    return _WORKER_DETECTOR


def _analyze(text: str, language: str | None, threshold: float | None) -> list[DetectedEntity]:
    return _worker().analyze(text, language, threshold=threshold)


def _redact(text: str, language: str | None) -> RedactedText:
    return _worker().redact(text, language)


class DetectionPool:
    """PII detection on a pool of worker processes, started on first use.

    Args:
        processes: Worker processes (each holds its own analyzer in memory).
    """

    def __init__(self, processes: int = 1) -> None:
        self._processes = max(1, processes)
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(max_workers=self._processes, initializer=_start_worker,
                                                 mp_context=multiprocessing.get_context("spawn"))
        return self._executor

    async def analyze(self, text: str, language: str | None = None, *,
                      threshold: float | None = None) -> list[DetectedEntity]:
        """:meth:`PiiDetector.analyze` in a worker process."""
        return await asyncio.get_running_loop().run_in_executor(
            self._pool(), partial(_analyze, text, language, threshold))

    async def redact(self, text: str, language: str | None = None) -> RedactedText:
        """:meth:`PiiDetector.redact` in a worker process."""
        return await asyncio.get_running_loop().run_in_executor(self._pool(), partial(_redact, text, language))

    def close(self) -> None:
        """Stop the worker processes (pending work is cancelled)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
