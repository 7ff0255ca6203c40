// Compile app modules to CPython bytecode with the vendored Pyodide, in Node (build step).
//
// tools/bundle.py runs it for the app/**/*.py whose bytecode the app archive lacks: the page's
// CPython (Pyodide's) then imports them from the archive (zipimport) without compiling them at
// every boot. Only Pyodide's own
// interpreter can write its .pyc files (the magic number and marshal format are its version's).
// The .pyc are hash-checked (PEP 552): Python re-checks each against its source at import and
// recompiles on a mismatch, so a wrong .pyc can cost time but never change behaviour.
//
// Then it imports every app module (with a stand-in `pyscript` package; a module that cannot be
// imported outside the page is skipped) and records the source of each dataclass's generated
// methods, compiled: app/core/codecache.py looks them up at boot instead of compiling them.
//
//   stdin:  {"indexURL": "static/vendor/pyodide/", "prefix": "/home/pyodide/lib/app.zip",
//            "modules": {"app/core/model.py": "<base64 source bytes>", ...},   (every module)
//            "compile": ["app/core/model.py", ...]}                          (those to compile)
//   stdout: {"cache_tag": "cpython-314", "pycs": {"app/core/model.py": "<base64 .pyc>", ...},
//            "dataclass_code": "<base64 marshal of {generated source: marshalled code}>"}
//
//   $ node tools/pyc.mjs < request.json > reply.json
import { readFileSync } from "node:fs";
import path from "node:path";

const request = JSON.parse(readFileSync(0, "utf8"));
const indexURL = path.resolve(request.indexURL) + path.sep;
const { loadPyodide } = await import(path.join(indexURL, "pyodide.mjs"));
const pyodide = await loadPyodide({ indexURL, stdout: () => {}, stderr: (line) => console.error(line) });
pyodide.globals.set("request_json", JSON.stringify(request));
const reply = pyodide.runPython(`
import base64, json, os, py_compile, sys
request = json.loads(request_json)
prefix = request["prefix"]
pycs = {}
for relative, source in sorted(request["modules"].items()):
    target = os.path.join(prefix, relative)  # the page's zipimport names it so: co_filename matches
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as stream:
        stream.write(base64.b64decode(source))
for relative in sorted(request["compile"]):
    target = os.path.join(prefix, relative)
    compiled = py_compile.compile(target, cfile=target + "c", dfile=target, doraise=True,
                                  invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    with open(compiled, "rb") as stream:
        pycs[relative] = base64.b64encode(stream.read()).decode()

import builtins, dataclasses, importlib, marshal, types

class StandIn(types.ModuleType):
    """pyscript and its submodules: any attribute, any call (only imported, never used)."""
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return StandIn(name)
    def __call__(self, *args, **kwargs):
        return StandIn("result")

for name in ("pyscript", "pyscript.js_modules", "pyscript.ffi", "pyscript.web"):
    sys.modules.setdefault(name, StandIn(name))
sys.path.insert(0, prefix)
generated = {}

def recording_exec(source, globals_=None, locals_=None, /):
    if isinstance(source, str):
        generated[source] = marshal.dumps(compile(source, "<string>", "exec"))
    return builtins.exec(source, globals_, locals_)

dataclasses.exec = recording_exec
for relative in sorted(request["modules"]):
    name = relative.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    try:
        importlib.import_module(name)
    except BaseException:  # a module that needs the page: its dataclasses compile at boot
        pass
table = marshal.dumps({"tag": sys.implementation.cache_tag, "code": generated})
json.dumps({"cache_tag": sys.implementation.cache_tag, "pycs": pycs,
            "dataclass_code": base64.b64encode(table).decode()})
`);
process.stdout.write(reply);
