"""Hostile inputs for every parser of untrusted text (issue 13, item 4), about 64 KB each unless
a count is the point: manifests, A1111 `parameters` lines, PNG text chunks, other generators'
PNG metadata (ComfyUI graphs, InvokeAI, NovelAI), EXIF and XMP in JPEG and WebP (looping IFDs,
entity expansion, external entities, element and chunk floods), zip directories (zip64 included), project titles
for the archive layout, and sniffed first bytes. Each `Case` names its input,
the real parser it goes through and what that parser must answer: "parsed", or the project
error it refuses with ("PngError", "BackupError:json_too_deep", ...). Anything else escaping
the parser is a bug. tests/unit/test_hostile_corpus.py and bench/parsers.py run them.

    for case in CASES:
        answer, seconds = run_case(case)      # ("BackupError:invalid_manifest", 0.004)
"""

from __future__ import annotations

import struct
import time
import zlib
from dataclasses import dataclass
from typing import Any, Callable

from app.backup import manifest as backup
from app.backup import policy as backup_policy
from app.core import pngmeta
from app.core import sniff
from app.backup.zip import format as zipformat
from app.backup.policy import Limits
from app.core.errors import BackupError, SceneVaultError
from app.core.metadata.exif import read_jpeg_or_webp
from app.core.metadata.png_sources import read_png
from exif_fixtures import exif_segment, extended_webp, riff_chunk, tiny_jpeg, webp, xmp_segment
from app.core.model import Asset, Project

SIZE = 64_000
LINE_SIZES = {"1_5kb": 1_500, "2kb": 2_000, "64kb": SIZE}


@dataclass(frozen=True)
class Case:
    """One hostile input: `build` makes it (not timed), `parse` runs the real parser on it."""

    name: str
    parser: str
    expected: str
    build: Callable[[], Any]
    parse: Callable[[Any], Any]


def answer_of(case: Case, data: Any) -> str:
    """"parsed", or the project error the parser refused with (a BackupError with its code).
    Any other exception propagates: a parser must never fail that way."""
    try:
        case.parse(data)
    except BackupError as exc:
        return f"BackupError:{exc.code}"
    except SceneVaultError as exc:
        return type(exc).__name__
    return "parsed"


def run_case(case: Case) -> tuple[str, float]:
    """The parser's answer on the case's input, and how long the parser took (seconds)."""
    data = case.build()
    start = time.perf_counter()
    answer = answer_of(case, data)
    return answer, time.perf_counter() - start


# --- manifests (app/backup/manifest.py: parse_manifest, check_depth first) --------------------------------
def manifest_with_bracket_prompts() -> bytes:
    """A valid manifest (about 80 KB) whose prompts are brackets and escaped quotes."""
    project = Project(id="prj_1", title="Moon Heist", created_at=1000, updated_at=2000)
    prompt = '[{"\\' * 100
    assets = [Asset(id=f"ast_{n}", project_id="prj_1", kind="scene", slot=f"scene:{n}",
                    version=1, current=True, sha256=f"{n:064x}", mime_type="image/png",
                    size=1, source="generated", created_at=3000,
                    recipe={"prompt": prompt, "seed": n}) for n in range(1, 80)]
    layout = backup.plan_layout([project], assets, {a.sha256 for a in assets})
    return backup.encode_manifest(backup.build_manifest([project], assets, layout.paths, 5000))


