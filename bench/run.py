"""Run SceneVault's benchmarks: `make bench` runs all, `make bench ONLY=boot` runs one.

Each benchmark writes its figures into bench/results.json (merged with earlier figures), then
the whole table is printed.

    python bench/run.py --only boot
"""

import argparse
import importlib.util
import sys
from contextlib import nullcontext
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from harness import RESULTS, BenchSession, format_table, merge_results  # noqa: E402


def load(name: str):
    """bench/<name>.py, loaded from its file as `bench_<name>`: a plain `import proxy` finds
    the proxy/ package (the server) before bench/proxy.py."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCHMARKS = {name: load(name).run
              for name in ("boot", "export", "gallery", "parsers", "proxy", "render", "vault")}
NO_BROWSER = {"parsers", "proxy"}  # these need no Chromium; `--only proxy` starts none


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(BENCHMARKS), help="run just this benchmark")
    args = parser.parse_args(argv)
    names = [args.only] if args.only else sorted(BENCHMARKS)
    results = {}
    browserless = set(names) <= NO_BROWSER
    with nullcontext() if browserless else BenchSession.start() as session:
        for name in names:
            print(f"running {name} ...", flush=True)
            results = merge_results(name, BENCHMARKS[name](session))
    print(format_table(results))
    print(f"\nwritten to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
