"""Fixed facts about MANO and FreiHAND's keypoint convention (see docs/CONVENTIONS.md)."""

from __future__ import annotations

NUM_VERTICES = 778
NUM_FACES = 1538
NUM_JOINTS = 16  # MANO kinematic joints: wrist + 5 fingers x 3
NUM_KEYPOINTS = 21  # FreiHAND / OpenPose hand keypoints
NUM_BETAS = 10
NUM_POSE_PARAMS = 45  # 15 finger joints x axis-angle

# MANO joint order: 0 wrist, 1-3 index, 4-6 middle, 7-9 pinky, 10-12 ring, 13-15 thumb.
MANO_JOINT_NAMES = (
    "wrist",
    "index1", "index2", "index3",
    "middle1", "middle2", "middle3",
    "pinky1", "pinky2", "pinky3",
    "ring1", "ring2", "ring3",
    "thumb1", "thumb2", "thumb3",
)  # fmt: skip
MANO_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)

# Fingertip vertex ids used by FreiHAND's ground truth (thumb, index, middle, ring, pinky).
# smplx uses 554/671 and manopth 745/317/444/556/673: both disagree with FreiHAND.
FREIHAND_TIP_VERTEX_IDS = (744, 320, 443, 555, 672)

# Rows of [J16, tips5] (21 rows) -> FreiHAND / OpenPose keypoint order.
FREIHAND_KEYPOINT_ORDER = (0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20)

# FreiHAND keypoint order: 0 wrist; 1-4 thumb; 5-8 index; 9-12 middle; 13-16 ring; 17-20 pinky.
KEYPOINT_NAMES = (
    "wrist",
    "thumb1", "thumb2", "thumb3", "thumb4",
    "index1", "index2", "index3", "index4",
    "middle1", "middle2", "middle3", "middle4",
    "ring1", "ring2", "ring3", "ring4",
    "pinky1", "pinky2", "pinky3", "pinky4",
)  # fmt: skip
KEYPOINT_PARENTS = (-1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19)
ROOT_KEYPOINT = 9  # middle-finger MCP: FreiHAND's uv_root / scale refer to it
BONE_KEYPOINTS = (9, 10)  # training_scale.json holds |xyz[9] - xyz[10]|

# FreiHAND training images: image id = idx + FREIHAND_TRAIN_UNIQUE * version.
FREIHAND_TRAIN_UNIQUE = 32560
FREIHAND_EVAL_SIZE = 3960
FREIHAND_VERSIONS = ("gs", "hom", "sample", "auto")
