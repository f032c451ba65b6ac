"""Every shell command in README.md, docs/*.md and the READMEs of examples/, benchmarks/ and
experiments/ is true of a fresh clone (issue 32), checked statically and cheaply: nothing is
run, no model is loaded (about 2 s).

What counts as a command: each line of a fenced block marked ``bash``, ``sh``, ``shell`` or
``console`` (a leading ``$ `` dropped; ``\\`` continues a line; ``#`` starts a comment), each
line of an unmarked fenced block that starts with a known program (the usage synopses of
docs/cli.md; an indented line that follows continues it), and each inline code span that
starts with a known program and has more than one word (``blurvid ...``, ``python ...``,
``pip ...``, ``torchrun ...``, ``bash X``, ``scripts/x.sh ...``, ``benchmarks/x.py ...``).
``&&``, ``||``, ``;`` and ``|`` separate commands; a redirection ends one; leading
``VAR=value`` words are dropped. Other programs (``git``, ``cd``, ...) are not checked.

The rules:

* ``blurvid COMMAND ...`` (and ``python -m blurvid[.train]``, ``torchrun ... -m
  blurvid.train``): COMMAND (and ``data``'s sub-command) exists, and every ``-x`` / ``--flag``
  is an option string of that command's argparse parser, built as the CLI builds it
  (``blurvid.cli.build_parser``); exact spellings, no abbreviations. A command in a
  ``bash``/``sh``/``console`` block with no synopsis marks (``[``, ``...``, ``<``, ``|``) is
  also parsed in full by that parser (types, choices, required options).
* ``python PATH.py ...``, ``PATH.py ...``, ``PATH.sh ...``, ``bash PATH``: the file exists, and
  every flag is among the option strings its ``add_argument`` calls name (read from the source
  with ``ast``; a script without argparse: a string literal of the script); a shell script
  that ``exec``\\ s a Python script with ``"$@"`` is checked as that script. Positional words
  before the first flag that argparse restricts (``choices=``) are among the choices; a shell
  script's first word is one of its ``case`` labels.
* Fresh clone, no folder outside it: no command names ``../shared`` (CI's copy of the data);
  a Python script's option whose default lies in ``../shared`` must be given, as must a shell
  script's positional argument whose default (``${N:-...}``) does; a command that names a
  recipe (``recipes/*.toml``) whose ``data_root`` lies outside the clone passes
  ``--data-root`` (except the release actions that read no data: export, bundle, status).
  Inline code that merely names ``../shared/data`` (or ``shared/data``) is allowed only in a
  paragraph that says it is CI's copy (the word "CI").
* The data: a script whose option defaults to the project's data folder
  (``blurvid.data.download.default_data_dir``: ``data/``, else CI's copy) appears only at or
  after the point where the same document names ``blurvid data download``, or passes that
  option.
* Paths: a word (or the path in ``KIND:PATH@W``, ``LABEL=PATH``, ``--flag=PATH``) whose first
  part is a tracked top-level entry of the repository (``recipes/``, ``examples/``,
  ``scripts/``, ``docs/``, ...) exists (globs allowed), unless it is the value of an output
  option (``-o``, ``--out``, ``--json``, ...) or a placeholder (an all-capitals part such as
  ``OUT`` or ``RUN``, or ``<...>``). A single-word inline code span that is such a path exists
  too, unless its line or a neighbour says it was "removed". ``data`` / ``data/...`` (the folder ``blurvid data download data/`` fills) may appear
  in a command only at or after the point where the same document names ``blurvid data
  download``. Absolute paths (``/data/GOPRO_Large_all``) and other relative ones
  (``runs/x``, ``my_photos/``) are the user's and not checked.
* ``pip install``: every extra named (``".[test]"``, ``'blurvid[demo]'``) is a key of
  pyproject.toml's ``[project.optional-dependencies]``.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import fnmatch
import glob
import io
import re
import shlex
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
#: the user's documents: the README, docs/, and the READMEs that say how to run the scripts
#: (training/README.md and CHANGELOG.md are records: they keep the commands of their day)
DOCS = [
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    *(REPO / d / "README.md" for d in ("examples", "benchmarks", "experiments")),
]

SHELL_LANGS = {"bash", "sh", "shell", "console"}
PROGRAMS = ("blurvid", "python", "python3", "pip", "pip3", "torchrun", "bash", "sh")
SEPARATORS = {"&&", "||", ";", "|", "&"}
REDIRECT = re.compile(r"^\d*(>>?|<)(&\d)?$|^\d*>>?\S+$")
ENV_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
FLAG = re.compile(r"^(--?[A-Za-z][\w-]*)(=.*)?$")
OUTPUT_FLAGS = {"-o", "--output", "--out", "--json", "--plot", "--save-frames", "--run"}
#: release actions (scripts/release.py) that read no data
NO_DATA_ACTIONS = {"export", "bundle", "status"}
SYNOPSIS_MARKS = ("[", "...", "<", "|")


@dataclass
class Command:
    doc: str  # file name, for messages
    line: int  # 1-based line of the command's first line
    words: list[str]
    fenced: bool  # from a fenced shell block (a real command, not a synopsis or fragment)
    data_ok: bool  # the document named `blurvid data download` at or before this point

    def where(self) -> str:
        return f"{self.doc}:{self.line}: {' '.join(self.words)}"


# --------------------------------------------------------------------------- extraction
_FENCE = re.compile(r"^( *)```([\w-]*)[^\n]*\n(.*?)^ *```[ \t]*$", re.S | re.M)
_INLINE = re.compile(r"(?<!`)(``?)(?!`)(.+?)(?<!`)\1(?!`)")


def _split_commands(text: str) -> list[list[str]]:
    """Shell words of ``text`` (one logical line), split at separators, cut at redirections,
    without leading ``VAR=value`` words."""
    words = shlex.split(text, comments=True)
    out: list[list[str]] = [[]]
    cut = False
    for w in words:
        if w in SEPARATORS:
            out.append([])
            cut = False
        elif cut:
            continue
        elif REDIRECT.match(w):
            cut = True
        else:
            out[-1].append(w)
    cmds = []
    for c in out:
        while c and ENV_WORD.match(c[0]):
            c = c[1:]
        if c and c[0] in ("nohup", "nice"):
            c = c[1:]
            if c[:1] == ["-n"]:
                c = c[2:]
        if c:
            cmds.append(c)
    return cmds


def _is_program(word: str) -> bool:
    return word in PROGRAMS or word.endswith((".py", ".sh"))


def _paragraph_before(lines: list[str], index: int) -> str:
    """The lines from the previous blank line (fences skipped) up to ``index``."""
    start = index
    while start > 0 and lines[start - 1].strip() and not lines[start - 1].startswith("```"):
        start -= 1
    while start > 0 and lines[start - 1].startswith("```"):  # the paragraph above a block
        start -= 1
        while start > 0 and lines[start - 1].strip():
            start -= 1
    return "\n".join(lines[start : index + 1])


def _names_ci(text: str) -> bool:
    return re.search(r"\bCI\b", text) is not None


def extract_commands(text: str, doc: str = "<doc>") -> tuple[list[Command], list[tuple]]:
    """(commands, inline code spans as (line, code, paragraph, the line and its neighbours))
    of a Markdown text."""
    lines = text.splitlines()
    download_at = text.find("blurvid data download")

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    def offset_of_line(n: int) -> int:  # start offset of line n (1-based)
        return sum(len(x) + 1 for x in lines[: n - 1])

    commands: list[Command] = []
    blanked = list(text)
    for m in _FENCE.finditer(text):
        for i in range(m.start(), m.end()):  # inline search skips fenced blocks
            if blanked[i] != "\n":
                blanked[i] = " "
        lang = m.group(2).lower()
        if lang and lang not in SHELL_LANGS:
            continue
        first = line_of(m.start(3))
        logical: list[tuple[int, str]] = []
        for k, raw in enumerate(m.group(3).splitlines()):
            n = first + k
            s = raw.rstrip()
            if lang == "console":
                if not s.lstrip().startswith("$ "):
                    continue
                s = s.lstrip()[2:]
            if logical and logical[-1][1].endswith("\\"):
                logical[-1] = (logical[-1][0], logical[-1][1][:-1] + " " + s.strip())
            elif not lang and logical and raw[:1].isspace() and s.strip()[:1] in "[-":
                logical[-1] = (logical[-1][0], logical[-1][1] + " " + s.strip())
            elif s.strip():
                logical.append((n, s))
        for n, s in logical:
            if not lang and not _is_program(s.split()[0]):
                continue  # an unmarked block that is not a command (a diagram)
            pos = offset_of_line(n) + len(lines[n - 1])
            try:
                split = _split_commands(s)
            except ValueError as exc:  # unbalanced quotes: not a shell command as written
                raise AssertionError(f"{doc}:{n}: {s!r} is not valid shell: {exc}") from None
            for words in split:
                commands.append(Command(doc, n, words, bool(lang), 0 <= download_at <= pos))
    inline: list[tuple] = []
    flat = "".join(blanked)
    for m in _INLINE.finditer(flat):
        code = m.group(2).strip()
        n = line_of(m.start())
        para = _paragraph_before(lines, n - 1)
        inline.append((n, code, para, "\n".join(lines[max(n - 2, 0) : n + 1])))
        words = code.split()
        if len(words) > 1 and _is_program(words[0]):
            try:
                split = _split_commands(code)
            except ValueError:  # not shell (an apostrophe in prose)
                continue
            for ws in split:
                commands.append(Command(doc, n, ws, False, 0 <= download_at <= m.end()))
    return commands, inline


# --------------------------------------------------------------------------- repository facts
@cache
def ignored_paths() -> tuple[str, ...]:
    """The anchored patterns of .gitignore (``/runs/``, ``/benchmarks/.cache/``): what a run
    makes, not what a clone has; ``data`` is the download's."""
    gi = REPO / ".gitignore"
    lines = gi.read_text().splitlines() if gi.is_file() else []
    return ("data", *(x.strip().strip("/") for x in lines if x.strip().startswith("/")))


