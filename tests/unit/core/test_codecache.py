"""app/core/codecache.py: dataclasses take their generated methods' code from the archive's table
(made at build time by the same interpreter), compile what the table lacks, and ignore a table
made for another interpreter."""

import dataclasses
import marshal
import sys
import zipfile

import pytest

from app.core import codecache
from tools.bundle import DATACLASS_CODE


@pytest.fixture
def restored():
    yield
    if "exec" in vars(dataclasses):
        del dataclasses.exec  # back to the built-in


def generated_sources() -> list[str]:
    """The sources dataclasses generates for `Point` (recorded once, compiled as usual)."""
    seen = []

    def recording(source, globals_=None, locals_=None, /):
        seen.append(source)
        return exec(source, globals_, locals_)

    dataclasses.exec = recording
    try:
        @dataclasses.dataclass
        class Point:
            x: int
            y: int = 0
    finally:
        del dataclasses.exec
    return seen


def archive_with(tmp_path, table: dict, tag: str = sys.implementation.cache_tag) -> str:
    path = tmp_path / "app.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(DATACLASS_CODE, marshal.dumps({"tag": tag, "code": table}))
    return str(path)


def test_a_dataclass_takes_its_methods_from_the_table(tmp_path, restored):
    sources = generated_sources()  # one per class (3.14), or one per method (3.11)
    table = {}
    for source in sources:
        if "def __repr__" in source:  # __repr__ marked, so the test can tell which code ran
            source, marked = source, source.replace("  return ", "  return 'from the table: ' + ", 1)
            assert marked != source
        else:
            marked = source
        table[source] = marshal.dumps(compile(marked, "<string>", "exec"))
    assert codecache.install(archive_with(tmp_path, table)) == len(sources)

    @dataclasses.dataclass
    class Point:
        x: int
        y: int = 0

    assert repr(Point(1, 2)).startswith("from the table: ")
    assert Point(3) == Point(3, 0) and Point(3).y == 0


def test_a_source_not_in_the_table_is_compiled_as_before(tmp_path, restored):
    assert codecache.install(archive_with(tmp_path, {"def other(): pass": b""})) == 1

    @dataclasses.dataclass(frozen=True)
    class Size:
        width: int
        height: int

    assert repr(Size(2, 3)) .endswith("Size(width=2, height=3)")
    with pytest.raises(dataclasses.FrozenInstanceError):
        Size(2, 3).width = 4


@pytest.mark.parametrize("content", ["another tag", "no table", "not marshal"])
def test_a_table_for_another_python_or_none_is_not_installed(tmp_path, restored, content):
    if content == "another tag":
        archive = archive_with(tmp_path, {"x": b""}, tag="cpython-299")
    else:
        archive = str(tmp_path / "app.zip")
        with zipfile.ZipFile(archive, "w") as zipped:
            if content == "not marshal":
                zipped.writestr(DATACLASS_CODE, b"\xffnot marshal")
            zipped.writestr("app/__init__.py", "")
    assert codecache.install(archive) == 0
    assert "exec" not in vars(dataclasses)
    assert codecache.install(str(tmp_path / "missing.zip")) == 0
