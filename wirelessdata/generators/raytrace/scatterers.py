"""Scatterer labels: the interaction points of the traced paths (Sionna RT ``Paths.vertices``) with their kind
(``Paths.interactions``), path and bounce, per drop up to a capacity, then concatenated into the ragged variables of
the ``scatterers`` modality (in the scene frame and, with a LiDAR, in the sample's LiDAR frame)."""

from __future__ import annotations

from typing import Any

import numpy as np

from wirelessdata.sensing import Pose

KINDS = {1: "specular reflection", 2: "diffuse reflection", 4: "refraction", 8: "diffraction"}
"""Codes of ``scatterer_kind``: Sionna RT's ``InteractionType`` values (``NONE`` = 0 marks unused depths)."""

PER_DROP = ("scatterer_points", "scatterer_kind", "scatterer_path", "scatterer_depth")
"""Per-drop padded arrays of :func:`path_scatterers`, in the order of their ragged variables."""


def path_scatterers(paths: Any, capacity: int) -> dict[str, np.ndarray]:
    """Interaction points of each receiver's valid paths (synthetic arrays), strongest path first, whole paths only.

    A path's rank is its place among the receiver's valid paths by power (mean over the antennas, 0: strongest);
    line-of-sight paths have no points. Paths whose points would exceed ``capacity`` are left out (the weakest).

    :param paths: Sionna RT ``Paths`` of m receivers and one transmitter
    :param capacity: Most points C kept per receiver
    :output scatterers: ``scatterer_points`` [m, C, 3] float32 m scene frame (NaN padding), ``scatterer_kind``
        [m, C] uint8 (:data:`KINDS`, 0 padding), ``scatterer_path`` [m, C] int32 (path rank), ``scatterer_depth``
        [m, C] uint8 (1: first interaction from the BS), ``scatterer_count`` [m] int64 (points kept)
    """
    valid = paths.valid.numpy()[:, 0].astype(bool)  # [m, P]
    m = valid.shape[0]
    out = {
        "scatterer_points": np.full((m, capacity, 3), np.nan, np.float32),
        "scatterer_kind": np.zeros((m, capacity), np.uint8),
        "scatterer_path": np.zeros((m, capacity), np.int32),
        "scatterer_depth": np.zeros((m, capacity), np.uint8),
        "scatterer_count": np.zeros(m, np.int64),
    }
    if valid.shape[-1] == 0 or paths.interactions.shape[0] == 0:
        return out
    a_re, a_im = (x.numpy() for x in paths.a)  # [m, rx_ant, tx, tx_ant, P]
    power = (a_re**2 + a_im**2)[:, :, 0].mean(axis=(1, 2))  # [m, P]
    kinds = paths.interactions.numpy()[:, :, 0]  # [D, m, P]
    vertices = paths.vertices.numpy()[:, :, 0]  # [D, m, P, 3]
    for i in range(m):
        order = np.flatnonzero(valid[i])
        order = order[np.argsort(-power[i, order], kind="stable")]
        used = kinds[:, i, order].T != 0  # [Pv, D]
        keep = np.cumsum(used.sum(axis=1)) <= capacity  # a prefix: whole paths, strongest first
        used &= keep[:, None]
        n = int(used.sum())
        rank, bounce = np.nonzero(used)  # path-major, then depth
        out["scatterer_points"][i, :n] = vertices[bounce, i, order[rank]]
        out["scatterer_kind"][i, :n] = kinds[bounce, i, order[rank]]
        out["scatterer_path"][i, :n] = rank
        out["scatterer_depth"][i, :n] = bounce + 1
        out["scatterer_count"][i] = n
    return out


def ragged_scatterers(per_drop: dict[str, np.ndarray], sensed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The ``scatterers`` variables of a block from the padded arrays of :func:`path_scatterers`.

    :param per_drop: :func:`path_scatterers`'s arrays of the block's n drops
    :param sensed: The block's sensor arrays; with ``lidar_pos`` and ``lidar_orientation`` [n, 3] the points are
        also given in each sample's LiDAR frame
    :output arrays: ``scatterer_points`` [N, 3], ``scatterer_kind``, ``scatterer_path``, ``scatterer_depth`` [N]
        (N: sum of the counts), ``scatterer_count`` [n] int64, with a LiDAR ``scatterer_points_lidar`` [N, 3]
        float32 m
    """
    count = per_drop["scatterer_count"]
    keep = np.arange(per_drop["scatterer_kind"].shape[1])[None, :] < count[:, None]  # [n, C]
    arrays = {name: per_drop[name][keep] for name in PER_DROP}
    arrays["scatterer_count"] = count.copy()
    if "lidar_pos" in sensed:
        sample = np.repeat(np.arange(len(count)), count)
        local = np.empty_like(arrays["scatterer_points"])
        for i in range(len(count)):
            pose = Pose(sensed["lidar_pos"][i].astype(np.float64), sensed["lidar_orientation"][i].astype(np.float64))
            local[sample == i] = pose.to_sensor(arrays["scatterer_points"][sample == i])
        arrays["scatterer_points_lidar"] = local
    return arrays