@cache
def top_level_entries() -> frozenset[str]:
    """Top-level names of the repository a fresh clone has (ignored ones left out)."""
    names = {p.name for p in REPO.iterdir() if not p.name.startswith(".")}
    return frozenset(n for n in names if not any(fnmatch.fnmatch(n, i) for i in ignored_paths()))


@cache
def extras() -> frozenset[str]:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    return frozenset(meta["project"].get("optional-dependencies", {}))


@cache
def blurvid_parser(command: str) -> argparse.ArgumentParser | None:
    from blurvid.cli import COMMANDS, build_parser

    if command not in COMMANDS:
        return None
    return _subparsers(build_parser(command)).get(command)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


@dataclass
class ScriptOptions:
    flags: frozenset[str]
    positional_choices: list[tuple | None]  # per positional, in order: its choices or None
    shared_defaults: frozenset[str]  # options (``#N``: positional N) whose default is in ../shared
    data_defaults: frozenset[str]  # options whose default is the project's data folder


def _mentions_shared(text: str) -> bool:
    return "../shared" in text or re.search(r"""["']shared["']""", text) is not None


@cache
def script_options(path: Path) -> ScriptOptions:
    source = path.read_text()
    tree = ast.parse(source)
    assigned: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    assigned[t.id] = node.value

    def literal(node):
        if isinstance(node, ast.Name) and node.id in assigned:
            node = assigned[node.id]
        try:
            return ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError):
            return None

    def default_text(node) -> str:
        text = ast.get_source_segment(source, node) or ""
        for name in {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & set(assigned):
            text += " " + (ast.get_source_segment(source, assigned[name]) or "")
        return text

    flags: set[str] = set()
    positional: list[tuple | None] = []
    shared: set[str] = set()
    data: set[str] = set()
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == "add_argument"
    ]
    calls.sort(key=lambda n: (n.lineno, n.col_offset))
    for call in calls:
        names = [
            a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
        ]
        kw = {k.arg: k.value for k in call.keywords}
        if names and not names[0].startswith("-"):
            choices = literal(kw["choices"]) if "choices" in kw else None
            positional.append(tuple(choices) if choices is not None else None)
            if "default" in kw and _mentions_shared(default_text(kw["default"])):
                shared.add(f"#{len(positional)}")  # the n-th positional argument
            continue
        flags.update(names)
        if "default" in kw and _mentions_shared(default_text(kw["default"])):
            shared.update(names)
        if "default" in kw and "default_data_dir" in default_text(kw["default"]):
            data.update(names)
    if calls:
        flags |= {"-h", "--help"}
    else:  # no argparse: sys.argv compared with string literals
        flags = {
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and FLAG.match(n.value)
        }
    return ScriptOptions(frozenset(flags), positional, frozenset(shared), frozenset(data))


