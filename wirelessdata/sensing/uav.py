"""A hovering UAV (drone) that carries sensors with ``mount = "uav"``: one fixed pose above the scene for every sample.

The UAV stands at ``position_m`` (x, y) of the scene frame, ``height_m`` above the ground below it (the lowest
surface of the scene at that point), and its sensors share one orientation: yaw ``heading_deg`` (from +x
counter-clockwise) and pitch ``pitch_deg`` (the sensors' x axis tilted downwards; 90 looks straight down), roll 0.
Where the ground lies and whether the UAV is in the open is up to the scene (the generator checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wirelessdata.checks import fail, number
from wirelessdata.sensing import Pose, SensorParams


@dataclass(frozen=True)
class UavParams(SensorParams):
    """Hover pose of the UAV.

    :param position_m: (x, y) [m], scene frame; `None` for the centre of the UE region (or of the scene)
    :param height_m: Height above the ground below the UAV [m], > 0
    :param heading_deg: Yaw of the sensors [deg], from +x counter-clockwise
    :param pitch_deg: Downward tilt of the sensors' x axis [deg], 0 (level) to 90 (straight down)
    """

    FIELD = "uav"
    position_m: tuple[float, float] | None = None
    height_m: float = 40.0
    heading_deg: float = 0.0
    pitch_deg: float = 45.0

    def __post_init__(self) -> None:
        if self.position_m is not None:
            if not (isinstance(self.position_m, tuple) and len(self.position_m) == 2):
                fail("uav.position_m", f"{self.position_m!r} is not (x, y)", "[x, y] in m, or omit it for the centre")
            object.__setattr__(self, "position_m", tuple(float(number("uav.position_m", v)) for v in self.position_m))
        if not number("uav.height_m", self.height_m) > 0:
            fail("uav.height_m", f"{self.height_m!r} is not positive", "a height above the ground > 0 m")
        number("uav.heading_deg", self.heading_deg)
        if not 0 <= number("uav.pitch_deg", self.pitch_deg) <= 90:
            fail("uav.pitch_deg", f"{self.pitch_deg!r} is out of range", "0 <= pitch_deg <= 90 (90: straight down)")


def pose(params: UavParams, position: np.ndarray) -> Pose:
    """The pose of the UAV's sensors at ``position``.

    :param params: UAV settings (the orientation)
    :param position: [3], m, scene frame (where the generator placed the UAV)
    """
    return Pose(np.asarray(position, dtype=np.float64), np.deg2rad([0.0, params.pitch_deg, params.heading_deg]))
