"""Training and validation `tf.data` pipelines of a lifting recipe: Human3.6M-layout
files -> windows of 2D keypoints with their 3D target -> flip -> `(x, y)` batches."""

import os

import tensorflow as tf

from kpose.datasets import Human36mDataset
from kpose.datasets.metainfo import load_keypoint_spec
from kpose.datasets.transforms.pose3d import RandomFlipAroundRoot

X_KEYS = ("keypoints", "keypoints_visible", "image_size")
Y_KEYS = ("lifting_target", "lifting_target_visible")
TRAIN_FILE = os.path.join("annotation_body3d", "fps50", "h36m_train.npz")
TEST_FILE = os.path.join("annotation_body3d", "fps50", "h36m_test.npz")
CAMERA_FILE = os.path.join("annotation_body3d", "cameras.json")


def split_lifting_sample(sample):
    """A lifting sample (or batch) dict -> `(x, y)` as `PoseLifter` takes them."""
    return {k: sample[k] for k in X_KEYS}, {k: sample[k] for k in Y_KEYS}


def lifting_flip(keypoint_spec="h36m", flip_prob=0.5):
    """The lifting recipes' flip: 2D mirrored about the image centre (`x -> w - x`, the
    mirror the flip test applies, `n -> -n` in the codec's coordinates) and the 3D
    target about its root joint, left and right swapped.

    MMPose's VideoPose3D configs keep `RandomFlipAroundRoot`'s default 2D centre
    `x_c = 0.5`, which on pixel keypoints maps x to `1 - x`: the flipped sequence lies
    outside the image, shifted by -2 in the codec's coordinates. kpose mirrors inside the
    image instead (`center_mode="image_center"`); `RandomFlipAroundRoot` with
    `keypoints_flip_cfg={}` reproduces MMPose's numbers exactly."""
    spec = load_keypoint_spec(keypoint_spec) if isinstance(keypoint_spec, str) else keypoint_spec
    return RandomFlipAroundRoot(
        spec.flip_indices,
        keypoints_flip_cfg={"center_mode": "image_center"},
        target_flip_cfg={"center_mode": "root", "center_index": 0},
        flip_prob=flip_prob,
    )


def _reader(data_root, ann_file, seq_len, causal, seq_step, keypoint_2d_src,
            keypoint_2d_det_file, camera_param_file, allow_pickle, subjects, actions):
    return Human36mDataset(
        ann_file, data_root=data_root, seq_len=seq_len, seq_step=seq_step, causal=causal,
        pad_video_seq=True, keypoint_2d_src=keypoint_2d_src,
        keypoint_2d_det_file=keypoint_2d_det_file,
        camera_param_file=camera_param_file or CAMERA_FILE, allow_pickle=allow_pickle,
        subjects=subjects, actions=actions,
    )


def lifting_train_data(
    data_root, seq_len, batch_size, seed=0, causal=False, seq_step=1, flip=True,
    ann_file=TRAIN_FILE, keypoint_2d_src="gt", keypoint_2d_det_file=None,
    camera_param_file=None, allow_pickle=False, subjects=None, actions=None,
):
    """`(dataset, batches)`: the Human3.6M reader (MMPose's padded windows, one per
    frame) and its samples shuffled anew every epoch (a full permutation, the last
    batch partial, as MMPose's DefaultSampler), flipped with `lifting_flip` when `flip`,
    batched as `(x, y)`."""
    dataset = _reader(data_root, ann_file, seq_len, causal, seq_step, keypoint_2d_src,
                      keypoint_2d_det_file, camera_param_file, allow_pickle, subjects, actions)
    if len(dataset) == 0:
        raise ValueError(
            f"The lifting training set has no samples. Received: data_root={data_root!r}, "
            f"ann_file={ann_file!r}, subjects={subjects!r}, actions={actions!r}"
        )
    ds = dataset.as_tf_dataset(shuffle=True, seed=seed)
    if flip:
        transform = lifting_flip(dataset.keypoint_spec)
        seeds = tf.data.Dataset.random(seed=seed).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda sample, s: transform(sample, seed=s), num_parallel_calls=tf.data.AUTOTUNE
        )
    ds = ds.batch(batch_size).map(split_lifting_sample, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset, ds.prefetch(tf.data.AUTOTUNE)


def lifting_val_data(
    data_root, seq_len, batch_size, causal=False, seq_step=1, ann_file=TEST_FILE,
    keypoint_2d_src="gt", keypoint_2d_det_file=None, camera_param_file=None,
    allow_pickle=False, subjects=None, actions=None,
):
    """`(dataset, batches)` for evaluation: every frame's window in the reader's order
    (`dataset.samples` gives each sample's subject and action), no augmentation."""
    dataset = _reader(data_root, ann_file, seq_len, causal, seq_step, keypoint_2d_src,
                      keypoint_2d_det_file, camera_param_file, allow_pickle, subjects, actions)
    ds = dataset.as_tf_dataset().batch(batch_size).map(split_lifting_sample)
    return dataset, ds.prefetch(tf.data.AUTOTUNE)
