"""Rewrite imports of the old flat ``unmf_core`` modules to the subpackages of issue 11.

Usage: ``python3 scripts/rewrite_imports.py FILE...`` (or no argument: every .py file of the
repository outside .git). Safe to run again: names already in the new layout are left alone.

Relative imports are resolved against the file's own package; when that names no module of the
new layout (a module that moved into a subpackage but still imports ``.notes`` the old way), they
are resolved against the top level (the old flat layout) and mapped.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: old module (under unmf_core) → new module
MOVES = {
    "audio": "frontend.audio", "cqt": "frontend.cqt", "streaming": "frontend.blocks",
    "nmf": "nmf.kernels", "unrolled": "nmf.unrolled", "chunking": "nmf.chunking",
    "pipeline": "transcription.engine", "notes": "transcription.notes", "templates": "transcription.templates",
    "metrics": "transcription.metrics", "display": "transcription.display", "synth": "transcription.synth",
    "fallback": "transcription.fallback",
    "training": "training.trainer", "datasets": "training.datasets", "losses": "training.losses",
    "validation": "training.validation", "synthdata": "training.synthdata", "render": "training.render",
    "io": "io.atomic", "checkpoints": "io.checkpoints",
    "cli": "cli", "train_cli": "cli.train",
    "calibration": "transcription.calibration", "inputstream": "frontend.inputstream",
}
PACKAGES = {"frontend", "nmf", "transcription", "training", "io", "cli"}
#: names that moved to another module than their old module's (new module, name) → new module
NAME_MOVES = {
    **{("unmf_core.nmf.kernels", n): "unmf_core.nmf.chunking" for n in ("initialize", "iterate_mu", "mu", "MUResult")},
    **{("unmf_core.cli.train", n): "unmf_core.training.finetune" for n in ("fine_tune", "split_validation")},
}


def new_modules() -> set[str]:
    mods = {"unmf_core"}
    for p in (ROOT / "unmf_core").rglob("*.py"):
        parts = p.relative_to(ROOT).with_suffix("").parts
        mods.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return mods


MODULES = new_modules()


def map_abs(name: str, force: bool = False) -> str:
    """unmf_core.<old>[.rest] → unmf_core.<new>[.rest]; names of the new layout are kept unless ``force``."""
    if (name in MODULES and not force) or not name.startswith("unmf_core."):
        return name
    parts = name.split(".")
    if parts[1] in MOVES:
        return ".".join(["unmf_core", *MOVES[parts[1]].split("."), *parts[2:]])
    return name


def package_of(path: Path) -> str:
    parts = path.resolve().relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1])


def resolve(pkg: str, dots: int, mod: str) -> str:
    base = pkg.split(".")
    base = base[: len(base) - (dots - 1)] if dots > 1 else base
    return ".".join(base + ([mod] if mod else []))


def relativise(pkg: str, target: str) -> str:
    p, t = pkg.split("."), target.split(".")
    n = 0
    while n < min(len(p), len(t)) and p[n] == t[n]:
        n += 1
    return "." * (len(p) - n + 1) + ".".join(t[n:])


FROM = re.compile(r"^(\s*)from\s+(\.+)?([\w.]*)\s+import\s+(.*)$")
IMPORT = re.compile(r"^(\s*)import\s+(unmf_core(?:\.[\w]+)+)(.*)$")
DOTTED = re.compile(r"\bunmf_core\.((?:\w+\.)*\w+)")


def _split_names(names: str) -> tuple[list[str], str] | None:
    plain = names.strip()
    if plain.startswith("(") or plain.endswith("\\"):
        return None
    body, _, comment = plain.partition("#")
    return [s.strip() for s in body.split(",") if s.strip()], ("  #" + comment if comment else "")


def rewrite_line(line: str, pkg: str | None) -> str:
    m = FROM.match(line)
    if m:
        indent, dots, mod, names = m.groups()
        if dots:
            if pkg is None or not pkg.startswith("unmf_core"):
                return line
            absolute = resolve(pkg, len(dots), mod)
            if absolute not in MODULES and len(dots) == 1:
                absolute = map_abs(resolve("unmf_core", 1, mod), force=True)
            relative = True
        elif mod == "unmf_core" or mod.startswith("unmf_core."):
            absolute, relative = mod, False
        else:
            return line
        split = _split_names(names)
        is_pkg = absolute == "unmf_core" or absolute in PACKAGES_ABS
        if split is None or not is_pkg:
            short = absolute[len("unmf_core."):]
            force = split is None and short in MOVES and MOVES[short] not in (short, "cli")
            out = map_abs(absolute, force=force)
            if split is not None and any((out, i.split()[0]) in NAME_MOVES for i in split[0]):
                return _grouped(indent, pkg, relative, split, lambda item: NAME_MOVES.get((out, item.split()[0]), out))
            src = relativise(pkg, out) if relative else out
            return f"{indent}from {src} import {names}"
        short = absolute[len("unmf_core."):]
        items, comment = split
        groups: dict[str, list[str]] = {}
        for item in items:
            name = item.split()[0]
            moved_pkg = absolute == "unmf_core" and name in MOVES and MOVES[name] not in (name, "cli")
            if (f"{absolute}.{name}" in MODULES and not moved_pkg) or name == "*":
                groups.setdefault(absolute, []).append(item)
            elif name in MOVES and (absolute == "unmf_core" or (relative and not mod)):
                full = map_abs(f"unmf_core.{name}", force=True)
                parent, leaf = full.rsplit(".", 1)
                alias = item.split(" as ")[1].strip() if " as " in item else name
                groups.setdefault(parent, []).append(leaf if alias == leaf else f"{leaf} as {alias}")
            elif short in MOVES and MOVES[short] != short:
                target = map_abs(absolute, force=True)
                groups.setdefault(NAME_MOVES.get((target, name), target), []).append(item)
            else:
                groups.setdefault(absolute, []).append(item)
        lines = [f"{indent}from {relativise(pkg, p) if relative else p} import {', '.join(v)}"
                 for p, v in groups.items()]
        return "\n".join(lines[:-1] + [lines[-1] + comment])
    m = IMPORT.match(line)
    if m:
        return f"{m.group(1)}import {map_abs(m.group(2))}{m.group(3)}"
    return DOTTED.sub(lambda d: _dotted(d.group(1)), line)


def _grouped(indent: str, pkg: str | None, relative: bool, split, module_of) -> str:
    """One ``from X import …`` line per target module of the imported names."""
    items, comment = split
    groups: dict[str, list[str]] = {}
    for item in items:
        groups.setdefault(module_of(item), []).append(item)
    lines = [f"{indent}from {relativise(pkg, m) if relative else m} import {', '.join(sorted(v))}"
             for m, v in sorted(groups.items())]
    return "\n".join(lines[:-1] + [lines[-1] + comment])


def _dotted(rest: str) -> str:
    parts = rest.split(".")
    if parts[0] == "cli" or parts[0] not in MOVES:
        return "unmf_core." + rest
    if parts[0] in PACKAGES and len(parts) > 1 and f"unmf_core.{parts[0]}.{parts[1]}" in MODULES:
        return "unmf_core." + rest  # already the new layout
    out = map_abs("unmf_core." + rest, force=True)
    parent, _, leaf = out.rpartition(".")
    return f"{NAME_MOVES[(parent, leaf)]}.{leaf}" if (parent, leaf) in NAME_MOVES else out


PACKAGES_ABS = {f"unmf_core.{p}" for p in PACKAGES}


def rewrite(path: Path, pkg: str | None = None) -> bool:
    text = path.read_text()
    if pkg is None:
        pkg = package_of(path) if path.resolve().is_relative_to(ROOT) else None
    new = "\n".join(rewrite_line(ln, pkg) for ln in text.split("\n"))
    if new != text:
        path.write_text(new)
        return True
    return False


if __name__ == "__main__":
    files = [Path(a) for a in sys.argv[1:]] or [p for p in ROOT.rglob("*.py") if ".git" not in p.parts]
    for f in files:
        if f.resolve() != Path(__file__).resolve() and rewrite(f):
            print("rewrote", f)