# --------------------------------------------------------------------------- checks
def _flags(words: list[str]) -> list[str]:
    """The option strings among ``words`` (synopsis brackets stripped), up to a bare ``--``."""
    found = []
    for w in words:
        if w == "--":
            break
        m = FLAG.match(w.lstrip("[").rstrip("]."))
        if m:
            found.append(m.group(1))
    return found


def _placeholder(part: str) -> bool:
    return "<" in part or re.fullmatch(r"[A-Z][A-Z0-9_]*(\.[A-Za-z0-9]+)?", part) is not None


def _clean_path(word: str) -> str:
    w = word.lstrip("[").rstrip("].,;")
    if w.startswith("-") and "=" in w:
        w = w.split("=", 1)[1]
    w = re.sub(r"^[A-Za-z_][\w-]*=", "", w)  # LABEL=PATH
    w = re.sub(r"^[a-z_]+:(?!//)", "", w)  # KIND:PATH (not a URL)
    return re.sub(r"@[\d.]+$", "", w)  # PATH@WEIGHT


def check_path(word: str) -> str | None:
    """A problem with ``word`` as a path of the clone, or None."""
    path = _clean_path(word)
    if not path or path.startswith("/") or "://" in path:
        return None
    parts = path.rstrip("/").split("/")
    if parts[0] not in top_level_entries() or any(_placeholder(p) for p in parts):
        return None
    for pattern in ignored_paths():  # made by a run (a cache), not in a clone
        n = pattern.count("/") + 1
        if len(parts) >= n and fnmatch.fnmatch("/".join(parts[:n]), pattern):
            return None
    if "{" in path:  # brace expansion: every alternative
        m = re.search(r"\{([^{}]*)\}", path)
        assert m is not None
        for alt in m.group(1).split(","):
            problem = check_path(path[: m.start()] + alt + path[m.end() :])
            if problem:
                return problem
        return None
    if any(c in path for c in "*?["):
        return None if glob.glob(str(REPO / path)) else f"no file matches {path}"
    return None if (REPO / path).exists() else f"{path} does not exist in the repository"