def mixed_quote_backslash_runs() -> bytes:
    """A string opened and never closed: runs of 1, 3, 5 or 7 backslashes, each before a quote
    it escapes, and before a bracket now and then."""
    runs = "".join("\\" * (2 * (n % 4) + 1) + '"['[n % 2] for n in range(SIZE // 4))
    return ('["' + runs[:SIZE]).encode()


MANIFEST_CASES = [
    Case("manifest_escaped_quotes_never_closed", "manifest", "BackupError:invalid_manifest",
         lambda: ('{"prompt": "' + '\\"' * (SIZE // 2)).encode(), backup.parse_manifest),
    Case("manifest_30000_open_brackets", "manifest", "BackupError:invalid_manifest",
         lambda: b"[" * 30_000, backup.parse_manifest),
    Case("manifest_30000_nested_pairs", "manifest", "BackupError:json_too_deep",
         lambda: b"[" * 30_000 + b"]" * 30_000, backup.parse_manifest),
    Case("manifest_quote_backslash_pairs", "manifest", "BackupError:invalid_manifest",
         lambda: b'"\\' * (SIZE // 2), backup.parse_manifest),
    Case("manifest_mixed_quote_backslash_runs", "manifest", "BackupError:invalid_manifest",
         mixed_quote_backslash_runs, backup.parse_manifest),
    Case("manifest_valid_with_bracket_prompts", "manifest", "parsed",
         manifest_with_bracket_prompts, backup.parse_manifest),
]


# --- A1111 parameters lines (app/core/pngmeta.py: parse_parameters) ----------------------------------
def parameters_line(body: str) -> str:
    return "a castle on a cliff\nNegative prompt: blurry\n" + body


def line_cases(size_name: str, size: int) -> list[Case]:
    """The hostile shapes of a settings line, each about `size` characters long."""
    pairs = size // 10
    return [
        Case(f"parameters_space_run_{size_name}", "parameters", "parsed",
             lambda: parameters_line("Steps" + " " * size + "x"), pngmeta.parse_parameters),
        Case(f"parameters_space_run_then_colon_{size_name}", "parameters", "parsed",
             lambda: parameters_line("Steps" + " " * size + ": 1"), pngmeta.parse_parameters),
        Case(f"parameters_many_colons_{size_name}", "parameters", "parsed",
             lambda: parameters_line("Steps: 1, Seed: 2, Size" + " :" * (size // 2)),
             pngmeta.parse_parameters),
        Case(f"parameters_unclosed_quotes_{size_name}", "parameters", "parsed",
             lambda: parameters_line('Steps: 1, Seed: 2, Model: "' + '\\" ,' * (size // 4)),
             pngmeta.parse_parameters),
        Case(f"parameters_many_commas_{size_name}", "parameters", "parsed",
             lambda: parameters_line("Steps: 1" + "," * size), pngmeta.parse_parameters),
        Case(f"parameters_many_pairs_{size_name}", "parameters",
             "parsed" if pairs <= pngmeta.MAX_SETTINGS else "PngError",
             lambda: parameters_line("Steps: 1, " * pairs), pngmeta.parse_parameters),
    ]


PARAMETERS_CASES = [case for size_name, size in LINE_SIZES.items()
                    for case in line_cases(size_name, size)] + [
    Case("parameters_over_the_size_cap", "parameters", "PngError",
         lambda: parameters_line(" " * (pngmeta.MAX_PARAMETERS_CHARS + 1)),
         pngmeta.parse_parameters),
]


# --- PNG chunks and text (app/core/pngmeta.py, app/core/sniff.py) ------------------------------------------
def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with(*chunks: bytes) -> bytes:
    """tiny_png() with `chunks` right after IHDR."""
    png = pngmeta.tiny_png()
    return png[:33] + b"".join(chunks) + png[33:]


def ztxt_chunks_just_under_the_cap(count: int) -> list[bytes]:
    """`count` zTXt chunks, each inflating to just under MAX_INFLATED_TEXT (~1 KB each)."""
    inflating = zlib.compress(bytes(pngmeta.MAX_INFLATED_TEXT - 64), 9)
    return [chunk(b"zTXt", b"c%d\0\0" % n + inflating) for n in range(count)]


def nested_recipe_png() -> bytes:
    recipe = b"[" * 30_000 + b"]" * 30_000
    return png_with(chunk(b"iTXt", pngmeta.RECIPE_KEY.encode() + b"\0\0\0\0\0" + recipe))


def parameters_png() -> bytes:
    text = parameters_line("Steps: 20, Seed: 5, Size: 64x64, Model" + " " * SIZE + "x")
    return png_with(chunk(b"tEXt", b"parameters\0" + text.encode("latin-1")))


PNG_CASES = [
    Case("png_5000_tiny_text_chunks", "png_text", "PngError",
         lambda: png_with(*(chunk(b"tEXt", b"k%d\0v" % n) for n in range(5000))),
         pngmeta.read_text),
    Case("png_5000_empty_private_chunks", "png_text", "parsed",
         lambda: png_with(*[chunk(b"prVt", b"")] * 5000), pngmeta.read_text),
    Case("png_chunks_past_the_count_cap", "png_text", "PngError",
         lambda: png_with(*[chunk(b"prVt", b"")] * pngmeta.MAX_CHUNKS), pngmeta.read_text),
    Case("png_ztxt_bomb", "png_text", "PngError",
         lambda: png_with(chunk(b"zTXt", b"Comment\0\0" + zlib.compress(bytes(16 << 20), 9))),
         pngmeta.read_text),
    Case("png_64_ztxt_chunks_each_under_the_cap", "png_text", "PngError",
         lambda: png_with(*ztxt_chunks_just_under_the_cap(64)), pngmeta.read_text),
    Case("png_itxt_recipe_nested_30000_deep", "png_recipe", "PngError",
         nested_recipe_png, pngmeta.read_recipe),
    Case("png_import_with_a_hostile_parameters_chunk", "png_import", "parsed",
         parameters_png, sniff.recipe_from_png),
]


# --- other generators' PNG metadata (app/core/metadata/png_sources.py: read_png) ------------------
def comfyui_png(graph: str, keyword: bytes = b"prompt") -> bytes:
    return png_with(chunk(b"tEXt", keyword + b"\0" + graph.encode("latin-1")))


def comfyui_cycle() -> str:
    """A sampler whose every link runs into a ring of combiners linking back to each other."""
    ring = ",".join(f'"{n}": {{"class_type": "ConditioningCombine", "inputs": {{'
                    f'"conditioning_1": ["{(n + 1) % 600}", 0], "model": ["{(n + 3) % 600}", 0]}}}}'
                    for n in range(600))
    return ('{"s": {"class_type": "KSampler", "inputs": {"positive": ["0", 0], '
            '"model": ["1", 0], "seed": ["s", 0]}}, ' + ring + "}")


METADATA_CASES = [
    Case("comfyui_graph_with_a_cycle", "png_sources", "parsed",
         lambda: comfyui_png(comfyui_cycle()), read_png),
    Case("comfyui_graph_of_12000_nodes", "png_sources", "MetadataError",
         lambda: comfyui_png("{" + ",".join(f'"{n}":0' for n in range(12_000)) + "}"), read_png),
    Case("comfyui_workflow_30000_nested_pairs", "png_sources", "MetadataError",
         lambda: comfyui_png("{" + "[" * 30_000 + "]" * 30_000 + "}", b"workflow"), read_png),
    Case("invokeai_metadata_escaped_quotes_never_closed", "png_sources", "MetadataError",
         lambda: comfyui_png('{"positive_prompt": "' + '\\"' * (SIZE // 2),
                             b"invokeai_metadata"), read_png),
]


# --- EXIF and XMP in JPEG and WebP (app/core/metadata/exif.py, containers.py, xmp.py) ----------
def tiff_ifd(order: str, count: int, next_offset: int) -> bytes:
    return struct.pack(order + "H", count) + struct.pack(order + "I", next_offset)


def padded(block: bytes) -> bytes:
    return block + b"\0" * (SIZE - len(block))


def billion_laughs() -> bytes:
    entities = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    return (f'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">{entities}]>'
            f"<lolz>{'&lol9;' * 6000}</lolz>").encode()


def jpeg(data: bytes) -> Any:
    return read_jpeg_or_webp(data, "image/jpeg")


def webp_of(data: bytes) -> Any:
    return read_jpeg_or_webp(data, "image/webp")


EXIF_XMP_CASES = [
    Case("exif_ifd_linking_to_itself", "exif", "MetadataError",
         lambda: tiny_jpeg(exif_segment(padded(b"MM\0*\0\0\0\x08" + tiff_ifd(">", 0, 8)))), jpeg),
    Case("exif_two_ifds_linking_to_each_other", "exif", "MetadataError",
         lambda: extended_webp(exif=padded(b"II*\0\x08\0\0\0" + tiff_ifd("<", 0, 14)
                                            + tiff_ifd("<", 0, 8))), webp_of),
    Case("exif_chain_of_4000_ifds", "exif", "MetadataError",
         lambda: extended_webp(exif=padded(b"MM\0*\0\0\0\x08" + b"".join(
             tiff_ifd(">", 0, 8 + 6 * (i + 1)) for i in range(4000)))), webp_of),
    Case("xmp_billion_laughs", "xmp", "MetadataError",
         lambda: tiny_jpeg(xmp_segment(billion_laughs())), jpeg),
    Case("xmp_external_entity", "xmp", "MetadataError",
         lambda: extended_webp(xmp=b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM '
                                   b'"file:///etc/passwd">]><x>&xxe;</x>' + b" " * SIZE), webp_of),
    Case("xmp_100000_nested_elements", "xmp", "MetadataError",
         lambda: extended_webp(xmp=b"<a>" * 100_000 + b"</a>" * 100_000), webp_of),
    Case("webp_100000_tiny_chunks", "containers", "MetadataError",
         lambda: webp(riff_chunk(b"JUNK", b"") * 100_000), webp_of),
    Case("jpeg_64kb_of_empty_app_segments", "containers", "MetadataError",
         lambda: tiny_jpeg(*[b"\xff\xe5\x00\x02"] * (SIZE // 4)), jpeg),
    Case("comfyui_graph_of_100000_nodes", "png_sources", "MetadataError",
         lambda: comfyui_png("{" + ",".join(f'"{n}":0' for n in range(100_000)) + "}"), read_png),
]


# --- zip directories (app/backup/zip/format.py, app/backup/policy.py, in app/backup/zip/read.py's order) --------
def read_directory(archive: bytes, limits: Limits = Limits()) -> dict:
    """What ZipReader.open does with an archive's directory, without the browser."""
    end = zipformat.find_end_record(archive[-zipformat.TAIL_BYTES:], len(archive))
    backup_policy.check_entry_count(end.count, limits)
    entries = zipformat.parse_central_directory(
        archive[end.cd_offset:end.cd_offset + end.cd_size], end)
    return backup_policy.check_entries(entries, limits)


def many_entries(count: int = 1_000, name: str | None = None) -> bytes:
    """An archive of `count` empty stored files (about 64 KB of directory for 1,000)."""
    plan = zipformat.ZipPlan(1_738_326_896_000)
    headers = [plan.add(name or f"projects/a/f{n:05}.png", 0, 0, 0) for n in range(count)]
    return b"".join(headers) + plan.finish()


def with_count(archive: bytes, count: int) -> bytes:
    """`archive` whose end record claims `count` entries."""
    end = len(archive) - zipformat.END.size
    return archive[:end + 8] + struct.pack("<HH", count, count) + archive[end + 12:]


def overlapping_entries() -> bytes:
    entries = [zipformat.ZipEntry(f"f{n:05}.png", 0, 0x800, 0, 10, 10, 0) for n in range(1_000)]
    return zipformat.LOCAL_SIG + bytes(100) + zipformat.directory(entries, 104)


def end_signatures_only() -> bytes:
    return zipformat.LOCAL_SIG + zipformat.END_SIG * (SIZE // 4)


def zip64_of(count: int = 1_000) -> bytearray:
    """many_entries(count) with a zip64 end record and locator before its end record (as an
    archive of 65,535 entries or more has), the end record's fields saturated."""
    archive = many_entries(count)
    end = len(archive) - zipformat.END.size
    cd_size, cd_offset = struct.unpack_from("<II", archive, end + 12)
    record = zipformat.ZIP64_END.pack(zipformat.ZIP64_END_SIG, zipformat.ZIP64_RECORD_SIZE, 45,
                                      45, 0, 0, count, count, cd_size, cd_offset)
    locator = zipformat.ZIP64_LOCATOR.pack(zipformat.ZIP64_LOCATOR_SIG, 0, cd_offset + cd_size, 1)
    tail = zipformat.END.pack(zipformat.END_SIG, 0, 0, 0xFFFF, 0xFFFF, zipformat.MAX_OFFSET,
                              zipformat.MAX_OFFSET, 0)
    return bytearray(archive[:end] + record + locator + tail)


def zip64_patched(at: int, fmt: str, *values: int) -> bytes:
    """zip64_of() with `values` packed at `at` (from the end of the archive)."""
    archive = zip64_of()
    struct.pack_into(fmt, archive, len(archive) + at, *values)
    return bytes(archive)


Z64_LOCATOR, Z64_RECORD = -22 - 20, -22 - 20 - 56


def zip64_extra_truncated() -> bytes:
    """1,000 central records whose sizes say zip64 and whose extra fields stop half-way."""
    records = b"".join(zipformat.CENTRAL.pack(
        zipformat.CENTRAL_SIG, 0, 45, 0, 0, 0, 0, 0, zipformat.MAX_OFFSET, zipformat.MAX_OFFSET,
        6, 3, 0, 0, 0, 0, 0) + b"f%05d" % n + b"\x01\x00\x10" for n in range(1_000))
    return zipformat.LOCAL_SIG + bytes(40) + records + zipformat.END.pack(
        zipformat.END_SIG, 0, 0, 1_000, 1_000, len(records), 44, 0)


def zip64_size_past_the_file() -> bytes:
    """The first of 1,000 entries claims a 64-bit size of 2^40 bytes in its zip64 extra."""
    extra = struct.pack("<HHQQ", 1, 16, 1 << 40, 1 << 40)
    first = zipformat.CENTRAL.pack(zipformat.CENTRAL_SIG, 0, 45, 0, 0, 0, 0, 0,
                                   zipformat.MAX_OFFSET, zipformat.MAX_OFFSET, 6, len(extra), 0,
                                   0, 0, 0, 0) + b"f00000" + extra
    archive = many_entries()
    end = zipformat.find_end_record(archive[-zipformat.TAIL_BYTES:], len(archive))
    directory = archive[end.cd_offset:end.cd_offset + end.cd_size]
    rest = directory[directory.index(zipformat.CENTRAL_SIG, 4):]
    records = first + rest
    return archive[:end.cd_offset] + records + zipformat.END.pack(
        zipformat.END_SIG, 0, 0, 1_000, 1_000, len(records), end.cd_offset, 0)


ZIP_CASES = [
    Case("zip_1000_entries", "zip_directory", "parsed", many_entries, read_directory),
    Case("zip_count_claims_65000", "zip_directory", "BackupError:corrupt_zip",
         lambda: with_count(many_entries(), 65_000), read_directory),
    Case("zip_count_claims_5000_of_1000", "zip_directory", "BackupError:corrupt_zip",
         lambda: with_count(many_entries(), 5_000), read_directory),
    Case("zip_count_claims_1_of_1000", "zip_directory", "BackupError:corrupt_zip",
         lambda: with_count(many_entries(), 1), read_directory),
    Case("zip_1000_entries_past_a_cap_of_900", "zip_directory", "BackupError:too_many_entries",
         many_entries, lambda archive: read_directory(archive, Limits(max_entries=900))),
    Case("zip_1000_entries_sharing_one_offset", "zip_directory", "BackupError:corrupt_zip",
         overlapping_entries, read_directory),
    Case("zip_1000_entries_with_one_name", "zip_directory", "BackupError:duplicate_entry",
         lambda: many_entries(name="a.png"), read_directory),
    Case("zip_tail_of_end_signatures", "zip_directory", "BackupError:corrupt_zip",
         end_signatures_only, read_directory),
    Case("zip64_1000_entries", "zip_directory", "parsed", lambda: bytes(zip64_of()),
         read_directory),
    Case("zip64_locator_pointing_outside", "zip_directory", "BackupError:corrupt_zip",
         lambda: zip64_patched(Z64_LOCATOR + 8, "<Q", 1 << 62), read_directory),
    Case("zip64_record_count_disagreeing", "zip_directory", "BackupError:corrupt_zip",
         lambda: zip64_patched(-22 + 8, "<HH", 999, 999), read_directory),
    Case("zip64_record_claims_2_63_entries", "zip_directory", "BackupError:corrupt_zip",
         lambda: zip64_patched(Z64_RECORD + 24, "<QQ", 1 << 63, 1 << 63), read_directory),
    Case("zip64_directory_size_past_the_file", "zip_directory", "BackupError:corrupt_zip",
         lambda: zip64_patched(Z64_RECORD + 40, "<Q", 1 << 50), read_directory),
    Case("zip64_entry_size_past_the_file", "zip_directory", "BackupError:corrupt_zip",
         zip64_size_past_the_file, read_directory),
    Case("zip64_1000_extra_fields_truncated", "zip_directory", "BackupError:corrupt_zip",
         zip64_extra_truncated, read_directory),
]


# --- the archive layout (app/backup/manifest.py: unique_slugs, plan_layout) --------------------------------
def projects(count: int, title: str = "Moon Heist") -> list[Project]:
    return [Project(id=f"prj_{n}", title=title, created_at=1, updated_at=1) for n in range(count)]


def asset(n: int, project_id: str, slot: str, kind: str = "scene") -> Asset:
    return Asset(id=f"ast_{n}", project_id=project_id, kind=kind, slot=slot, version=1,
                 current=True, sha256=f"{n:064x}", mime_type="image/png", size=1,
                 source="generated", created_at=1)


def layout_of_identical_projects() -> tuple:
    listed = projects(10_000)
    assets = [asset(n, project.id, "scene:1") for n, project in enumerate(listed)]
    return listed, assets, {a.sha256 for a in assets}


def layout_of_one_name() -> tuple:
    characters = [{"id": f"c{n}", "name": "Hero", "description": ""} for n in range(10_000)]
    project = Project(id="prj_1", title="Moon Heist", created_at=1, updated_at=1,
                      characters=characters)
    assets = [asset(n, "prj_1", f"character:c{n}", "character") for n in range(10_000)]
    return [project], assets, {a.sha256 for a in assets}


LAYOUT_CASES = [
    Case("slugs_10000_identical_titles", "layout", "parsed",
         lambda: projects(10_000), backup.unique_slugs),
    Case("slugs_5000_numbered_then_5000_identical", "layout", "parsed",
         lambda: [p for n in range(2, 5002) for p in projects(1, f"Moon Heist {n}")]
         + projects(5_000), backup.unique_slugs),
    Case("layout_10000_projects_with_one_title", "layout", "parsed",
         layout_of_identical_projects, lambda args: backup.plan_layout(*args)),
    Case("layout_10000_characters_with_one_name", "layout", "parsed",
         layout_of_one_name, lambda args: backup.plan_layout(*args)),
]


# --- sniffed first bytes (app/core/sniff.py, app/backup/policy.py: check_magic) -----------------------
SNIFF_CASES = [
    Case("sniff_whitespace_then_svg", "sniff", "InvalidAsset",
         lambda: b" \t\r\n" * (SIZE // 4) + b"<svg>", sniff.sniff),
    Case("sniff_byte_order_marks_then_html", "sniff", "InvalidAsset",
         lambda: b"\xef\xbb\xbf" * (SIZE // 3) + b"<html>", sniff.sniff),
    Case("sniff_png_signature_then_64kb", "sniff", "parsed",
         lambda: pngmeta.PNG_SIGNATURE + bytes(SIZE), sniff.sniff),
    Case("check_magic_markup_labelled_png", "sniff", "BackupError:magic_mismatch",
         lambda: b"<script>" + b"x" * SIZE,
         lambda head: backup_policy.check_magic("a.png", "image/png", head)),
]

CASES = (MANIFEST_CASES + PARAMETERS_CASES + PNG_CASES + METADATA_CASES + EXIF_XMP_CASES + ZIP_CASES + LAYOUT_CASES
         + SNIFF_CASES)

