"""The JSON API (server-only): `GET /api/health`, `GET /api/providers`, `POST /api/generate`,
and the clip jobs: `POST /api/jobs`, `GET`/`DELETE /api/jobs/<id>`, `GET /api/jobs/<id>/result`.

Each route takes the handler (the parsed body for POST, the job id for a job route) and returns
(status, JSON) or the generated media; generation and job faults map to HTTP here (400, 404,
409, 429, 502, 504). Generation itself is proxy/providers/runner.py, jobs are proxy/jobs.py.
`find_route` matches a path exactly, or against a job route's pattern; a job id that is not
exactly "job_" and 32 lowercase hex digits is simply not found (404 job_not_found).

    API_ROUTES["/api/generate"]["POST"](handler, {"kind": "image", "prompt": "a fox"})
    find_route("/api/jobs/job_0123.../result")   # ({"GET": handle_job_result}, {"job_id": ...})
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable

from app.core.errors import ProviderBusy, ProviderError, ProviderTimeout, RecipeError
from app.core.version import __version__
from proxy.guards import RequestRefused
from proxy.jobs import CANCELLED, FAILED, QUEUED, SUCCEEDED, Job
from proxy.providers.base import GeneratedMedia

if TYPE_CHECKING:
    from proxy.handler import SceneVaultHandler

# Generation failures -> (status, error code); the first matching class wins.
GENERATION_FAULTS = ((RecipeError, 400, None), (ProviderBusy, 429, "too_many_requests"),
                     (ProviderTimeout, 504, "provider_timeout"), (ProviderError, 502, "provider_failed"))


def handle_health(handler: SceneVaultHandler) -> tuple[int, dict]:
    return 200, {"ok": True, "version": __version__}


def handle_providers(handler: SceneVaultHandler) -> tuple[int, dict]:
    return 200, handler.server.generation.catalog().to_dict()


def handle_generate(handler: SceneVaultHandler, body: dict) -> GeneratedMedia:
    """Run one generation (proxy/providers/runner.py); its faults become JSON errors."""
    try:
        return handler.server.generation.generate(body)
    except (RecipeError, ProviderError) as exc:
        status, code = next((s, c) for kind, s, c in GENERATION_FAULTS if isinstance(exc, kind))
        raise RequestRefused(status, code or exc.code, str(exc)) from None


def handle_create_job(handler: SceneVaultHandler, body: dict) -> tuple[int, dict]:
    """Start a clip job; answered at once with its id (202), the clip comes later."""
    try:
        job = handler.server.jobs.create(body)
    except RecipeError as exc:
        raise RequestRefused(400, exc.code, str(exc)) from None
    except ProviderBusy as exc:
        raise RequestRefused(429, "too_many_jobs", str(exc)) from None
    return 202, {"id": job.id, "status": QUEUED}


def handle_job(handler: SceneVaultHandler, job_id: str) -> tuple[int, dict]:
    return 200, _job(handler, job_id).view()


def handle_delete_job(handler: SceneVaultHandler, job_id: str) -> tuple[int, dict]:
    """Cancel a queued or running job, or discard a finished one and its result."""
    answer = handler.server.jobs.delete(job_id)
    if answer is None:
        raise _not_found(job_id)
    return 200, answer


def handle_job_result(handler: SceneVaultHandler, job_id: str) -> GeneratedMedia:
    """The clip, exactly as POST /api/generate answers media; 409 until then, the job's fault
    (502, 504) if it failed. The result stays until DELETE /api/jobs/<id> (or an hour)."""
    job = _job(handler, job_id)
    with job.lock:
        status, media, fault = job.status, job.media, job.fault
    if status == SUCCEEDED and media is not None:
        return media
    if status == FAILED and fault is not None:
        raise RequestRefused(fault.status, fault.code, fault.message)
    if status == CANCELLED:
        raise RequestRefused(409, "job_cancelled", f"job {job_id} was cancelled; it has no result")
    raise RequestRefused(409, "job_not_ready", f"job {job_id} is {status}; ask GET /api/jobs/"
                         f"{job_id} until it has succeeded")


def _job(handler: SceneVaultHandler, job_id: str) -> Job:
    job = handler.server.jobs.get(job_id)
    if job is None:
        raise _not_found(job_id)
    return job


def _not_found(job_id: str) -> RequestRefused:
    shown = job_id if len(job_id) <= 40 and job_id.isprintable() else job_id[:37] + "..."
    return RequestRefused(404, "job_not_found", f"no job {shown!r} here: it was never made, was "
                          "deleted, expired an hour after it ended, or the server restarted")


JOBS_ROUTE = "/api/jobs"
API_ROUTES = {
    "/api/health": {"GET": handle_health},
    "/api/providers": {"GET": handle_providers},
    "/api/generate": {"POST": handle_generate},
    JOBS_ROUTE: {"POST": handle_create_job},
}
# Routes with a job id in the path: the id is checked by the job table, not by the pattern.
PATTERN_ROUTES = (
    (re.compile(r"/api/jobs/(?P<job_id>[^/]*)"), {"GET": handle_job, "DELETE": handle_delete_job}),
    (re.compile(r"/api/jobs/(?P<job_id>[^/]*)/result"), {"GET": handle_job_result}),
)


def find_route(path: str) -> tuple[dict[str, Callable], dict[str, str]] | None:
    """The handlers for `path` by method and the values taken from it, or None."""
    if path in API_ROUTES:
        return API_ROUTES[path], {}
    for pattern, handlers in PATTERN_ROUTES:
        match = pattern.fullmatch(path)
        if match:
            return handlers, match.groupdict()
    return None