def _command_paths(cmd: Command, words: list[str]) -> list[str]:
    problems = []
    previous = ""
    for w in words:
        cleaned = _clean_path(w)
        if "../shared" in w or cleaned.startswith("shared/"):
            problems.append(
                f"{w!r} is outside the clone (CI's copy): use data/ after `blurvid "
                "data download data/`"
            )
        elif re.fullmatch(r"data(/.*)?", cleaned) and not cmd.data_ok:
            problems.append(f"{w!r} needs the data: say `blurvid data download data/` before this")
        elif previous not in OUTPUT_FLAGS:
            problem = check_path(w)
            if problem:
                problems.append(problem)
        previous = w.lstrip("[")
    return problems


def _recipe_rule(words: list[str], action: str | None) -> list[str]:
    if action in NO_DATA_ACTIONS or "--data-root" in _flags(words):
        return []
    problems = []
    for w in words:
        if fnmatch.fnmatch(w, "recipes/*.toml") and (REPO / w).is_file():
            root = tomllib.loads((REPO / w).read_text()).get("data_root", "")
            if root.startswith(("..", "/")):
                problems.append(
                    f"{w}'s data_root is {root!r}, outside the clone: pass --data-root data"
                )
    return problems


def check_blurvid(words: list[str], full_parse: bool) -> list[str]:
    """``words`` after ``blurvid``."""
    rest = list(words)
    while rest and rest[0] in ("--debug",):
        rest = rest[1:]
    if not rest or rest[0] in ("--help", "-h", "--version"):
        return []
    name = rest[0]
    if _placeholder(name):
        return []
    parser = blurvid_parser(name)
    if parser is None:
        return [f"`blurvid {name}` is not a command"]
    args = rest[1:]
    chain = [name]
    nested = _subparsers(parser)
    if nested:
        if not args or args[0] not in nested:
            return [f"`blurvid {name}` takes one of {sorted(nested)}, got {args[:1]}"]
        chain.append(args[0])
        parser, args = nested[args[0]], args[1:]
    known = set(parser._option_string_actions)
    problems = [
        f"`blurvid {' '.join(chain)}` has no option {f}" for f in _flags(args) if f not in known
    ]
    if not problems and full_parse and not any(m in " ".join(args) for m in SYNOPSIS_MARKS):
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                parser.parse_args(args)
        except SystemExit as exc:
            if exc.code:
                problems.append(f"`blurvid {' '.join(chain)}` rejects it: {err.getvalue().strip()}")
    return problems


