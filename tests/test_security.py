"""blurvid never unpickles: a scan of every module under ``src/blurvid``.

Unpickling a file runs code chosen by whoever wrote the file. blurvid reads weights from
safetensors only. The single allowed exception is
``blurvid.train.features.convert_torchvision_vgg19``, which reads torchvision's own VGG19
file once with ``torch.load(..., weights_only=True)`` (PyTorch's restricted unpickler) and
writes safetensors; the scan tolerates that module's absence.

The scan parses the code (``ast``), so a mention in a docstring or message does not count,
and an aliased import (``from torch import load as l``) does.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "blurvid"
ALLOWED_FILE = PACKAGE / "train" / "features.py"
ALLOWED_FUNCTION = "convert_torchvision_vgg19"

PICKLE_MODULES = {
    "pickle",
    "_pickle",
    "cPickle",
    "dill",
    "cloudpickle",
    "joblib",
    "shelve",
    "marshal",
}
# torch entry points that unpickle (torch.load; hub downloads go through torch.load)
TORCH_UNPICKLERS = {"load", "load_state_dict_from_url", "load_url"}


@dataclass
class Finding:
    path: Path
    line: int
    function: str | None
    what: str
    weights_only_true: bool = False

    def __str__(self) -> str:
        try:
            rel = self.path.relative_to(PACKAGE.parent.parent)
        except ValueError:
            rel = self.path
        return f"{rel}:{self.line} in {self.function or '<module>'}: {self.what}"


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


class Scanner(ast.NodeVisitor):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.findings: list[Finding] = []
        self.functions: list[str] = []
        self.aliases: dict[str, str] = {}  # local name -> "torch.load", "pickle", ...

    def _add(self, node: ast.AST, what: str, weights_only_true: bool = False) -> None:
        fn = self.functions[-1] if self.functions else None
        self.findings.append(Finding(self.path, node.lineno, fn, what, weights_only_true))

    def visit_FunctionDef(self, node):  # noqa: N802
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node):  # noqa: N802
        for alias in node.names:
            root = alias.name.split(".")[0]
            if root in PICKLE_MODULES:
                self._add(node, f"import {alias.name}")
            self.aliases[alias.asname or root] = alias.name if alias.asname else root
        self.generic_visit(node)

    def visit_ImportFrom(self, node):  # noqa: N802
        module = node.module or ""
        if module.split(".")[0] in PICKLE_MODULES:
            self._add(node, f"from {module} import ...")
        for alias in node.names:
            full = f"{module}.{alias.name}"
            if module.split(".")[0] == "torch" and alias.name in TORCH_UNPICKLERS:
                self._add(node, f"from {module} import {alias.name}")
            self.aliases[alias.asname or alias.name] = full
        self.generic_visit(node)

    def visit_Call(self, node):  # noqa: N802
        name = _dotted(node.func)
        head, _, rest = name.partition(".")
        full = self.aliases.get(head, head) + (f".{rest}" if rest else "")
        parts = full.split(".")
        if parts[0] == "torch" and parts[-1] in TORCH_UNPICKLERS:
            weights_only = any(
                k.arg == "weights_only"
                and isinstance(k.value, ast.Constant)
                and k.value.value is True
                for k in node.keywords
            )
            self._add(node, f"call {full}()", weights_only)
        elif parts[0] in PICKLE_MODULES:
            self._add(node, f"call {full}()")
        elif parts[-1] == "load" and any(
            k.arg == "allow_pickle"
            and not (isinstance(k.value, ast.Constant) and k.value.value is False)
            for k in node.keywords
        ):
            self._add(node, f"call {full}(allow_pickle=...)")
        self.generic_visit(node)


def scan(path: Path) -> list[Finding]:
    scanner = Scanner(path)
    scanner.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return scanner.findings


def is_allowed(f: Finding) -> bool:
    return (
        f.path == ALLOWED_FILE
        and f.function == ALLOWED_FUNCTION
        and f.what.startswith("call torch.load(")
        and f.weights_only_true
    )


def test_the_package_is_there():
    files = list(PACKAGE.rglob("*.py"))
    assert PACKAGE / "hub.py" in files and len(files) >= 8


def test_no_unpickling_anywhere_but_the_vgg19_converter():
    findings = [f for path in sorted(PACKAGE.rglob("*.py")) for f in scan(path)]
    bad = [str(f) for f in findings if not is_allowed(f)]
    assert bad == [], "pickle / torch.load found:\n" + "\n".join(bad)
    allowed = [f for f in findings if is_allowed(f)]
    assert len(allowed) <= 1, [str(f) for f in allowed]


def test_the_converter_uses_weights_only_if_present():
    if not ALLOWED_FILE.is_file():
        pytest.skip("blurvid/train/features.py is not there (yet)")
    calls = [f for f in scan(ALLOWED_FILE) if f.what.startswith("call torch.load(")]
    assert all(f.function == ALLOWED_FUNCTION and f.weights_only_true for f in calls), [
        str(f) for f in calls
    ]


# ----- the scanner itself must catch what it is meant to catch
@pytest.mark.parametrize(
    "code, caught",
    [
        ("import torch\ntorch.load('x')", True),
        ("import torch\ntorch.load('x', weights_only=False)", True),
        ("import torch as t\nt.load('x')", True),
        ("from torch import load\n", True),
        ("from torch import load as l\nl('x')", True),
        ("import pickle\n", True),
        ("import pickle as p\np.loads(b'')", True),
        ("from pickle import loads\n", True),
        ("import joblib\n", True),
        ("import torch\ntorch.hub.load_state_dict_from_url('u')", True),
        ("import numpy as np\nnp.load('x', allow_pickle=True)", True),
        ("import numpy as np\nnp.load('x')", False),
        ("'''torch.load(x) and import pickle in a docstring'''\n", False),
        ("msg = 'use torch.load(weights_only=True)'\n", False),
        ("from safetensors.torch import load_file\nload_file('x')", False),
        ("import torch\nm = torch.nn.Module()\nm.load_state_dict({})", False),
    ],
)
def test_scanner(tmp_path, code, caught):
    path = tmp_path / "mod.py"
    path.write_text(code)
    assert bool(scan(path)) is caught


def test_scanner_allows_only_the_converter_with_weights_only(tmp_path):
    ok = "import torch\ndef convert_torchvision_vgg19(src):\n    return torch.load(src, weights_only=True)\n"
    findings = scan(_write(tmp_path, ok))
    assert len(findings) == 1 and findings[0].weights_only_true
    # the same call elsewhere, or without weights_only=True, is not allowed
    f = findings[0]
    assert not is_allowed(f)  # wrong file
    f.path = ALLOWED_FILE
    assert is_allowed(f)
    f.weights_only_true = False
    assert not is_allowed(f)
    f.weights_only_true, f.function = True, "other"
    assert not is_allowed(f)


def _write(tmp_path: Path, code: str) -> Path:
    path = tmp_path / "features.py"
    path.write_text(code)
    return path
