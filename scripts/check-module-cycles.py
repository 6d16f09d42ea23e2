"""Fails when a module imports a module that imports it back, in any crate of the
workspace (issue 19: `contract` <-> `views`, `verify` <-> `x509` were such circles).

  python3 scripts/check-module-cycles.py [ROOT]

For every crate (a directory with Cargo.toml and src/), each file's module path is
read from its place under src/ (src/config/cli.rs is `config::cli`; src/bin/ is
skipped: binaries are leaves). Its references to other modules are `crate::a::b`
paths (inside `use crate::{...}` groups too) and `super::x` paths. A reference from
`a::x` to `a::y` is an edge between the siblings `a::x` -> `a::y`; from `a::x` to
`b` it is `a` -> `b`. Test code (from a file's first `#[cfg(test)]` on, and modules
declared under `#[cfg(test)]`) is left out. Any strongly connected set of two or
more modules is printed and the exit status is 1. Standard library only.
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()


def module_path(src: pathlib.Path, file: pathlib.Path) -> list[str]:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("lib", "main", "mod"):
        parts = parts[:-1]
    return parts


def code_of(text: str) -> str:
    cut = text.find("#[cfg(test)]")
    if cut >= 0:
        text = text[:cut]
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def test_only_modules(text: str) -> set[str]:
    return set(re.findall(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text))


def references(code: str, here: list[str]) -> list[list[str]]:
    refs = []
    for group in re.findall(r"use\s+crate::\{(.*?)\};", code, re.S):
        depth, item = 0, ""
        for ch in group + ",":
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                name = re.match(r"\s*(\w+)", item)
                if name and name.group(1) != "self":
                    refs.append([name.group(1)])
                item = ""
            else:
                item += ch
    for path in re.findall(r"\bcrate((?:::\w+)+)", code):
        refs.append(path.strip(":").split("::")[:2])
    for path in re.findall(r"\bsuper((?:::\w+)+)", code):
        refs.append(here[:-1] + path.strip(":").split("::")[:1])
    return refs


def sccs(graph: dict[str, set[str]]) -> list[list[str]]:
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def main() -> int:
    failed = False
    crates = sorted(p.parent for p in ROOT.glob("*/Cargo.toml") if (p.parent / "src").is_dir())
    for crate in crates:
        src = crate / "src"
        files = [f for f in src.rglob("*.rs") if "bin" not in f.relative_to(src).parts]
        known = {tuple(module_path(src, f)) for f in files}
        skipped: set[tuple[str, ...]] = set()
        for f in files:
            for name in test_only_modules(f.read_text()):
                skipped.add(tuple(module_path(src, f)) + (name,))
        graph: dict[str, set[str]] = {}
        for f in files:
            here = module_path(src, f)
            if any(tuple(here[: len(s)]) == s for s in skipped):
                continue
            for ref in references(code_of(f.read_text()), here):
                # Longest known module the reference names.
                while ref and tuple(ref) not in known:
                    ref = ref[:-1]
                common = 0
                while common < min(len(here), len(ref)) and here[common] == ref[common]:
                    common += 1
                if common == len(here) or common == len(ref):
                    continue  # an ancestor or a descendant: not a sibling edge
                a = "::".join(here[: common + 1])
                b = "::".join(ref[: common + 1])
                graph.setdefault(a, set()).add(b)
        for comp in sccs(graph):
            failed = True
            print(f"{crate.name}: modules import each other: {' <-> '.join(comp)}")
    if not failed:
        print(f"no module cycles in {len(crates)} crates")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
