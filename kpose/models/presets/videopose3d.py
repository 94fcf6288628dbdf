"""VideoPose3D and SimpleBaseline3D (2D-to-3D lifting) presets: plain data.

Each preset is MMPose's config of the same name (body_3d_keypoint/video_pose_lift and
image_pose_lift on Human3.6M): the architecture as Keras-serialised configs (arguments
left out take their defaults), the estimator's options and metadata. Build one with
`kpose.models.PoseLifter.from_preset(name, weights=...)`; weights are not downloaded:
pass a local MMPose checkpoint (`metadata["mmpose_checkpoint"]` says which).
"""

# Human3.6M's left/right partners (kpose.datasets.metainfo h36m.py).
_H36M_FLIP_INDICES = [0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13]
_ZOO = "https://download.openmmlab.com/mmpose/body3d/"

# ImagePoseLifting statistics of MMPose's image-pose-lift config (from its
# joint3d_rel_stats.pkl and joint2d_stats.pkl): 3D targets relative to the root without
# the root (metres), 2D keypoints in pixels.
TARGET_MEAN = [
    [-0.000255652589, -0.0071196057, -0.000981433052],
    [-0.00565463051, 0.319636009, 0.0719329269],
    [-0.010170584, 0.691147892, 0.155352986],
    [0.000255651315, 0.00711954606, 0.000981423866],
    [-0.0050972978, 0.327040413, 0.0722258095],
    [-0.00999656606, 0.708277383, 0.158016408],
    [0.00290583676, -0.211363307, -0.0474210915],
    [0.00567537804, -0.435088906, -0.0976974016],
    [0.00593884964, -0.49189197, -0.110666618],
    [0.00737352083, -0.583948619, -0.1311714],
    [0.00541920653, -0.383931702, -0.0868145417],
    [0.00295964662, -0.187567488, -0.0434536934],
    [0.00126585822, -0.120170579, -0.0282526049],
    [0.00467186639, -0.383644089, -0.0855125784],
    [0.00167648571, -0.197007177, -0.0431368364],
    [0.000870569015, -0.168664569, -0.0373902498],
]

TARGET_STD = [
    [0.11072244, 0.02238818, 0.07246294],
    [0.15856311, 0.18933832, 0.20880479],
    [0.19179935, 0.24320062, 0.24756193],
    [0.11072181, 0.02238805, 0.07246253],
    [0.15880454, 0.19977188, 0.2147063],
    [0.18001944, 0.25052739, 0.24853247],
    [0.05210694, 0.05211406, 0.06908241],
    [0.09515367, 0.10133032, 0.12899733],
    [0.11742458, 0.12648469, 0.16465091],
    [0.12360297, 0.13085539, 0.16433336],
    [0.14602232, 0.09707956, 0.13952731],
    [0.24347532, 0.12982249, 0.20230181],
    [0.2446877, 0.21501816, 0.23938235],
    [0.13876084, 0.1008926, 0.1424411],
    [0.23687529, 0.14491219, 0.20980829],
    [0.24400695, 0.23975028, 0.25520584],
]

KEYPOINTS_MEAN = [
    [532.08351635, 419.74137558],
    [531.80953144, 418.2607141],
    [530.68456967, 493.54259285],
    [529.36968722, 575.96448516],
    [532.29767646, 421.28483336],
    [531.93946631, 494.72186795],
    [529.71984447, 578.96110365],
    [532.93699382, 370.65225054],
    [534.1101856, 317.90342311],
    [534.55416813, 304.24143901],
    [534.86955004, 282.31030885],
    [534.11308566, 330.11296796],
    [533.53637525, 376.2742511],
    [533.49380107, 391.72324565],
    [533.52579142, 330.09494668],
    [532.50804964, 374.190479],
    [532.72786934, 380.61615716],
]

KEYPOINTS_STD = [
    [107.73640054, 63.35908715],
    [119.00836213, 64.1215443],
    [119.12412107, 50.53806215],
    [120.61688045, 56.38444891],
    [101.95735275, 62.89636486],
    [106.24832897, 48.41178119],
    [108.46734966, 54.58177071],
    [109.07369806, 68.70443672],
    [111.20130351, 74.87287863],
    [111.63203838, 77.80542514],
    [113.22330788, 79.90670556],
    [105.7145833, 73.27049436],
    [107.05804267, 73.93175781],
    [107.97449418, 83.30391802],
    [121.60675105, 74.25691526],
    [134.34378973, 77.48125087],
    [131.79990652, 89.86721124],
]


def _params(in_channels, stem, kernel_sizes, out_keypoints):
    """Trainable parameters (MMPose's count): convolutions without bias, batch-norm
    scales and offsets, the head's convolution with bias."""
    count = in_channels * stem * kernel_sizes[0] + 2 * stem
    for k in kernel_sizes[1:]:
        count += stem * stem * k + 2 * stem + stem * stem + 2 * stem
    return count + stem * out_keypoints * 3 + out_keypoints * 3


