"""Run the docstring examples of the installed package (known answers in the docs)."""

import doctest
import importlib
import warnings

import pytest

MODULES = [
    "blurvid.api",
    "blurvid.colour",
    "blurvid.errors",
    "blurvid.export",
    "blurvid.flow",
    "blurvid.hub",
    "blurvid.metrics",
    "blurvid.model",
    "blurvid.order",
    "blurvid.scores",
    "blurvid.video",
    "blurvid.train.losses",
    "blurvid.train.features",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = doctest.testmod(
            module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
        )
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
