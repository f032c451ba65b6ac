"""Set-level scores: the reference rows, gains over the input and the motion ratio.

:mod:`blurvid.metrics` scores each sample; this module holds what an evaluation table or a
training validation record makes of those scores, once for ``blurvid eval``
(:mod:`blurvid.evaluate`), training validation (:meth:`blurvid.train.loop.Trainer.validate`)
and the benchmarks:

* :func:`static_baselines` -- the two references every score is read against: **identity**
  (the blurry input repeated ``T`` times: a model below it is worse than doing nothing) and
  **oracle-static** (the true centre frame repeated ``T`` times: the best a pure deblurrer,
  one that adds no motion, can score);
* :func:`motion_ratio` -- how much a prediction moves, relative to the truth (1 = as much);
* :func:`predict_set` -- a model's frames for a whole set, in batches (what every one of
  these scores is computed on);
* :func:`validation_scores` -- the cheap scores of training validation (no SSIM or EPE):
  best-order PSNR over the frames and the centre frame's PSNR, their gains over the
  identity, the references and the motion ratio. ``blurvid train`` logs them with a
  ``val_`` prefix (``val_psnr``, ``val_centre_gain_db``, ...).

Any number of frames ``T`` (7 for the paper's G); the centre frame is ``T // 2``.

Examples:
    >>> import torch
    >>> true = torch.rand(2, 5, 3, 16, 16)
    >>> blurry = true.mean(dim=1)
    >>> s = validation_scores(true, true, blurry)  # a perfect prediction
    >>> s["psnr"], s["centre_psnr"], round(s["motion_ratio"], 6)
    (100.0, 100.0, 1.0)
    >>> s["centre_gain_db"] == 100.0 - s["centre_identity"]
    True
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from .errors import InvalidImageError
from .metrics import _check_pair, best_order_psnr, centre_psnr, sequence_motion

__all__ = [
    "motion_ratio",
    "predict_set",
    "reference_scores",
    "static_baselines",
    "validation_scores",
]


def _check_set(true: torch.Tensor, blurry: torch.Tensor, what: str) -> None:
    """``true`` ``(N, T, 3, H, W)`` and ``blurry`` ``(N, 3, H, W)`` of the same samples."""
    _check_pair(true, true, 5, "(N, T, 3, H, W)", what)
    if not isinstance(blurry, torch.Tensor) or tuple(blurry.shape) != (
        true.shape[0],
        *true.shape[2:],
    ):
        shape = tuple(blurry.shape) if isinstance(blurry, torch.Tensor) else type(blurry).__name__
        raise InvalidImageError(
            f"{what}: expected blurry of shape {(true.shape[0], *true.shape[2:])} (one image "
            f"per sample of the frames {tuple(true.shape)}), got {shape}"
        )


def predict_set(
    model: torch.nn.Module,
    blurry: torch.Tensor,
    batch_size: int = 16,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """A model's frames for a whole set: ``model`` in eval mode on ``batch_size`` images at a
    time, without gradients, each prediction as float32 clamped to ``[0, 1]`` and moved to
    the CPU. The model's train/eval mode is restored afterwards.

    Args:
        model: a generator, ``(B, 3, H, W) -> (B, T, 3, H, W)`` (e.g.
            :func:`blurvid.load_model`).
        blurry: ``(N, 3, H, W)`` inputs in ``[0, 1]``.
        batch_size: images per forward pass (>= 1).
        device: where the batches run (default: where ``blurry`` is).

    Returns:
        ``(N, T, 3, H, W)`` float32 on the CPU.

    Raises:
        InvalidImageError: if ``blurry`` is not ``(N, 3, H, W)`` with ``N >= 1``.
        ValueError: if ``batch_size < 1``.
    """
    if not isinstance(blurry, torch.Tensor) or blurry.ndim != 4 or blurry.shape[0] < 1:
        shape = tuple(blurry.shape) if isinstance(blurry, torch.Tensor) else type(blurry).__name__
        raise InvalidImageError(f"predict_set: expected blurry of shape (N, 3, H, W), got {shape}")
    if int(batch_size) < 1:
        raise ValueError(f"predict_set: batch_size must be >= 1, got {batch_size}")
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            return torch.cat(
                [
                    model(b.to(device) if device is not None else b).float().clamp(0, 1).cpu()
                    for b in blurry.split(int(batch_size))
                ]
            )
    finally:
        model.train(was_training)


def static_baselines(blurry: torch.Tensor, true: torch.Tensor) -> dict[str, torch.Tensor]:
    """The two reference predictions of every table: ``"identity"`` (the blurry input
    repeated ``T`` times) and ``"oracle_static"`` (the true centre frame, index ``T // 2``,
    repeated ``T`` times).

    The oracle's mean over the frames is inflated by its exact centre frame (100 dB, the
    cap); compare models with it on the outer frames. Compare a model's centre frame with
    the identity's: that is the deblurring itself.

    Args:
        blurry: ``(N, 3, H, W)`` blurry inputs.
        true: ``(N, T, 3, H, W)`` ground-truth frames of the same samples.

    Returns:
        ``{"identity": (N, T, 3, H, W), "oracle_static": (N, T, 3, H, W)}``, expanded views
        (no copy; call ``.contiguous()`` for a copy).

    Raises:
        InvalidImageError: if the shapes do not match.

    Examples:
        >>> true = torch.rand(1, 5, 3, 8, 8)
        >>> refs = static_baselines(true[:, 0], true)
        >>> bool((refs["oracle_static"][0, 0] == true[0, 2]).all()), refs["identity"].shape[1]
        (True, 5)
    """
    _check_set(true, blurry, "static_baselines")
    mid = true.shape[1] // 2
    return {
        "identity": blurry.unsqueeze(1).expand_as(true),
        "oracle_static": true[:, mid : mid + 1].expand_as(true),
    }


def motion_ratio(pred_motion: torch.Tensor, true_motion: torch.Tensor) -> float:
    """The motion of the predictions over the truth's, over a whole set: the ratio of the
    summed per-sample :func:`~blurvid.metrics.sequence_motion` (mean ``|first - last
    frame|``). 1: as much motion as the truth; 0: a static prediction; above 1: more.

    Args:
        pred_motion: ``(N,)`` :func:`~blurvid.metrics.sequence_motion` of the predictions
            (or their sums over batches of a streamed set).
        true_motion: ``(N,)`` the same of the ground truth.

    Returns:
        The ratio (a truth without any motion counts as ``1e-12``, so a static prediction
        of a static truth gives 0).

    Examples:
        >>> motion_ratio(torch.tensor([0.25, 0.5]), torch.tensor([0.25, 0.125]))
        2.0
    """
    pred_sum = float(torch.as_tensor(pred_motion, dtype=torch.float64).sum())
    true_sum = float(torch.as_tensor(true_motion, dtype=torch.float64).sum())
    return pred_sum / max(true_sum, 1e-12)


def reference_scores(blurry: torch.Tensor, true: torch.Tensor) -> dict[str, float]:
    """The references' part of :func:`validation_scores` (the same for every model on one
    set: compute it once and pass it as ``references``).

    Args:
        blurry: ``(N, 3, H, W)`` blurry inputs.
        true: ``(N, T, 3, H, W)`` ground-truth frames.

    Returns:
        ``{"identity", "oracle_static"}``: the mean :func:`~blurvid.metrics.best_order_psnr`
        of the :func:`static_baselines`; ``"centre_identity"``: the mean
        :func:`~blurvid.metrics.centre_psnr` of the identity (the blurry input against the
        true centre frame). All in dB.
    """
    refs = static_baselines(blurry, true)
    return {
        "identity": float(best_order_psnr(refs["identity"], true).mean()),
        "oracle_static": float(best_order_psnr(refs["oracle_static"], true).mean()),
        "centre_identity": float(centre_psnr(refs["identity"], true).mean()),
    }


def validation_scores(
    pred: torch.Tensor,
    true: torch.Tensor,
    blurry: torch.Tensor,
    references: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """The cheap scores of a set of predictions (no SSIM or EPE): what training validation
    logs (as ``val_<key>``) and the learning-speed benchmark plots.

    Args:
        pred: ``(N, T, 3, H, W)`` predicted frames in ``[0, 1]``.
        true: ``(N, T, 3, H, W)`` ground-truth frames.
        blurry: ``(N, 3, H, W)`` the blurry inputs.
        references: :func:`reference_scores` of ``(blurry, true)`` if already computed.

    Returns:
        Means over the samples, in this order (dB unless said):

        * ``"psnr"``: :func:`~blurvid.metrics.best_order_psnr` (the ``PAPER`` protocol's PSNR);
        * ``"centre_psnr"``: :func:`~blurvid.metrics.centre_psnr`;
        * ``"identity"``, ``"oracle_static"``, ``"centre_identity"``: :func:`reference_scores`;
        * ``"gain_db"``: ``psnr - identity``;
        * ``"centre_gain_db"``: ``centre_psnr - centre_identity``, the centre frame's gain
          over the blurry input (the deblurring, which motion cannot inflate);
        * ``"motion_ratio"``: :func:`motion_ratio` (a ratio, not dB).

    Raises:
        InvalidImageError: if the shapes do not match.
    """
    _check_set(true, blurry, "validation_scores")
    _check_pair(pred, true, 5, "(N, T, 3, H, W)", "validation_scores")
    refs = dict(references) if references is not None else reference_scores(blurry, true)
    out = {
        "psnr": float(best_order_psnr(pred, true).mean()),
        "centre_psnr": float(centre_psnr(pred, true).mean()),
        "identity": refs["identity"],
        "oracle_static": refs["oracle_static"],
        "centre_identity": refs["centre_identity"],
    }
    out["gain_db"] = out["psnr"] - out["identity"]
    out["centre_gain_db"] = out["centre_psnr"] - out["centre_identity"]
    out["motion_ratio"] = motion_ratio(sequence_motion(pred), sequence_motion(true))
    return out