def _videopose3d(frames, kernel_sizes, checkpoint, mpjpe, p_mpjpe):
    config = f"video-pose-lift_tcn-{frames}frm-supv_8xb128-160e_h36m"
    return {
        "metadata": {
            "description": f"VideoPose3D, {frames} frames: a temporal convolutional network "
            f"(strided convolutions, kernel sizes {list(kernel_sizes)}, 1024 channels) "
            "lifting the centre frame of Human3.6M 2D keypoint sequences (screen "
            "coordinates) to root-relative 3D keypoints; supervised, MPJPE loss.",
            "family": "videopose3d",
            "estimator_class": "PoseLifter",
            "dataset": "h36m",
            "keypoint_spec": "h36m",
            "num_keypoints": 17,
            "seq_len": frames,
            "params": _params(34, 1024, kernel_sizes, 17),
            "mmpose_config": f"body_3d_keypoint/video_pose_lift/h36m/{config}.py",
            "mmpose_checkpoint": _ZOO + "videopose/" + checkpoint,
            "h36m_mpjpe": mpjpe,
            "h36m_p_mpjpe": p_mpjpe,
        },
        "backbone": {
            "class_name": "kpose>TCN",
            "config": {
                "in_channels": 34,
                "stem_channels": 1024,
                "num_blocks": len(kernel_sizes) - 1,
                "kernel_sizes": list(kernel_sizes),
                "dropout": 0.25,
                "use_stride_conv": True,
            },
        },
        "head": {
            "class_name": "kpose>TemporalRegressionHead",
            "config": {"in_channels": 1024, "num_keypoints": 17},
        },
        "codec": {
            "class_name": "kpose>VideoPoseLifting",
            "config": {"num_keypoints": 17, "zero_center": True, "root_index": 0,
                       "remove_root": False},
        },
        # MMPose's config has `MPJPELoss()` without target weights: the same loss when
        # every target is visible (Human3.6M), and missing targets are left out here.
        "loss": {"class_name": "kpose>MPJPELoss", "config": {"use_target_weight": True}},
        "estimator": {"flip_indices": _H36M_FLIP_INDICES, "flip_test": False},
    }


def _simplebaseline3d():
    config = "image-pose-lift_tcn_8xb64-200e_h36m"
    return {
        "metadata": {
            "description": "SimpleBaseline3D: one frame of Human3.6M 2D keypoints "
            "(standardised pixels) lifted to root-relative 3D keypoints (standardised, "
            "root removed) by a TCN of 1-frame kernels (a residual MLP, 1024 channels, "
            "dropout 0.5); MSE loss.",
            "family": "simplebaseline3d",
            "estimator_class": "PoseLifter",
            "dataset": "h36m",
            "keypoint_spec": "h36m",
            "num_keypoints": 17,
            "seq_len": 1,
            "params": _params(34, 1024, (1, 1, 1), 16),
            "mmpose_config": f"body_3d_keypoint/image_pose_lift/h36m/{config}.py",
            "mmpose_checkpoint": (
                _ZOO + "simple_baseline/simple3Dbaseline_h36m-f0ad73a4_20210419.pth"
            ),
            "h36m_mpjpe": 43.4,
            "h36m_p_mpjpe": 34.3,
        },
        "backbone": {
            "class_name": "kpose>TCN",
            "config": {
                "in_channels": 34,
                "stem_channels": 1024,
                "num_blocks": 2,
                "kernel_sizes": [1, 1, 1],
                "dropout": 0.5,
            },
        },
        "head": {
            "class_name": "kpose>TemporalRegressionHead",
            "config": {"in_channels": 1024, "num_keypoints": 16},
        },
        "codec": {
            "class_name": "kpose>ImagePoseLifting",
            "config": {
                "num_keypoints": 17,
                "root_index": 0,
                "remove_root": True,
                "target_mean": TARGET_MEAN,
                "target_std": TARGET_STD,
                "keypoints_mean": KEYPOINTS_MEAN,
                "keypoints_std": KEYPOINTS_STD,
            },
        },
        # MMPose's config has `MSELoss()` without target weights: the same loss when
        # every target is visible (Human3.6M), and missing targets are left out here.
        "loss": {"class_name": "kpose>MSELoss", "config": {"use_target_weight": True}},
        "estimator": {"flip_indices": _H36M_FLIP_INDICES, "flip_test": False},
    }


PRESETS = {
    "videopose3d-27frm_h36m": _videopose3d(
        27, (3, 3, 3), "videopose_h36m_27frames_fullconv_supervised-fe8fbba9_20210527.pth",
        40.0, 30.1,
    ),
    "videopose3d-81frm_h36m": _videopose3d(
        81, (3, 3, 3, 3), "videopose_h36m_81frames_fullconv_supervised-1f2d1104_20210527.pth",
        38.9, 29.2,
    ),
    "videopose3d-243frm_h36m": _videopose3d(
        243, (3, 3, 3, 3, 3),
        "videopose_h36m_243frames_fullconv_supervised-880bea25_20210527.pth", 37.6, 28.3,
    ),
    "simplebaseline3d_h36m": _simplebaseline3d(),
}
