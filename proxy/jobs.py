"""Clip jobs (server-only): anything too slow for one request runs as a job in server memory.

Owns `Job` (one clip being made: its recipe, state, progress, error, and once made its media),
`JobTable` (at most `max_jobs` jobs; a finished one is kept until the page deletes it or for
KEEP_S, one hour, whichever comes first; expired ones are swept on every access) and
`JobService`, what /api/jobs calls:

    create(body)  validate the recipe (kind "clip") and its frame (`clip.Frame`: a data URI whose
                  bytes match its type and whose SHA-256 is the recipe's input_sha256), add the
                  job (ProviderBusy past `max_jobs`), queue it; the page gets its id at once
    get(id)       the job, or None: an id is exactly "job_" and 32 lowercase hex digits
    delete(id)    a queued or running job is cancelled (upstream too, where the provider can);
                  a finished one is discarded with its result

A job runs on a bounded pool (`workers.WorkerPool`, as many threads as SCENEVAULT_MAX_CONCURRENT)
and holds one of the runner's concurrency slots (shared with POST /api/generate) from its submit
to its last upstream call; it stays "queued" while it waits for one. It has one wall-clock
deadline from its creation (`job_timeout_s`), and each upstream call gets the per-exchange
deadline (`timeout_s`) cut to what the job has left, so a job that never finishes fails with
ProviderTimeout at its deadline. The slot returns on every path (success, failure, cancel,
deadline, a provider bug); a cancelled job's worker stops at its next pause between polls, at
the latest when its current upstream call ends. Every message is scrubbed of keys.

    service = JobService(runner)
    job = service.create({"kind": "clip", "prompt": "slow pan", "width": 512, "height": 512,
                          "input_sha256": sha, "image": "data:image/png;base64,..."})
    service.get(job.id).view()   # {"id", "status": "queued", "progress": 0, "recipe", "error"}
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from app.core.errors import ProviderBusy, ProviderError, ProviderTimeout, RecipeError
from app.core.recipe import Catalog, Recipe, validate_request, with_chosen_seed
from proxy.providers.base import GeneratedMedia
from proxy.providers.clip import ClipProvider, ClipTicket, Frame
from proxy.providers.redaction import scrub
from proxy.providers.runner import ProviderRunner, finish
from proxy.providers.transport import Deadline
from proxy.workers import WorkerPool

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
FINISHED = frozenset({SUCCEEDED, FAILED, CANCELLED})
JOB_ID = re.compile(r"job_[0-9a-f]{32}")
KEEP_S = 3600.0  # a finished job (and its result) is kept this long, unless the page deletes it
FIRST_POLL_S, LONGEST_POLL_S = 0.1, 2.0  # pauses between polls grow from the first to the longest
SLOT_WAIT_S = 0.25  # a queued job looks at its cancel flag and deadline this often
CANCEL_TIMEOUT_S = 10.0  # an upstream cancel gets at most this (and at most the exchange timeout)
# Failures -> (HTTP status of GET .../result, error code); the first matching class wins.
FAULTS = ((ProviderTimeout, 504, "provider_timeout"), (ProviderError, 502, "provider_failed"))


@dataclass(frozen=True)
class JobFault:
    """Why a job failed: the status and code its result answers with, and the message."""

    status: int
    code: str
    message: str


@dataclass(eq=False)
class Job:
    """One clip being made. Fields change under `lock`; `view()` is what GET /api/jobs/<id> shows."""

    id: str
    recipe: Recipe
    provider: ClipProvider
    frame: Frame | None = field(repr=False)
    deadline: Deadline
    status: str = QUEUED
    progress: float | None = 0.0
    fault: JobFault | None = None
    media: GeneratedMedia | None = field(default=None, repr=False)
    finished_at: float | None = None
    ticket: ClipTicket | None = None
    upstream_open: bool = False  # submitted upstream, neither done there nor cancelled yet
    cancelled: threading.Event = field(default_factory=threading.Event, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def view(self) -> dict:
        with self.lock:
            error = {"code": self.fault.code, "message": self.fault.message} if self.fault else None
            return {"id": self.id, "status": self.status, "progress": self.progress,
                    "recipe": self.recipe.to_dict(), "error": error}


class JobTable:
    """The jobs the server knows: at most `max_jobs`; finished ones leave after `keep_s`."""

    def __init__(self, max_jobs: int, keep_s: float = KEEP_S,
                 clock: Callable[[], float] = time.monotonic):
        self.max_jobs, self.keep_s, self.now = max_jobs, keep_s, clock
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def add(self, make: Callable[[str], Job]) -> Job | None:
        """A new job made by `make(id)` with a fresh id, or None when the table is full."""
        self.sweep()
        with self._lock:
            if len(self._jobs) >= self.max_jobs:
                return None
            job = make(new_job_id())
            self._jobs[job.id] = job
            return job

    def get(self, job_id: str) -> Job | None:
        self.sweep()
        if not isinstance(job_id, str) or not JOB_ID.fullmatch(job_id):
            return None
        with self._lock:
            return self._jobs.get(job_id)

    def remove(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.pop(job_id, None)

    def sweep(self) -> None:
        """Drop finished jobs kept for `keep_s` already (unfinished ones end by their deadline)."""
        now = self.now()
        with self._lock:
            expired = [job_id for job_id, job in self._jobs.items()
                       if job.finished_at is not None and now - job.finished_at >= self.keep_s]
            for job_id in expired:
                del self._jobs[job_id]

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)


def new_job_id() -> str:
    return "job_" + secrets.token_hex(16)


class _Cancelled(Exception):
    """The page cancelled the job (DELETE) while its worker had it."""


class JobService:
    """Creates, runs, cancels and discards clip jobs (see the module docstring)."""

    def __init__(self, runner: ProviderRunner, table: JobTable | None = None):
        self.runner = runner
        self.settings = runner.settings
        self.table = table or JobTable(self.settings.max_jobs)
        self._pool = WorkerPool(self._run, self.settings.max_concurrent, name="job")

    # --- the API --------------------------------------------------------------------------------
    def catalog(self) -> Catalog:
        """The catalog clips are checked against; its default is the first configured provider
        that makes clips (the server's default provider makes images and audio)."""
        catalog = self.runner.catalog()
        maker = next((p.name for p in catalog.providers if p.configured and "clip" in p.kinds), None)
        return self.runner.catalog(default=maker)

    def create(self, body: dict) -> Job:
        """A new queued job for a request body; RecipeError (400) or ProviderBusy (429)."""
        if not isinstance(body, dict) or body.get("kind") != "clip":
            raise RecipeError("POST /api/jobs makes clips (kind \"clip\"); images and audio come "
                              "from POST /api/generate", "kind")
        fields = {name: value for name, value in body.items() if name != "image"}
        recipe = with_chosen_seed(validate_request(fields, self.catalog()))
        frame = Frame.from_data_uri(body.get("image"))
        if frame.sha256 != recipe.input_sha256:
            raise RecipeError(f"input_sha256 is {recipe.input_sha256} but the frame's SHA-256 is "
                              f"{frame.sha256}", "input_sha256")
        provider = self.runner.providers[recipe.provider]
        provider.check_clip(recipe)
        job = self.table.add(lambda job_id: Job(job_id, recipe, provider, frame,
                                                Deadline(self.settings.job_timeout_s)))
        if job is None:
            raise ProviderBusy(f"the server already keeps {self.table.max_jobs} jobs; delete "
                               "finished ones (DELETE /api/jobs/<id>) or wait for them to end")
        self._pool.submit(job)
        return job

    def get(self, job_id: str) -> Job | None:
        return self.table.get(job_id)

    def delete(self, job_id: str) -> dict | None:
        """Cancel a queued or running job, or discard a finished one; None for an unknown id."""
        job = self.table.get(job_id)
        if job is None:
            return None
        with job.lock:
            if job.finished:
                self.table.remove(job.id)
                job.media = None
                return {"id": job.id, "status": job.status}
            job.status, job.progress, job.frame = CANCELLED, None, None
            job.finished_at = self.table.now()
            job.cancelled.set()
        self._cancel_upstream(job)
        return {"id": job.id, "status": CANCELLED}

    def stop(self) -> None:
        self._pool.stop()

    # --- a job's life, on a worker --------------------------------------------------------------
    def _run(self, job: Job) -> None:
        if not self._take_slot(job):
            return
        try:
            outcome: GeneratedMedia | ProviderError | None = self._make(job)
        except _Cancelled:
            outcome = None
        except ProviderError as exc:
            outcome = exc
        except Exception as exc:  # a provider's bug or an answer it did not expect: logged
            self.runner.log_unexpected(job.provider, exc)
            outcome = ProviderError(f"{job.provider.name} failed unexpectedly ({type(exc).__name__})")
        finally:
            self.runner.slots.release()
        if isinstance(outcome, ProviderTimeout) and job.deadline.left <= 0:
            outcome = self._job_timeout(job)
        self._cancel_upstream(job)  # still open upstream only after a failure while waiting
        self._settle(job, outcome)

    def _take_slot(self, job: Job) -> bool:
        """Wait for a concurrency slot while the job is queued; False if it was cancelled or its
        deadline passed first (then it is settled as failed)."""
        while not job.cancelled.is_set():
            left = job.deadline.left
            if left <= 0:
                self._settle(job, self._job_timeout(job))
                return False
            if self.runner.slots.acquire(timeout=min(left, SLOT_WAIT_S)):
                if not job.cancelled.is_set():
                    return True
                self.runner.slots.release()
        return False

    def _make(self, job: Job) -> GeneratedMedia:
        provider, recipe = job.provider, job.recipe
        ticket = provider.submit(recipe, job.frame, self._exchange(job))
        with job.lock:
            job.frame, job.ticket, job.upstream_open = None, ticket, True
        self._wait(job, ticket)
        media = provider.result(ticket, recipe, self._exchange(job))
        self._check_cancelled(job)
        return finish(media, provider.name, self.settings.max_media_bytes)

    def _wait(self, job: Job, ticket: ClipTicket) -> None:
        """Poll until the upstream is done, pausing longer each time; the pauses end at once on a
        cancel, and the job's deadline ends the wait."""
        pause = FIRST_POLL_S
        while True:
            self._check_cancelled(job)
            progress = job.provider.poll(ticket, self._exchange(job))
            self._check_cancelled(job)
            if progress.state in ("done", "failed"):
                with job.lock:
                    job.upstream_open = False
                if progress.state == "failed":
                    raise ProviderError(progress.message or f"{job.provider.name} reported the "
                                        "clip as failed")
                return
            with job.lock:
                if not job.finished:
                    if progress.state == RUNNING:
                        job.status = RUNNING
                    job.progress = progress.fraction if job.status == RUNNING else 0.0
            if job.cancelled.wait(min(pause, job.deadline.left)):
                raise _Cancelled
            if job.deadline.left <= 0:
                raise self._job_timeout(job)
            pause = min(LONGEST_POLL_S, pause * 1.5)

    def _check_cancelled(self, job: Job) -> None:
        if job.cancelled.is_set():
            raise _Cancelled

    def _exchange(self, job: Job) -> Deadline:
        """One upstream call's deadline: the exchange timeout, cut to what the job has left."""
        return Deadline(min(self.settings.timeout_s, job.deadline.left))

    def _job_timeout(self, job: Job) -> ProviderTimeout:
        return ProviderTimeout(f"{job.provider.name} did not finish the clip within "
                               f"{self.settings.job_timeout_s:g} s (SCENEVAULT_JOB_TIMEOUT_S)")

    def _settle(self, job: Job, outcome: GeneratedMedia | ProviderError | None) -> None:
        """Record how the job ended, unless it was cancelled meanwhile (then nothing changes)."""
        with job.lock:
            if job.finished or outcome is None:
                return
            if isinstance(outcome, GeneratedMedia):
                job.status, job.media, job.recipe, job.progress = (SUCCEEDED, outcome,
                                                                   outcome.recipe, 1.0)
            else:
                status, code = next((s, c) for kind, s, c in FAULTS if isinstance(outcome, kind))
                message = scrub(str(outcome), self.settings.secrets)
                job.status, job.fault, job.progress = FAILED, JobFault(status, code, message), None
            job.frame = None
            job.finished_at = self.table.now()

    def _cancel_upstream(self, job: Job) -> None:
        """Cancel the job upstream once, if it was submitted and is not done there yet; a failure
        to cancel is logged (scrubbed), never raised."""
        with job.lock:
            if not job.upstream_open or job.ticket is None:
                return
            job.upstream_open = False
            ticket = job.ticket
        try:
            job.provider.cancel(ticket, Deadline(min(self.settings.timeout_s, CANCEL_TIMEOUT_S)))
        except ProviderError as exc:
            self.runner.log(job.provider, f"could not cancel job {job.id} upstream: {exc}")
        except Exception as exc:  # a provider's bug: logged, the job is cancelled here anyway
            self.runner.log_unexpected(job.provider, exc)
