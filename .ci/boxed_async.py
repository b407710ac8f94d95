#!/usr/bin/env python3
"""Fails when a public `async fn` of the given source tree that is not generic
over types lacks `#[orbit_macros::boxed]`: without it, every crate that awaits
the function compiles its body again (docs/benchmarks.md, "Futures of other
crates, compiled once")."""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
missing = []
for path in sorted(root.rglob("*.rs")):
    lines = path.read_text().split("\n")
    for number, line in enumerate(lines):
        found = re.match(r"^\s*pub async fn (\w+)(<[^>(]*>)?\(", line)
        if not found:
            continue
        # The whole signature, up to the line that opens the body.
        end = number
        while not re.search(r"\{\s*$", lines[end]) and end < len(lines) - 1:
            end += 1
        signature = " ".join(part.strip() for part in lines[number : end + 1])
        generics = (found.group(2) or "").strip("<>").split(",")
        over_types = [g for g in generics if g.strip() and not g.strip().startswith("'")]
        if over_types or re.search(r"\bimpl\s", signature) or " where " in signature:
            continue  # generic: compiled where it is used whatever is done
        above = number - 1
        while above >= 0 and lines[above].strip().startswith("#["):
            if lines[above].strip().startswith("#[orbit_macros::boxed"):
                break
            above -= 1
        else:
            above = -1
        if above < 0 or not lines[above].strip().startswith("#[orbit_macros::boxed"):
            missing.append(f"{path}:{number + 1}: pub async fn {found.group(1)}")
if missing:
    print("public async fns without #[orbit_macros::boxed]:", *missing, sep="\n  ", file=sys.stderr)
    sys.exit(1)
print(f"ok: every non-generic public async fn under {root} is #[orbit_macros::boxed]")
