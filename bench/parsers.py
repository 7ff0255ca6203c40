"""Benchmark `parsers`: every parser of untrusted text on the hostile corpus
(tests/unit/hostile_corpus.py: manifests, A1111 parameters lines, PNG text chunks, other
generators' PNG metadata, EXIF and XMP in JPEG and WebP, zip
directories, archive layouts, sniffed bytes), under CPython. No browser.

Each case runs `runs` times and counts its median. Figures: `worst_ms` and `worst_case` (the
slowest case and its name; goal: far below the corpus test's 2 s), `worst_ms_<parser>` for each
parser, `cases`, and `wrong_answers` (cases that did not get their expected answer; goal 0).

    figures = parsers.run(session=None)
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "unit"))

from hostile_corpus import CASES, run_case  # noqa: E402  (needs the paths above)


def run(session=None, runs: int = 5) -> dict[str, float | str]:
    timings: dict[str, float] = {}
    wrong = 0
    for case in CASES:
        answers, seconds = zip(*(run_case(case) for _ in range(runs)))
        wrong += any(answer != case.expected for answer in answers)
        timings[case.name] = statistics.median(seconds) * 1000
    worst = max(CASES, key=lambda case: timings[case.name])
    figures: dict[str, float | str] = {"worst_ms": round(timings[worst.name], 2),
                                       "worst_case": worst.name, "cases": len(CASES),
                                       "wrong_answers": wrong, "runs": runs}
    for parser in sorted({case.parser for case in CASES}):
        slowest = max(timings[case.name] for case in CASES if case.parser == parser)
        figures[f"worst_ms_{parser}"] = round(slowest, 2)
    return figures
