"""Figures of a zoo, for people (matplotlib): its tasks, fits, and the gradients an embedder sees.

In: a `Zoo`. Out: PNG files. `zoo.py` draws 1-D zoos and hands 2-D zoos to `zoo2d.py`.
"""

from __future__ import annotations

from netembench.plots.zoo import plot_zoo

__all__ = ["plot_zoo"]
