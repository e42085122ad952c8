"""docs/benchmarks.md, shared by every benchmark in bench/.

Each benchmark owns one section between its own markers
(``<!-- bench/NAME.py: begin -->`` … ``end -->``) and rewrites only that,
so several benchmarks can refresh the file in any order.
"""

from __future__ import annotations

import os

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                   "benchmarks.md")
HEADER = (
    "# Benchmarks\n\n"
    "Measured side by side with the reference tools on the same machine, in one run,\n"
    "interleaved (A B A B …); medians quoted, ratios against the reference. The machines\n"
    "are shared and noisy, so the ratios mean more than the absolute times. Each section\n"
    "is written by the benchmark named in it (`bench/*.py`); rerun it to refresh.\n\n"
)


def markers(script: str) -> tuple[str, str]:
    return f"<!-- bench/{script}: begin -->", f"<!-- bench/{script}: end -->"


def write_section(begin: str, end: str, section: str) -> None:
    """Put ``section`` (which starts with ``begin`` and ends with ``end``) in
    place of the old one, or append it. The file is read right before writing
    (other benchmarks write theirs too) and replaced atomically."""
    section = section.rstrip("\n") + "\n"
    text = open(DOC).read() if os.path.exists(DOC) else HEADER
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    tmp = f"{DOC}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, DOC)
