"""Tracks: what each canonical zoo is scored on (main score, extras) and with which probe protocol.

1-D tracks use protocol v1; the 2-D tracks use protocol v2 (DESIGN §13) at their own probe-set
size. A zoo without a track (a user's spec) gets the default scores and the protocol of its input
dimension.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netembench.eval.hostprobes import HOST_PROTOCOL
from netembench.eval.probes import PROTOCOL_V1, Protocol, protocol_v2

# 2-D probe-set size and budget curve. N = 128: on poly2d-fine the best gradient baseline (potential
# reconstruction) still gains from 64 to 128 points and little beyond; see the README's budget table.
N_POINTS_2D = 128
BUDGETS_2D = (16, 32, 64, 128, 256)


@dataclass(frozen=True)
class Track:
    """What a zoo is scored on: its main score, the track-specific extras, and its protocol."""

    main: str = "probe_accuracy"
    probe: bool = True  # a linear probe for the task (poly-many has 2 train models per task: retrieval)
    coarse: bool = False  # coarse (family) probe accuracy
    retrieval: bool = False  # retrieval recall@1 and coefficient R^2 on unseen tasks
    per_arch: bool = False  # probe accuracy per test architecture
    protocol: Protocol = field(default=PROTOCOL_V1)


PROTOCOL_2D = protocol_v2(2, N_POINTS_2D, BUDGETS_2D)
TRACKS = {
    "poly-seed": Track(),
    "poly-fine": Track(coarse=True),
    # A 1000-way probe fitted on 2 models per task measures what retrieval does, at 66 of the
    # suite's 81 seconds (harness 1.1 dropped it).
    "poly-many": Track(main="retrieval_recall_at_1", probe=False, retrieval=True),
    "poly-xarch": Track(main="arch_probe_accuracy", per_arch=True),
    "poly2d-seed": Track(protocol=PROTOCOL_2D),
    "poly2d-fine": Track(coarse=True, protocol=PROTOCOL_2D),
    # Components of host networks (DESIGN §16): x = activations entering the component.
    "host-seed": Track(protocol=HOST_PROTOCOL),
    "host-fine": Track(coarse=True, protocol=HOST_PROTOCOL),
}
# The suite score is the mean of these main scores (the 1-D tracks, as since harness 1.0).
SUITE_TRACKS = ("poly-seed", "poly-fine", "poly-many", "poly-xarch")


def track_for(name: str, dim: int) -> Track:
    """The track of a zoo named `name` whose models have `dim` inputs."""
    if name in TRACKS:
        return TRACKS[name]
    return Track() if dim == 1 else Track(protocol=protocol_v2(dim, N_POINTS_2D, BUDGETS_2D))
