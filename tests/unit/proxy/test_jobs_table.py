"""The clip jobs' pure parts (proxy/jobs.py, proxy/providers/clip.py, base.sniff_media): the job
table's cap and expiry (on an injected clock, so no test waits an hour), job ids, the input
frame's data URI rules, and telling a clip's container from its bytes."""

import base64
import hashlib
import re

import pytest

from app.core.errors import ProviderError, RecipeError
from app.core.pngmeta import tiny_png
from app.core.recipe import Recipe
from proxy.jobs import FAILED, KEEP_S, QUEUED, SUCCEEDED, Job, JobTable, new_job_id
from proxy.providers.base import sniff_media
from proxy.providers.clip import MAX_FRAME_BYTES, ClipProgress, ClipProvider, Frame
from proxy.providers.transport import Deadline

PNG = tiny_png(8, 8)
RECIPE = Recipe(kind="clip", prompt="pan", provider="p", model="m", seed=1, width=64, height=64,
                seconds=5, input_sha256=hashlib.sha256(PNG).hexdigest())


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def table_with(clock, max_jobs=3):
    table = JobTable(max_jobs, clock=clock)
    add = lambda: table.add(lambda job_id: Job(job_id, RECIPE, ClipProvider(), None, Deadline(60)))  # noqa: E731
    return table, add


def finish(job, status, clock):
    job.status, job.finished_at = status, clock()


def test_a_finished_job_is_kept_one_hour_then_swept():
    clock = Clock()
    table, add = table_with(clock)
    job = add()
    finish(job, SUCCEEDED, clock)
    clock.now += KEEP_S - 1
    assert table.get(job.id) is job
    clock.now += 1
    assert table.get(job.id) is None and len(table) == 0
    assert KEEP_S == 3600


def test_an_unfinished_job_is_never_swept():
    clock = Clock()
    table, add = table_with(clock)
    job = add()
    clock.now += 10 * KEEP_S
    assert table.get(job.id) is job and job.status == QUEUED


def test_the_table_holds_at_most_max_jobs_and_expiry_makes_room():
    clock = Clock()
    table, add = table_with(clock, max_jobs=2)
    first, second = add(), add()
    assert add() is None and len(table) == 2
    finish(first, FAILED, clock)
    assert add() is None  # a finished job still counts until it is deleted or expires
    clock.now += KEEP_S
    third = add()
    assert third is not None and {j.id for j in (second, third)} == {second.id, third.id}
    assert table.get(first.id) is None


def test_removing_a_job_frees_its_place():
    table, add = table_with(Clock(), max_jobs=1)
    job = add()
    assert table.remove(job.id) is job and table.remove(job.id) is None
    assert add() is not None


def test_job_ids_are_fresh_and_looked_up_strictly():
    ids = {new_job_id() for _ in range(200)}
    assert len(ids) == 200 and all(re.fullmatch(r"job_[0-9a-f]{32}", i) for i in ids)
    table, add = table_with(Clock())
    job = add()
    for spelled in (job.id.upper(), job.id + "\n", " " + job.id, job.id[4:], job.id[:-1] + "g", None, 7):
        assert table.get(spelled) is None


def test_a_job_view_has_the_documented_fields():
    table, add = table_with(Clock())
    view = add().view()
    assert set(view) == {"id", "status", "progress", "recipe", "error"}
    assert (view["status"], view["progress"], view["error"]) == ("queued", 0.0, None)
    assert view["recipe"] == RECIPE.to_dict()


# --- the frame ----------------------------------------------------------------------------------
def uri(data: bytes, mime_type: str = "image/png") -> str:
    return f"data:{mime_type};base64,{base64.b64encode(data).decode()}"


def test_a_png_frame_is_decoded_with_its_sha256_and_round_trips():
    frame = Frame.from_data_uri(uri(PNG))
    assert (frame.data, frame.mime_type, frame.extension) == (PNG, "image/png", "png")
    assert frame.sha256 == hashlib.sha256(PNG).hexdigest()
    assert frame.data_uri() == uri(PNG) and "data=" not in repr(frame)


@pytest.mark.parametrize("value", [
    uri(PNG, "image/gif"), uri(PNG, "image/PNG"), uri(PNG, "image/jpeg"), uri(b"GIF89a....", "image/png"),
    uri(PNG).replace(";base64", ""), uri(PNG) + "=", uri(PNG)[:-4] + "A===", " " + uri(PNG),
    "data:image/png;base64,", b"data:image/png;base64,", 42, None,
])
def test_anything_but_a_matching_png_jpeg_or_webp_data_uri_is_refused(value):
    with pytest.raises(RecipeError) as caught:
        Frame.from_data_uri(value)
    assert caught.value.code == "invalid_image"


def test_the_frame_cap_holds_before_and_after_decoding():
    over = PNG + b"\x00" * (MAX_FRAME_BYTES + 1 - len(PNG))
    with pytest.raises(RecipeError, match="frame cap"):
        Frame.from_data_uri(uri(over))
    exact = PNG + b"\x00" * (MAX_FRAME_BYTES - len(PNG))
    assert len(Frame.from_data_uri(uri(exact)).data) == MAX_FRAME_BYTES


# --- the clip's bytes -------------------------------------------------------------------------
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 16
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + b"\x00" * 16
MKV = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska" + b"\x00" * 16


@pytest.mark.parametrize("data, mime_type", [(MP4, "video/mp4"), (WEBM, "video/webm"),
                                             (MP4.replace(b"isom", b"mp42", 1), "video/mp4")])
def test_clips_are_mp4_or_webm_by_their_bytes(data, mime_type):
    assert sniff_media(data, "clip", "p") == mime_type


@pytest.mark.parametrize("data", [MKV, MP4.replace(b"isom", b"avif", 1), MP4.replace(b"isom", b"heic", 1),
                                  MP4.replace(b"isom", b"qt  ", 1), PNG, b"", b"\x00" * 64])
def test_anything_else_is_not_a_clip(data):
    with pytest.raises(ProviderError, match="not an MP4 or WebM"):
        sniff_media(data, "clip", "p")
    with pytest.raises(ProviderError):
        sniff_media(MP4, "image", "p")  # and a clip is not an image


def test_a_progress_state_outside_the_four_is_a_bug():
    assert ClipProgress("running", 0.5).fraction == 0.5
    with pytest.raises(ValueError):
        ClipProgress("COMPLETED")
