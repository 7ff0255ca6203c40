"""A bounded pool of worker threads (server-only): at most `size` daemon threads, started as work
arrives and then kept; past that, work waits in one queue. Never a thread per request.

The connections (proxy/connections.py) serve requests on one pool; the clip jobs
(proxy/jobs.py) run on another, as large as the concurrency cap.

    pool = WorkerPool(serve, size=64, name="worker")
    pool.submit(connection)      # serve(connection) runs on one of at most 64 threads
    pool.stop()                  # each thread ends once it has finished what it is doing
"""

from __future__ import annotations

import queue
import threading


class WorkerPool:
    """At most `size` threads running `work(job)` for jobs from one queue; started as jobs
    arrive and then kept. While every worker is busy, jobs wait in the queue."""

    def __init__(self, work, size: int, name: str = "worker"):
        self._work, self._size, self._name = work, size, name
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = self._queued = 0

    def submit(self, job):
        with self._lock:
            self._queued += 1
            if self._queued > self._idle and len(self._threads) < self._size:
                thread = threading.Thread(target=self._run, daemon=True,
                                          name=f"{self._name}-{len(self._threads) + 1}")
                self._threads.append(thread)
                thread.start()
        self._jobs.put(job)

    def stop(self):
        for _ in self._threads:
            self._jobs.put(None)

    def _run(self):
        while True:
            with self._lock:
                self._idle += 1
            job = self._jobs.get()
            with self._lock:
                self._idle, self._queued = self._idle - 1, self._queued - 1
            if job is None:
                return
            self._work(job)