def _delegate(script: Path) -> Path | None:
    """The Python script a shell script ``exec``\\ s with ``"$@"``, if any."""
    m = re.search(r'^\s*exec\s+.*?(\S+\.py)\s+"\$@"', script.read_text(), re.M)
    return (REPO / m.group(1)) if m and (REPO / m.group(1)).is_file() else None


def check_script(path_word: str, args: list[str], data_ok: bool = True) -> list[str]:
    """A ``python PATH`` / ``PATH.sh`` / ``bash PATH`` command (``data_ok``: the document
    has named ``blurvid data download`` before it)."""
    path = REPO / path_word
    if not path.is_file():
        return [f"{path_word} does not exist in the repository"]
    problems: list[str] = []
    leading = []
    for a in args:
        if a.startswith("-"):
            break
        leading.append(a)
    target = path
    if path.suffix != ".py":
        target = _delegate(path) or path
    if target.suffix == ".py":
        opts = script_options(target)
        problems += [f"{path_word} has no option {f}" for f in _flags(args) if f not in opts.flags]
        for word, choices in zip(leading, opts.positional_choices):
            synopsis = any(m in word for m in SYNOPSIS_MARKS)
            if (
                choices is not None
                and not _placeholder(word)
                and not synopsis
                and word not in choices
            ):
                problems.append(f"{path_word}: {word!r} is not one of {list(choices)}")
        given = set(_flags(args))
        for f in sorted(opts.shared_defaults):
            if f.startswith("#"):  # a positional argument: given when there are that many
                if len(leading) < int(f[1:]):
                    problems.append(
                        f"{path_word}: give positional argument {f[1:]}; its "
                        "default lies outside the clone (../shared)"
                    )
            elif not given & _aliases(target, f):
                problems.append(
                    f"{path_word}: pass {f}; its default lies outside the clone (../shared)"
                )
        if not data_ok:
            problems += [
                f"{path_word} reads the project's data (its {f} default: data/): say "
                "`blurvid data download data/` before this, or pass the option"
                for f in sorted(opts.data_defaults)
                if not given & _aliases(target, f)
            ]
    else:
        text = path.read_text()
        problems += [
            f"{path_word} has no option {f}"
            for f in _flags(args)
            if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", text)
        ]
        labels = list(re.finditer(r"^\s*([\w|-]+)\)", text, re.M))
        words = {x for label in labels for x in label.group(1).split("|")}
        if words and leading and not _placeholder(leading[0]) and leading[0] not in words:
            problems.append(f"{path_word}: {leading[0]!r} is not one of {sorted(words)}")
        branch = text  # the text the command runs: its case branch, if the script has them
        for i, label in enumerate(labels):
            if leading and leading[0] in label.group(1).split("|"):
                end = labels[i + 1].start() if i + 1 < len(labels) else len(text)
                branch = text[label.start() : end]
        for m in re.finditer(r"\$\{(\d+):-([^}]*)\}", branch):
            if _mentions_shared(m.group(2)) and len(leading) < int(m.group(1)):
                problems.append(
                    f"{path_word}: give argument {m.group(1)}; its default "
                    f"{m.group(2)!r} is outside the clone"
                )
    return problems


