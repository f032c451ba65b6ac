"""Training for blurvid: the paper's three stages on one weight-shared G.

Imported on demand only (``import blurvid`` does not load it). The pieces:

* :mod:`blurvid.train.losses` -- one function per equation (Eq. 1-8);
* :mod:`blurvid.train.features` -- VGG19 features for Eq. 1 and Eq. 6-7;
* :mod:`blurvid.train.texture` -- a fixed oriented filter bank, the weight-free Gram features;
* :mod:`blurvid.train.discriminator` -- D of Eq. 3;
* :mod:`blurvid.train.data` -- sample banks, mixing, loaders and the ``--data`` specs (the
  datasets themselves, synthetic shake and the fixed validation set are in
  :mod:`blurvid.data`, shared with evaluation);
* :mod:`blurvid.train.stages` -- one object per stage (base, gram, hepta): its inputs and loss;
* :mod:`blurvid.train.loop` -- :class:`Trainer` (stage-agnostic), :func:`train`, :func:`finetune`;
* :mod:`blurvid.train.config` -- :class:`TrainConfig`, the one source of truth.

Command line: ``blurvid train --stage base|gram|hepta|all --data ... --out runs/x [--resume]``.
"""

from typing import Any

from .config import STAGES, TrainConfig

__all__ = ["STAGES", "TrainConfig", "Trainer", "finetune", "train"]


def __getattr__(name: str) -> Any:
    """``Trainer``, ``finetune`` and ``train`` import the training loop on first use, so that
    ``blurvid export`` or ``blurvid train --help`` do not pay for it."""
    if name in ("Trainer", "finetune", "train"):
        from . import loop

        return getattr(loop, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
