"""Compiled code for the app's dataclasses, made at build time (browser; the entry script
installs it before the app is imported).

Each `@dataclass` writes the source of its `__init__`, `__repr__`, `__eq__`, ... and compiles
it as the class is created: in Pyodide that was about half the time of defining a dataclass,
and the app defines dozens before its first view. `tools/pyc.mjs` imports every app module in
the vendored Pyodide at build time, records each generated source and stores its compiled code
(marshal) in the app archive as `dataclass_code.marshal`, beside the modules' bytecode.
`install()` hands dataclasses a compile step that looks a source up there first: the same
source, the same interpreter (the archive's cache tag must be this one's), so the same code
object as compiling it here. A source not in the table (a module edited since the build) is
compiled as before, so the table can only ever save time.

    from app.core import codecache
    codecache.install("/home/pyodide/lib/app.zip")   # -> number of compiled sources known
"""

from __future__ import annotations

import builtins
import dataclasses
import marshal
import sys
import zipimport

TABLE = "dataclass_code.marshal"  # tools/bundle.py's DATACLASS_CODE


def load(archive: str) -> dict[str, bytes]:
    """{generated source: marshalled code} from the archive (a marshalled
    {"tag": cache tag, "code": {...}}), or {} when it has none for this interpreter."""
    try:
        table = marshal.loads(zipimport.zipimporter(archive).get_data(TABLE))
    except (OSError, ValueError, EOFError, TypeError, zipimport.ZipImportError):
        return {}
    if not isinstance(table, dict) or table.get("tag") != sys.implementation.cache_tag:
        return {}
    code = table.get("code")
    return code if isinstance(code, dict) else {}


def install(archive: str) -> int:
    """Give dataclasses the archive's compiled code; returns how many sources it knows."""
    table = load(archive)
    if not table:
        return 0

    def exec_generated(source, globals_=None, locals_=None, /):
        code = table.get(source) if isinstance(source, str) else None
        return builtins.exec(marshal.loads(code) if code is not None else source, globals_, locals_)

    dataclasses.exec = exec_generated  # dataclasses' only exec(): shadows the built-in there
    return len(table)
