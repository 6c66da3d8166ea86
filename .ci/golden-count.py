#!/usr/bin/env python3
"""Counts the golden tests that ran.

    golden-count.py TESTS_DIR RUN_LOG

Declared: every `@Test(...)` of TESTS_DIR/<Module>/*.swift whose traits include `.golden` (or
`.oracle`), keyed `Module/File.swift:function` as Tests/TestSupport/Golden.swift logs them.
Ran: the `golden ran KEY` lines of RUN_LOG (SWIFT_GGUF_GOLDEN_LOG), which GoldenTrait appends when
a test case runs to the end, passed or failed. A parameterized test counts once, when at least one
of its cases ran and none stopped on a missing input.

Prints `golden tests: N of M ran` (and the oracle cross-checks apart, which CI cannot run) and
exits 1 when N != M, listing the golden tests that did not run.
"""
import re
import sys
from pathlib import Path

DECL = re.compile(r"@Test\b(?P<attr>.*?)\bfunc\s+(?P<name>\w+)", re.S)
TRAIT = re.compile(r"[(,]\s*\.(golden|oracle)\b")


def declared(tests: Path) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {"golden": {}, "oracle": {}}
    for f in sorted(tests.glob("*/*.swift")):
        # Comment lines blanked (line numbers kept): a doc comment's example is no declaration.
        text = re.sub(r"(?m)^[ \t]*//.*$", "", f.read_text(encoding="utf-8"))
        for m in DECL.finditer(text):
            kinds = set(TRAIT.findall(m.group("attr")))
            if not kinds:
                continue
            if len(kinds) > 1:
                sys.exit(f"{f}: {m.group('name')} is both .golden and .oracle")
            key = f"{f.parent.name}/{f.name}:{m.group('name')}"
            kind = kinds.pop()
            if key in out["golden"] or key in out["oracle"]:
                sys.exit(f"golden-count: two declarations with the key {key}; rename one")
            line = text.count("\n", 0, m.start()) + 1
            out[kind][key] = f"{f.relative_to(tests.parent)}:{line}"
    for f in tests.glob("*/*.swift"):
        if re.search(r"@Suite\b[^\n]*[(,]\s*\.(golden|oracle)\b", f.read_text(encoding="utf-8")):
            sys.exit(f"{f}: put .golden / .oracle on each @Test, not on the @Suite (they are counted per test)")
    return out


def main() -> int:
    tests, log = Path(sys.argv[1]), Path(sys.argv[2])
    decl = declared(tests)
    outcomes: dict[str, dict[str, set[str]]] = {"golden": {}, "oracle": {}}
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[0] in outcomes:
                outcomes[parts[0]].setdefault(parts[2], set()).add(parts[1])

    def ran(kind: str) -> list[str]:
        return [k for k in decl[kind] if outcomes[kind].get(k, set()) == {"ran"}]

    golden, oracle = ran("golden"), ran("oracle")
    m, n = len(decl["golden"]), len(golden)
    unknown = sorted(set(outcomes["golden"]) - set(decl["golden"]))
    print(f"golden tests: {n} of {m} ran"
          + f" (oracle cross-checks against a local llama.cpp, not available in CI: {len(oracle)} of {len(decl['oracle'])} ran)")
    for k in decl["golden"]:
        if k not in golden:
            seen = ", ".join(sorted(outcomes["golden"].get(k, set()))) or "never started"
            print(f"  golden test did not run: {k} ({decl['golden'][k]}): {seen}")
    for k in unknown:
        print(f"  logged but not declared .golden in Tests/: {k}")
    return 0 if n == m and not unknown and m > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