def _aliases(script: Path, flag: str) -> set[str]:
    """The option strings of ``flag``'s add_argument call (``-o`` for ``--output``)."""
    tree = ast.parse(script.read_text())
    for n in ast.walk(tree):
        if (
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr == "add_argument"
        ):
            names = {a.value for a in n.args if isinstance(a, ast.Constant)}
            if flag in names:
                return names
    return {flag}


def check_pip(words: list[str]) -> list[str]:
    if "install" not in words:
        return []
    problems = []
    for w in words[words.index("install") + 1 :]:
        m = re.fullmatch(r"(?:\.|blurvid)\[([\w,\s-]+)\]", w)
        if m:
            problems += [
                f"pip extra [{e}] is not in pyproject.toml"
                for e in (x.strip() for x in m.group(1).split(","))
                if e not in extras()
            ]
    return problems


def check_command(cmd: Command) -> list[str]:
    """Problems with one command (empty: it holds)."""
    words = cmd.words
    prog, rest = words[0], words[1:]
    problems: list[str] = []
    if prog in ("pip", "pip3"):
        return check_pip(rest)
    if prog == "torchrun":
        if "-m" in rest:
            rest = rest[rest.index("-m") :]
            prog = "python"
        else:
            scripts = [w for w in rest if w.endswith(".py")]
            if not scripts:
                return []
            prog, rest = "python", rest[rest.index(scripts[0]) :]
    if prog in ("python", "python3"):
        if rest[:1] == ["-m"] and len(rest) > 1:
            module, rest = rest[1], rest[2:]
            if module in ("pip",):
                return check_pip(rest)
            if module == "blurvid":
                prog = "blurvid"
            elif module == "blurvid.train":
                prog, rest = "blurvid", ["train", *rest]
            elif module.startswith("blurvid"):
                rel = Path("src", *module.split("."))
                if (
                    not (REPO / rel.with_suffix(".py")).is_file()
                    and not (REPO / rel / "__main__.py").is_file()
                ):
                    return [f"no module {module} in src/"]
                return []
            else:
                return []  # pytest and other tools: not ours to check
        elif rest and rest[0].endswith(".py"):
            prog, rest = rest[0], rest[1:]
        else:
            return []
    elif prog in ("bash", "sh"):
        if not rest:
            return []
        prog, rest = rest[0], rest[1:]
    if prog == "blurvid":
        problems += check_blurvid(rest, cmd.fenced)
        skip = 1 + (rest[:1] == ["data"])  # the command words are not paths
        problems += _command_paths(cmd, rest[skip:])
        problems += _recipe_rule(rest, None)
    elif prog.endswith((".py", ".sh")):
        problems += check_script(prog, rest, cmd.data_ok)
        problems += _command_paths(cmd, rest)
        action = rest[1] if prog.endswith("release.sh") and len(rest) > 1 else None
        if prog.endswith(("release.sh", "release.py")):
            problems += _recipe_rule(rest, action or "train")
    return problems


