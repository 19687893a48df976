#!/usr/bin/env python3
"""The registry's modules import one another without a circle.

Reads every file under crates/jwk-registry/src, takes each reference to another top-level
module of the crate (`crate::x`, `super::x` from a top-level file, `use crate::{x, y::…}`),
and refuses any circle among the top-level modules, printing it. `--graph` prints the edges.
"""

import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "jwk-registry", "src")


def top_modules():
    names = set()
    for entry in os.listdir(ROOT):
        path = os.path.join(ROOT, entry)
        if entry.endswith(".rs") and entry != "lib.rs":
            names.add(entry[:-3])
        elif os.path.isdir(path):
            names.add(entry)
    return names


def strip_comments(text):
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def referenced(text, modules):
    """The top-level modules a file's `crate::` paths name."""
    found = set()
    for m in re.finditer(r"\bcrate::(\w+)", text):
        found.add(m.group(1))
    # `use crate::{a, b::c, d::{…}}`: the first segment of each item at the brace's top level.
    for m in re.finditer(r"\bcrate::\{", text):
        depth, i, item = 1, m.end(), ""
        while i < len(text) and depth:
            c = text[i]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            if depth == 1 and c == ",":
                found.add(item.strip().split("::")[0])
                item = ""
            elif depth >= 1 and not (depth == 1 and c == "{"):
                item += c
            i += 1
        found.add(item.strip().split("::")[0])
    return {f for f in found if f in modules}


def graph():
    modules = top_modules()
    edges = {m: set() for m in modules}
    for dirpath, _, files in os.walk(ROOT):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, ROOT)
            if rel == "lib.rs":
                continue
            owner = rel.split(os.sep)[0]
            owner = owner[:-3] if owner.endswith(".rs") else owner
            with open(path, encoding="utf-8") as f:
                text = strip_comments(f.read())
            targets = referenced(text, modules)
            if os.sep not in rel:
                # A top-level file: `super::x` is the crate's x.
                targets |= {m.group(1) for m in re.finditer(r"\bsuper::(\w+)", text)} & modules
            edges[owner] |= targets - {owner}
    return edges


def circle(edges):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def self_test():
    """The check finds a circle when there is one (a crate of three files made for it)."""
    import tempfile

    global ROOT
    kept = ROOT
    with tempfile.TemporaryDirectory() as root:
        ROOT = root
        os.makedirs(os.path.join(root, "b"))
        files = {
            "lib.rs": "mod a; mod b; mod c;",
            "a.rs": "use crate::{b::Thing, types};\n// crate::c in a comment does not count",
            os.path.join("b", "mod.rs"): "mod inner;",
            os.path.join("b", "inner.rs"): "fn f() { crate::c::g() }",
            "c.rs": "use super::a;",
        }
        for name, text in files.items():
            with open(os.path.join(root, name), "w", encoding="utf-8") as f:
                f.write(text)
        edges = graph()
        assert edges == {"a": {"b"}, "b": {"c"}, "c": {"a"}}, edges
        assert circle(edges) == ["a", "b", "c", "a"], circle(edges)
        os.remove(os.path.join(root, "c.rs"))
        with open(os.path.join(root, "c.rs"), "w", encoding="utf-8") as f:
            f.write("fn g() {}")
        assert circle(graph()) is None
    ROOT = kept


def main():
    if "--self-test" in sys.argv:
        self_test()
    edges = graph()
    if "--graph" in sys.argv:
        for node in sorted(edges):
            print(f"{node} -> {', '.join(sorted(edges[node])) or '(nothing)'}")
    found = circle(edges)
    if found:
        print("scripts/modules.py: the registry's modules import one another in a circle: "
              + " -> ".join(found), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
