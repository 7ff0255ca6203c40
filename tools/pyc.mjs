// Compile app modules to CPython bytecode with the vendored Pyodide, in Node (build step).
//
// tools/bundle.py runs it for the app/**/*.py whose bytecode the app archive lacks: the page's
// CPython (Pyodide's) then imports them without compiling at every boot. Only Pyodide's own
// interpreter can write its .pyc files (the magic number and marshal format are its version's).
// The .pyc are hash-checked (PEP 552): Python re-checks each against its source at import and
// recompiles on a mismatch, so a wrong .pyc can cost time but never change behaviour.
//
//   stdin:  {"indexURL": "static/vendor/pyodide/", "cwd": "/home/pyodide",
//            "modules": {"app/core/model.py": "<base64 source bytes>", ...}}
//   stdout: {"cache_tag": "cpython-314", "pycs": {"app/core/model.py": "<base64 .pyc>", ...}}
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
cwd = request["cwd"]
pycs = {}
for relative, source in sorted(request["modules"].items()):
    target = os.path.join(cwd, relative)  # where the page unpacks it: co_filename matches
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as stream:
        stream.write(base64.b64decode(source))
    compiled = py_compile.compile(target, cfile=target + "c", dfile=target, doraise=True,
                                  invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    with open(compiled, "rb") as stream:
        pycs[relative] = base64.b64encode(stream.read()).decode()
json.dumps({"cache_tag": sys.implementation.cache_tag, "pycs": pycs})
`);
process.stdout.write(reply);
