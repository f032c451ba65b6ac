"""The public surface of ``blurvid`` is small and frozen: ``__all__`` and the signatures of
the public functions match ``tests/api_surface.json``. A change here is a change for users:
update the JSON on purpose (``python tests/test_api_surface.py --update``) and add a
CHANGELOG line. Also: ``import blurvid`` stays light (no training code, OpenCV or PyAV).
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

import blurvid

SURFACE = Path(__file__).with_name("api_surface.json")
SIGNED = [
    "choose_order",
    "extract_frames",
    "interpolate_recursive",
    "load_model",
    "num_recursive_frames",
    "slow_motion",
]


def _signature(func) -> str:
    """Names, kinds and defaults of the parameters (annotations left out: their spelling may
    change without changing the surface)."""
    sig = inspect.signature(func)
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


def current_surface() -> dict:
    return {
        "blurvid.__all__": list(blurvid.__all__),
        "signatures": {name: _signature(getattr(blurvid, name)) for name in SIGNED},
    }


def test_all_matches_the_stored_list():
    stored = json.loads(SURFACE.read_text())
    assert blurvid.__all__ == stored["blurvid.__all__"], (
        "blurvid.__all__ changed; if on purpose, run `python tests/test_api_surface.py --update`"
    )


def test_signatures_match_the_stored_ones():
    stored = json.loads(SURFACE.read_text())
    assert current_surface()["signatures"] == stored["signatures"]


def test_all_is_sorted_unique_and_importable():
    names = blurvid.__all__
    assert names == sorted(names) and len(set(names)) == len(names)
    for name in names:
        assert hasattr(blurvid, name), name
    # nothing public is missing from __all__ (modules and privates excluded)
    public = {
        n for n, v in vars(blurvid).items() if not n.startswith("_") and not inspect.ismodule(v)
    }
    assert public <= set(names) | {"annotations"}


def test_public_objects_are_documented():
    for name in blurvid.__all__:
        if name == "__version__":
            continue
        assert inspect.getdoc(getattr(blurvid, name)), f"{name} has no docstring"


def test_errors_derive_from_builtin_types():
    assert issubclass(blurvid.InvalidImageError, (blurvid.BlurvidError, ValueError))
    assert issubclass(blurvid.InvalidImageError, ValueError)
    assert issubclass(blurvid.ConfigError, ValueError)
    assert issubclass(blurvid.WeightsError, ValueError)
    assert issubclass(blurvid.WeightsNotFoundError, FileNotFoundError)
    assert issubclass(blurvid.HubError, blurvid.WeightsNotFoundError)
    assert issubclass(blurvid.OutputExistsError, FileExistsError)
    assert issubclass(blurvid.DependencyError, ImportError)
    assert issubclass(blurvid.PlaceholderWeightsWarning, UserWarning)
    for name in blurvid.__all__:
        obj = getattr(blurvid, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and not issubclass(obj, Warning):
            assert issubclass(obj, blurvid.BlurvidError), name


def test_version_is_a_pep440_string():
    assert isinstance(blurvid.__version__, str)
    assert blurvid.__version__[0].isdigit() and blurvid.__version__.count(".") >= 2


@pytest.mark.slow
def test_import_is_light(python, subprocess_env):
    code = (
        "import sys, blurvid; "
        "[getattr(blurvid, n) for n in blurvid.__all__]; "  # the lazy names, loaded
        "heavy = [m for m in ('blurvid.train', 'blurvid.evaluate', 'blurvid.metrics', 'cv2', 'av', "
        "'torchvision', 'skimage', 'blurvid.flow') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    res = subprocess.run(
        [python, "-c", code], env=subprocess_env, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "", f"import blurvid imported {res.stdout.strip()}"


if __name__ == "__main__":  # pragma: no cover
    if "--update" in sys.argv:
        SURFACE.write_text(json.dumps(current_surface(), indent=2) + "\n")
        print(f"wrote {SURFACE}")
