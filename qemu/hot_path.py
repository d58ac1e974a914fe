#!/usr/bin/env python3
"""Checks that the payload pipeline's loops in an update TA ELF run no machine-outlined code.

Follows direct calls and tail calls (`bl`, `b`) from the suit-bulk entry points (`suit_bulk::Keystream::apply`,
`suit_bulk::Ghash::update_padded`) through everything they reach, and fails if any of it is an
`OUTLINED_FUNCTION_*`: under QEMU's TCG each such call ends a translation block, which made
AES-CTR twice as slow when the loops were compiled for size (bulk/src/lib.rs, BENCHMARKS.md
"session 24"). Prints how many functions the path has and their total size.

Usage: hot_path.py OBJDUMP ELF"""
import re
import subprocess
import sys

ENTRIES = ("_ZN9suit_bulk9Keystream5apply", "_ZN9suit_bulk5Ghash13update_padded")
FUNC = re.compile(r"^([0-9a-f]+) <([^>]+)>:$")
# Calls and tail calls: a branch to another function's start (not `<f+0x..>`, a jump within f).
CALL = re.compile(r"\sbl?\s+[0-9a-f]+ <([^>+]+)>")


def main() -> int:
    objdump, elf = sys.argv[1], sys.argv[2]
    text = subprocess.run([objdump, "-d", "--no-show-raw-insn", elf], check=True,
                          capture_output=True, text=True).stdout
    calls: dict[str, set[str]] = {}
    start: dict[str, int] = {}
    last: dict[str, int] = {}
    cur = None
    for line in text.splitlines():
        m = FUNC.match(line)
        if m:
            cur = m.group(2)
            start[cur] = int(m.group(1), 16)
            calls.setdefault(cur, set())
            continue
        if cur is None:
            continue
        addr = line.strip().split(":", 1)[0]
        if re.fullmatch(r"[0-9a-f]+", addr):
            last[cur] = int(addr, 16) + 4
        c = CALL.search(line)
        if c:
            calls[cur].add(c.group(1))
    roots = [f for f in calls if f.startswith(ENTRIES)]
    if len(roots) != len(ENTRIES):
        print(f"{elf}: suit-bulk entry points not found (found {roots})", file=sys.stderr)
        return 1
    seen, todo, outlined = set(), list(roots), []
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        for g in calls.get(f, ()):
            if g.startswith("OUTLINED_FUNCTION"):
                outlined.append((f, g))
            else:
                todo.append(g)
    size = sum(last.get(f, 0) - start.get(f, 0) for f in seen)
    print(f"payload pipeline path: {len(seen)} functions, {size} B, "
          f"{len(outlined)} calls of machine-outlined code")
    for f, g in outlined:
        print(f"  {f} calls {g}", file=sys.stderr)
    if outlined:
        print("the pipeline's loops were compiled for size: see bulk/src/lib.rs", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
