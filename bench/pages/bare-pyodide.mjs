// Baseline for bench/boot.py: the same vendored Pyodide, loaded with nothing else around it.
import { loadPyodide } from "/static/vendor/pyodide/pyodide.mjs";

const pyodide = await loadPyodide({ indexURL: "/static/vendor/pyodide/" });
pyodide.runPython("import sys");
window.bareReadyAt = performance.now();
document.getElementById("state").textContent = "ready";
