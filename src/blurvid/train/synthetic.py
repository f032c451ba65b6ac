"""Moved to :mod:`blurvid.data.shake` (synthetic camera shake is data, shared with evaluation).

This module re-exports its public names so that existing code keeps working; import them from
:mod:`blurvid.data` in new code.
"""

from ..data.base import item_generator, item_seed
from ..data.shake import (
    PYRAMID_LEVELS,
    Pyramid,
    ShakeConfig,
    build_pyramid,
    render_batch,
    render_item,
    render_shake,
)

__all__ = [
    "PYRAMID_LEVELS",
    "Pyramid",
    "ShakeConfig",
    "build_pyramid",
    "item_generator",
    "item_seed",
    "render_batch",
    "render_item",
    "render_shake",
]
