"""The `comfyui` provider (server-only): clips from a frame on the user's own ComfyUI.

Owns the calls, in ComfyUI's own HTTP API, all to the configured SCENEVAULT_COMFYUI_URL (the
user's machine: loopback and private addresses are fine, since the user set it, not an answer),
and never to any other origin: redirects are not followed, and the output is fetched from the
same base URL by name.
1. upload: `POST /upload/image` (multipart: `image` = the frame as scenevault-<sha256>.<ext>,
   `type` = input, `overwrite` = true) -> `{"name", "subfolder", "type"}`;
2. queue: `POST /prompt` with `{"prompt": <the filled workflow>, "client_id"}` (see
   comfyui_workflow.py) -> `{"prompt_id", "number", "node_errors"}`;
3. poll: `GET /history/<prompt_id>` is `{}` until the prompt ends; meanwhile `GET /queue` says
   whether it is running or pending. A prompt in neither (ComfyUI restarted) fails the job;
   an `execution_error` in the history's messages fails it with ComfyUI's reason;
4. fetch: the first MP4 or WebM in the history's outputs (`videos`, `gifs`, `images` lists, of
   type output), by `GET /view?filename=...&subfolder=...&type=output`, under the size cap;
5. cancel: `POST /interrupt` with `{"prompt_id"}` only while `GET /queue` shows this prompt
   running (so another prompt is never interrupted), or `POST /queue` with `{"delete": [id]}`
   while it is pending.
ComfyUI has no key here. It is listed in GET /api/providers only once configured.

    provider = ComfyUIProvider("http://127.0.0.1:8188", workflow, max_bytes=50 << 20)
    ticket = provider.submit(recipe, frame, Deadline(60))
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import quote, urlencode

from app.core.errors import ProviderError
from app.core.recipe import Recipe
from proxy.providers.base import GeneratedMedia
from proxy.providers.clip import ClipProgress, ClipProvider, ClipTicket, Frame
from proxy.providers.comfyui_workflow import ComfyWorkflow
from proxy.providers.redaction import single_line
from proxy.providers.transport import Deadline, HttpReply, json_answer, request

JSON_CAP = 8 << 20  # a history entry carries a copy of the whole workflow
PROMPT_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
VIDEO_SUFFIXES = (".mp4", ".webm")
OUTPUT_LISTS = ("videos", "gifs", "images")


class ComfyUIProvider(ClipProvider):
    name = "comfyui"

    def __init__(self, url: str, workflow: ComfyWorkflow | None, max_bytes: int):
        self.url = url.rstrip("/")
        self.workflow = workflow
        self._max_bytes = max_bytes
        self._client_id = "scenevault-" + secrets.token_hex(8)

    @property
    def configured(self) -> bool:
        return bool(self.url and self.workflow)

    @property
    def listed(self) -> bool:
        return self.configured

    def models(self) -> dict[str, tuple[str, ...]]:
        return {"clip": (self.workflow.name,) if self.workflow else ()}

    def submit(self, recipe: Recipe, frame: Frame, deadline: Deadline) -> ClipTicket:
        image = self._upload(frame, deadline)
        answer = self._json(self._post_json("/prompt", {
            "prompt": self.workflow.filled(recipe, image), "client_id": self._client_id}, deadline))
        if answer.get("node_errors"):
            raise ProviderError(f"comfyui refused the workflow: {_shown(answer['node_errors'])}")
        prompt_id = answer.get("prompt_id")
        if not isinstance(prompt_id, str) or not PROMPT_ID.fullmatch(prompt_id):
            raise ProviderError("comfyui answered /prompt without a usable prompt_id")
        return ClipTicket(prompt_id)

    def poll(self, ticket: ClipTicket, deadline: Deadline) -> ClipProgress:
        entry = self._history(ticket, deadline)
        if entry is None:
            running, pending = self._queue(deadline)
            if ticket.id in running:
                return ClipProgress("running")
            if ticket.id in pending:
                return ClipProgress("queued")
            entry = self._history(ticket, deadline)  # it may have ended between the two calls
            if entry is None:
                return ClipProgress("failed", message="comfyui no longer knows the prompt (was it "
                                    "restarted or its queue cleared?)")
        failure = _execution_failure(entry)
        if failure:
            return ClipProgress("failed", message=failure)
        return ClipProgress("done")

    def result(self, ticket: ClipTicket, recipe: Recipe, deadline: Deadline) -> GeneratedMedia:
        entry = self._history(ticket, deadline)
        if entry is None:
            raise ProviderError("comfyui has no history for the prompt it reported done")
        file = _video_output(entry.get("outputs"))
        query = urlencode({"filename": file["filename"], "subfolder": file.get("subfolder") or "",
                           "type": "output"})
        reply = request("GET", f"{self.url}/view?{query}", deadline=deadline, max_bytes=self._max_bytes)
        if not reply.ok:
            raise ProviderError(f"comfyui answered HTTP {reply.status} for its output "
                                f"{_shown(file['filename'])}")
        return GeneratedMedia(reply.body, "video/mp4", recipe)

    def cancel(self, ticket: ClipTicket, deadline: Deadline) -> None:
        running, pending = self._queue(deadline)
        if ticket.id in running:
            self._json(self._post_json("/interrupt", {"prompt_id": ticket.id}, deadline), empty_ok=True)
        elif ticket.id in pending:
            self._json(self._post_json("/queue", {"delete": [ticket.id]}, deadline), empty_ok=True)

    # --- calls -----------------------------------------------------------------------------------
    def _upload(self, frame: Frame, deadline: Deadline) -> str:
        boundary = "SceneVault" + secrets.token_hex(16)
        name = f"scenevault-{frame.sha256[:32]}.{frame.extension}"
        body = _multipart(boundary, [("image", name, frame.mime_type, frame.data),
                                     ("type", None, None, b"input"), ("overwrite", None, None, b"true")])
        reply = request("POST", f"{self.url}/upload/image", deadline=deadline, max_bytes=JSON_CAP,
                        body=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        answer = self._json(reply)
        stored, subfolder = answer.get("name"), answer.get("subfolder") or ""
        if not isinstance(stored, str) or not stored or not isinstance(subfolder, str):
            raise ProviderError("comfyui answered the upload without the stored file's name")
        return f"{subfolder}/{stored}" if subfolder else stored

    def _history(self, ticket: ClipTicket, deadline: Deadline) -> dict | None:
        reply = request("GET", f"{self.url}/history/{quote(ticket.id, safe='')}", deadline=deadline,
                        max_bytes=JSON_CAP)
        entry = self._json(reply).get(ticket.id)
        if entry is not None and not isinstance(entry, dict):
            raise ProviderError("comfyui answered a history entry that is not an object")
        return entry

    def _queue(self, deadline: Deadline) -> tuple[set[str], set[str]]:
        answer = self._json(request("GET", f"{self.url}/queue", deadline=deadline, max_bytes=JSON_CAP))
        return _prompt_ids(answer.get("queue_running")), _prompt_ids(answer.get("queue_pending"))

    def _post_json(self, path: str, payload: dict, deadline: Deadline) -> HttpReply:
        return request("POST", self.url + path, deadline=deadline, max_bytes=JSON_CAP, json_body=payload)

    def _json(self, reply: HttpReply, empty_ok: bool = False) -> dict:
        if empty_ok and reply.ok and not reply.body.strip():
            return {}
        answer = json_answer(reply, self.name)
        if not isinstance(answer, dict):
            raise ProviderError("comfyui answered JSON that is not an object")
        return answer


def _multipart(boundary: str, fields: list[tuple[str, str | None, str | None, bytes]]) -> bytes:
    """multipart/form-data: (name, file name or None, content type or None, bytes) per field."""
    parts = []
    for name, filename, content_type, data in fields:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        parts.append(head.encode("ascii") + b"\r\n" + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode("ascii")


def _prompt_ids(items: object) -> set[str]:
    """The prompt ids in a /queue list: each item is [number, prompt_id, prompt, extra, outputs]."""
    if not isinstance(items, list):
        raise ProviderError("comfyui answered /queue without its queue lists")
    return {item[1] for item in items if isinstance(item, list) and len(item) > 1
            and isinstance(item[1], str)}


def _execution_failure(entry: dict) -> str:
    """ComfyUI's reason when the history says the prompt failed or was interrupted, else ''."""
    status = entry.get("status") if isinstance(entry.get("status"), dict) else {}
    messages = status.get("messages") if isinstance(status.get("messages"), list) else []
    for message in messages:
        if not (isinstance(message, list) and len(message) == 2 and isinstance(message[1], dict)):
            continue
        kind, detail = message
        if kind == "execution_error":
            return (f"comfyui failed in node {_shown(detail.get('node_id'))} "
                    f"({_shown(detail.get('node_type'))}): {_shown(detail.get('exception_message'))}")
        if kind == "execution_interrupted":
            return "comfyui interrupted the prompt"
    if status.get("status_str") == "error":
        return "comfyui reported the prompt as failed"
    return ""


def _video_output(outputs: object) -> dict:
    """The first MP4 or WebM file of type output among the nodes' outputs."""
    if isinstance(outputs, dict):
        for node_output in outputs.values():
            for key in OUTPUT_LISTS:
                files = node_output.get(key) if isinstance(node_output, dict) else None
                for file in files if isinstance(files, list) else ():
                    if (isinstance(file, dict) and isinstance(file.get("filename"), str)
                            and file["filename"].lower().endswith(VIDEO_SUFFIXES)
                            and file.get("type", "output") == "output"
                            and isinstance(file.get("subfolder", ""), str)):
                        return file
    raise ProviderError("comfyui's outputs hold no MP4 or WebM file: does the workflow save a video?")


def _shown(value: object) -> str:
    """A value from ComfyUI for a message: text on one line, cut short."""
    text = value if isinstance(value, str) else repr(value)
    text = single_line(text).strip()
    return text if len(text) <= 200 else text[:197] + "..."
