#!/usr/bin/env python3
"""Checks that every project include and every CMake link between modules
follows the layering that docs/architecture.md states (its `layering` block:
one line per module, `module: the modules it may use`). Exit 0 when all
arrows are allowed; 1 with one line per forbidden arrow (file:line, the
arrow, and the modules that may be used).

--plant FILE:MODULE/HEADER.h adds that include to FILE in memory before the
check (the suite uses it to show the check fails on a bad include)."""
import argparse
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_0-9]+)/[^"]+"')
LINK = re.compile(r'c2am::([a-z_0-9]+)')


def read_layering(doc):
    text = doc.read_text(encoding="utf-8")
    m = re.search(r"<!-- layering:begin -->(.*?)<!-- layering:end -->", text, re.S)
    if not m:
        sys.exit(f"{doc}: no <!-- layering:begin --> ... <!-- layering:end --> block")
    allowed = {}
    for line in m.group(1).splitlines():
        line = line.strip().strip("`")
        if not line or line.startswith("```") or line.startswith("#"):
            continue
        name, _, deps = line.partition(":")
        allowed[name.strip()] = set(deps.split())
    return allowed


def module_dirs(root):
    dirs = {p.name: p for p in (root / "src").iterdir() if p.is_dir()}
    dirs["data_prep"] = root / "data_prep"
    return dirs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=str(pathlib.Path(__file__).resolve().parents[2]))
    ap.add_argument("--plant", action="append", default=[])
    a = ap.parse_args()
    root = pathlib.Path(a.root)
    allowed = read_layering(root / "docs" / "architecture.md")
    dirs = module_dirs(root)
    planted = {}
    for p in a.plant:
        f, _, inc = p.partition(":")
        planted.setdefault((root / f).resolve(), []).append(f'#include "{inc}"')
    errors = []
    for name in sorted(set(dirs) - set(allowed)):
        errors.append(f"{dirs[name].relative_to(root)}: module '{name}' is not in docs/architecture.md's layering")
    for name, folder in sorted(dirs.items()):
        ok = allowed.get(name, set()) | {name}
        for f in sorted(folder.rglob("*")):
            if f.suffix not in (".h", ".cpp", ".txt"):
                continue
            lines = f.read_text(encoding="utf-8").splitlines() + planted.get(f.resolve(), [])
            pattern = LINK if f.name == "CMakeLists.txt" else INCLUDE
            for n, line in enumerate(lines, 1):
                for used in pattern.findall(line) if pattern is LINK else pattern.findall(line)[:1]:
                    if used in dirs and used not in ok:
                        errors.append(f"{f.relative_to(root)}:{n}: {name} -> {used} is not allowed "
                                      f"({name} may use: {' '.join(sorted(allowed.get(name, []))) or 'nothing'})")
    for e in errors:
        print(e)
    print(f"layering: {len(dirs)} modules, {len(errors)} forbidden arrow(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
