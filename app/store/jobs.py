"""Pending generation jobs (browser): the slow generations (a clip from a frame on FAL or
ComfyUI) that run on the server while the page may be reloaded, closed or offline.

A job is recorded in the `jobs` store as soon as the server has accepted it; that record is what
marks its slot "generating" across reloads. The job's result is stored with `put_asset(...,
job_id=...)`, which claims the record in the SAME transaction as the new version: the result is
stored exactly once even when two tabs resume the same job (the second finds no record and its
transaction aborts with `JobAlreadyStored`). A job the server lost stays recorded as `lost`, with
its recipe, until the user generates it again or dismisses it.

Mixed into `app.store.vault.Vault`, which provides `_transaction` and `_commit`.

    await vault.add_job(PendingJob("job_…", project.id, "clip", "scene:s1:clip", recipe))
    for job in await vault.pending_jobs():        # after a reload: resume each one
        ...
    await vault.put_asset(project.id, "clip", job.slot, blob, "video/mp4", recipe=recipe,
                          job_id=job.id)          # stored and claimed at once
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.core.errors import JobAlreadyStored
from app.core.model import now_ms
from app.store import idb

JOB_STATES = ("running", "lost", "failed")


@dataclass(frozen=True)
class PendingJob:
    """One server job the page waits for: where its result goes and the recipe it was asked with."""

    id: str
    project_id: str
    kind: str
    slot: str
    recipe: dict
    created_at: int = 0
    state: str = "running"
    message: str | None = None

    def to_record(self) -> dict:
        record = {"id": self.id, "projectId": self.project_id, "kind": self.kind,
                  "slot": self.slot, "recipe": self.recipe, "createdAt": self.created_at or now_ms(),
                  "state": self.state}
        return record | ({"message": self.message} if self.message else {})

    @classmethod
    def from_record(cls, record: dict) -> PendingJob:
        return cls(id=record["id"], project_id=record["projectId"], kind=record["kind"],
                   slot=record["slot"], recipe=dict(record.get("recipe") or {}),
                   created_at=int(record.get("createdAt", 0)), state=record.get("state", "running"),
                   message=record.get("message"))


def claim_job(tx: idb.Transaction, job_id: str) -> None:
    """Queue, first in a write transaction: delete the job's record, or abort the whole
    transaction when it is already gone (its result was stored by another tab)."""
    jobs = tx.store("jobs")

    def claim(record):
        if record is None:
            raise JobAlreadyStored(f"The result of job {job_id} was already stored (by another "
                                   "tab); it was not stored twice.")
        jobs.delete(job_id)

    tx.then(jobs.get(job_id), claim)


class JobStore:
    """The vault's methods for pending jobs (one transaction each)."""

    async def add_job(self, job: PendingJob) -> PendingJob:
        job = replace(job, created_at=job.created_at or now_ms())
        tx = self._transaction(["jobs"], "readwrite")
        tx.store("jobs").put(idb.to_js_record(job.to_record()))
        await self._commit(tx)
        return job

    async def pending_jobs(self, project_id: str | None = None) -> list[PendingJob]:
        """Every recorded job (of one project, if given), oldest first."""
        tx = self._transaction(["jobs"])
        found = []
        tx.then(tx.store("jobs").getAll(), lambda records: found.extend(idb.from_js_record(records)))
        await tx.done()
        jobs = sorted((PendingJob.from_record(r) for r in found), key=lambda j: j.created_at)
        return [j for j in jobs if project_id is None or j.project_id == project_id]

    async def mark_job(self, job_id: str, state: str, message: str) -> None:
        """Record that a job was lost or failed (kept, with its recipe, for the user to see)."""
        if state not in JOB_STATES:
            raise ValueError(f"job state {state!r} is not one of {', '.join(JOB_STATES)}")
        tx = self._transaction(["jobs"], "readwrite")
        jobs = tx.store("jobs")

        def update(record):
            if record is not None:
                record.state, record.message = state, message
                jobs.put(record)

        tx.then(jobs.get(job_id), update)
        await self._commit(tx)

    async def drop_job(self, job_id: str) -> None:
        """Forget a job (cancelled, or dismissed by the user)."""
        tx = self._transaction(["jobs"], "readwrite")
        tx.store("jobs").delete(job_id)
        await self._commit(tx)


__all__ = ["JOB_STATES", "JobStore", "PendingJob", "claim_job"]
