"""Helpers shared by the backup browser tests (CPython side): a whole-database digest, handing
a file to the page through a real <input type=file>, recording a WebM clip in the page, and
running Python in the page with the backup service imported.

    upload(page, archive_bytes)                  # the page's Python reads it with uploaded()
    before = db_digest(page)["digest"]
    result = py(page, "report = await backups.import_archive(vault, uploaded()); ...")
"""

from __future__ import annotations

import itertools
import json
import tempfile
import textwrap
from pathlib import Path

from conftest import run_python

DIGEST_JS = (Path(__file__).parent / "dbdigest.js").read_text()
UPLOAD_ID = "test-backup-upload"
_UPLOADS = tempfile.TemporaryDirectory(prefix="scenevault-uploads-")  # removed at exit
_COUNTER = itertools.count()

PRELUDE = f"""
import json, js, pagekit
from app.backup import service as backups
from app.store import media
from app.ui.parts import download
from app.backup.service import CancelToken, Limits
from app.core.errors import BackupError
from app.startup import current_vault
vault = current_vault()

def uploaded():
    return js.document.getElementById({UPLOAD_ID!r}).files.item(0)

async def refusal(awaitable):
    try:
        await awaitable
    except BackupError as exc:
        return {{"code": exc.code, "message": str(exc)}}
    return {{"code": None, "message": ""}}
"""

# Records a short VP8 WebM of a changing colour with MediaRecorder; resolves to the Blob.
CLIP_JS = """async ([ms, hue]) => {
  const canvas = Object.assign(document.createElement("canvas"), { width: 64, height: 48 });
  const context = canvas.getContext("2d");
  let frame = 0;
  const paint = () => { context.fillStyle = `hsl(${hue + frame++ * 15}, 80%, 50%)`;
                        context.fillRect(0, 0, 64, 48); };
  paint();
  const recorder = new MediaRecorder(canvas.captureStream(25), { mimeType: "video/webm;codecs=vp8" });
  const chunks = [];
  recorder.ondataavailable = (event) => chunks.push(event.data);
  const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
  recorder.start();
  const timer = setInterval(paint, 40);
  await new Promise((resolve) => setTimeout(resolve, ms));
  recorder.stop();
  await stopped;
  clearInterval(timer);
  window.testClips = [...(window.testClips || []), new Blob(chunks, { type: "video/webm" })];
  return window.testClips.length - 1;
}"""


def py(page, code: str):
    """Run `code` in the page after PRELUDE; its last expression is JSON text, returned parsed."""
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


def db_digest(page, db_name: str = "scenevault") -> dict:
    """{digest, counts, lines} of the whole database (tests/browser/dbdigest.js)."""
    return page.evaluate(DIGEST_JS, db_name)


def upload(page, data: bytes, name: str = "backup.scenevault.zip") -> None:
    """Put `data` in a hidden file input, as the file picker would; `uploaded()` returns it.
    The bytes go through a file on disk (a path is much faster than a buffer over the wire)."""
    page.evaluate("""id => {
        if (!document.getElementById(id)) {
            const input = Object.assign(document.createElement("input"), { type: "file", id, hidden: true });
            document.body.append(input);
        }
    }""", UPLOAD_ID)
    path = Path(_UPLOADS.name) / f"{next(_COUNTER)}-{name}"
    path.write_bytes(data)
    page.set_input_files(f"#{UPLOAD_ID}", str(path))


def record_clip(page, ms: int = 500, hue: int = 0) -> int:
    """Record a WebM in the page; its Blob is `js.window.testClips[index]`."""
    return page.evaluate(CLIP_JS, [ms, hue])