def check_inline_paths(doc: str, inline: list[tuple]) -> list[str]:
    """Single-word inline code: a repository path exists; ../shared/data only as CI's copy."""
    problems = []
    for line, code, para, around in inline:
        if " " in code:
            continue
        if ("../shared/data" in code or code.startswith("shared/data")) and not _names_ci(para):
            problems.append(
                f"{doc}:{line}: `{code}` is CI's copy of the data; name data/ "
                "(after `blurvid data download data/`) or say it is CI's"
            )
        elif re.fullmatch(r"[\w./*{},-]+", code) and "/" in code:
            problem = None if "removed" in around else check_path(code)
            if problem:
                problems.append(f"{doc}:{line}: {problem}")
    return problems


def check_markdown(text: str, doc: str = "<doc>") -> list[str]:
    commands, inline = extract_commands(text, doc)
    problems = [f"{c.where()}\n    -> {p}" for c in commands for p in check_command(c)]
    return problems + check_inline_paths(doc, inline)


# --------------------------------------------------------------------------- tests
@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_command_in_the_docs_holds(doc):
    problems = check_markdown(doc.read_text(), str(doc.relative_to(REPO)))
    assert not problems, "\n".join(problems)


def test_the_docs_have_commands_to_check():
    """The extraction finds the commands it is meant to (a regex that found nothing would
    pass every doc)."""
    found = [c for doc in DOCS for c in extract_commands(doc.read_text(), doc.name)[0]]
    programs = {c.words[0] for c in found}
    assert {"blurvid", "python", "pip"} <= programs
    subcommands = {c.words[1] for c in found if c.words[0] == "blurvid" and len(c.words) > 1}
    from blurvid.cli import COMMANDS

    assert set(COMMANDS) <= subcommands  # every CLI command is shown in the docs


FAKE = """\
Intro.

```bash
blurvid extract examples/images/clock_motion.png -o out/ --depth 2
blurvid extract photo.jpg -o out/ --frobnicate 3
python benchmarks/bench_inference.py --repeats 3 --no-such-flag
python scripts/missing_script.py
pip install ".[test,nonsense]"
scripts/release.sh recipes/release-v0.2.toml all --out runs/x
blurvid eval --data val:../shared/data --model default
blurvid extract examples/images/nope.png -o out/
```

Then `blurvid train --stage all --data photos:data/photos --out runs/x` before any download,
and `blurvid data download data/`, after which `blurvid eval --data val:data` is fine, as is
`blurvid export --format onnx -o x.onnx`; but not `blurvid slowmo in.mp4 -o o.mp4 --factr 7`.
The photos of `../shared/data/blurry` are real.
"""


def test_the_checker_finds_each_kind_of_mistake():
    problems = check_markdown(FAKE, "fake.md")
    text = "\n".join(problems)
    expected = [
        "`blurvid extract` has no option --frobnicate",
        "benchmarks/bench_inference.py has no option --no-such-flag",
        "scripts/missing_script.py does not exist",
        "pip extra [nonsense] is not in pyproject.toml",
        "recipes/release-v0.2.toml's data_root is '../shared/data', outside the clone",
        "'val:../shared/data' is outside the clone",
        "examples/images/nope.png does not exist",
        "'photos:data/photos' needs the data",
        "`blurvid slowmo` has no option --factr",
        "`../shared/data/blurry` is CI's copy",
    ]
    for e in expected:
        assert e in text, f"missed: {e}\n{text}"
    assert len(problems) == len(expected), text  # and nothing else: the right commands pass


