"""Run SceneVault's benchmarks: `make bench` runs all, `make bench ONLY=boot` runs one.

Each benchmark writes its figures into bench/results.json (merged with earlier figures), then
the whole table is printed.

    python bench/run.py --only boot
"""

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import boot  # noqa: E402
import export  # noqa: E402
import gallery  # noqa: E402
import proxy  # noqa: E402
import render  # noqa: E402
import vault  # noqa: E402
from harness import RESULTS, BenchSession, format_table, merge_results  # noqa: E402

BENCHMARKS = {"boot": boot.run, "export": export.run, "gallery": gallery.run,
              "proxy": proxy.run, "render": render.run, "vault": vault.run}
NO_BROWSER = {"proxy"}  # these need no Chromium; `--only proxy` starts none


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
