#!/usr/bin/env python3
"""Fails when the modules of a crate import each other in a circle.

Usage: module_cycles.py <crate src dir>

A module is a file under src/ (src/a/b.rs and src/a/b/mod.rs are `a::b`);
an import is any `crate::x::...` path in its code (use lines and inline
paths), counted against the longest module of that path that exists. The
crate root (lib.rs) is above every module and not counted.
"""

import os
import re
import sys


def modules(src):
    found = {}
    for root, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src)[:-3].split(os.sep)
            if rel[-1] == "mod":
                rel = rel[:-1]
            if rel in (["lib"], ["main"]):
                continue
            found["::".join(rel)] = path
    return found


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//")[0] for line in text.splitlines())


def imports(text, names):
    found = set()
    # `use crate::{a, b::c, d::{e}}` and `crate::a::b` paths.
    for group in re.finditer(r"use crate::\{(.*?)\};", text, flags=re.S):
        for item in re.split(r",(?![^{]*\})", group.group(1)):
            item = item.strip()
            if item:
                found.add(item.split("::{")[0].replace(" ", ""))
    for path in re.finditer(r"crate::((?:[a-z_][a-z0-9_]*::)*[a-zA-Z_][a-zA-Z0-9_]*)", text):
        found.add(path.group(1))
    targets = set()
    for path in found:
        parts = path.split("::")
        for end in range(len(parts), 0, -1):
            candidate = "::".join(parts[:end])
            if candidate in names:
                targets.add(candidate)
                break
    return targets


def main():
    src = sys.argv[1]
    names = modules(src)
    graph = {}
    for name, path in names.items():
        with open(path, encoding="utf-8") as file:
            text = strip_comments(file.read())
        graph[name] = {target for target in imports(text, names) if target != name
                       and not name.startswith(target + "::") and not target.startswith(name + "::")}
    # Tarjan's strongly connected components.
    index, low, stack, on_stack, circles = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    sys.setrecursionlimit(10000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    if circles:
        for circle in circles:
            print(f"{src}: modules import each other in a circle: {', '.join(circle)}", file=sys.stderr)
        sys.exit(1)
    print(f"{src}: {len(graph)} modules, no import circle")


if __name__ == "__main__":
    main()