def test_the_checker_accepts_what_is_true():
    ok = """\
Get the data: `blurvid data download data/`.

```bash
blurvid eval --data val:data --model default --protocol paper
python benchmarks/bench_inference.py --sizes 1280x720 --depth 1 --repeats 5 --model default
scripts/release.sh recipes/release-v0.2.toml evaluate --data-root data
scripts/release.sh recipes/release-v0.2.toml status
pip install ".[train]" && pip install 'blurvid[demo]'
```

In CI the files are in `../shared/data`.
"""
    assert check_markdown(ok, "ok.md") == []


def test_full_parse_catches_a_bad_value():
    """In a real (fenced) command the parser checks values too: --depth takes an integer."""
    cmd = "```bash\nblurvid extract photo.jpg -o out/ --depth two\n```\n"
    (problem,) = check_markdown(cmd, "x.md")
    assert "rejects it" in problem and "--depth" in problem
    # a synopsis (an unmarked block) is only checked for its option names
    assert check_markdown(cmd.replace("```bash", "```"), "x.md") == []


def test_release_actions_come_from_the_driver():
    doc = "```bash\nblurvid data download data/\nscripts/release.sh recipes/release-v0.2.toml evaluat --data-root data\n```\n"
    (problem,) = check_markdown(doc, "x.md")
    assert "'evaluat' is not one of" in problem and "'evaluate'" in problem


def test_scripts_find_the_downloaded_data_first(tmp_path):
    """The scripts' data default: the checkout's data/ when it is there, else CI's copy beside
    the checkout, else data/ (so that the error names the folder to download into)."""
    from blurvid.data.download import default_data_dir

    checkout = tmp_path / "blurvid"
    checkout.mkdir()
    assert default_data_dir(checkout) == checkout / "data"  # neither: the one to download
    (tmp_path / "shared" / "data").mkdir(parents=True)
    assert default_data_dir(checkout) == tmp_path / "shared" / "data"  # CI's copy
    (checkout / "data").mkdir()
    assert default_data_dir(checkout) == checkout / "data"  # the downloaded data wins


def test_defaults_outside_the_clone_must_be_given(tmp_path):
    """A script whose option defaults to CI's ../shared must be given it; one that defaults to
    the data folder needs `blurvid data download` first (or the option)."""
    script = tmp_path / "bench.py"
    script.write_text(
        "import argparse\nfrom pathlib import Path\n"
        'SHARED = Path(__file__).parent.parent / "shared" / "data"\n'
        "ap = argparse.ArgumentParser()\n"
        'ap.add_argument("--data", default=str(SHARED))\n'
        'ap.add_argument("--root", default=default_data_dir(Path(".")))\n'
        'ap.add_argument("--mode", choices=("a", "b"))\n'
    )
    problems = check_script(str(script), ["--mode", "a"], data_ok=False)
    assert len(problems) == 2
    assert "pass --data; its default lies outside the clone" in problems[0]
    assert "reads the project's data (its --root default" in problems[1]
    assert check_script(str(script), ["--data", "data", "--root", "x"], data_ok=False) == []
    assert check_script(str(script), ["--data", "data"], data_ok=True) == []
    assert "has no option --mod" in check_script(str(script), ["--mod", "a"])[0]


def test_shell_script_arguments():
    """scripts/gpu_carry.sh: its first word is a case label; `prepare` copies from argument 2,
    whose default is CI's ../shared/data."""
    doc = "`blurvid data download data/`\n\n```bash\nscripts/gpu_carry.sh {}\n```\n"
    assert check_markdown(doc.format("prepare data"), "x.md") == []
    assert check_markdown(doc.format("shrink"), "x.md") == []
    (problem,) = check_markdown(doc.format("prepare"), "x.md")
    assert "give argument 2" in problem and "../shared/data" in problem
    (problem,) = check_markdown(doc.format("prepar data"), "x.md")
    assert "'prepar' is not one of" in problem
