"""Training and validation `tf.data` pipelines of a top-down recipe from COCO-format files."""

from kpose.datasets import CocoDataset
from kpose.datasets.transforms.pipeline import (
    build_topdown_test_pipeline,
    build_topdown_train_pipeline,
    topdown_dataset,
)


def topdown_train_data(
    ann_file, img_dir, keypoint_spec, input_size, batch_size, seed=0, use_udp=False,
    pipeline=None,
):
    """`(dataset, batches)`: the reader and shuffled, augmented, batched `(x, y)`;
    `pipeline` (a `Compose`) replaces MMPose's default top-down train pipeline."""
    dataset = CocoDataset(ann_file, img_dir, keypoint_spec=keypoint_spec)
    if pipeline is None:
        pipeline = build_topdown_train_pipeline(
            dataset.keypoint_spec, input_size, use_udp=use_udp
        )
    batches = topdown_dataset(
        dataset.as_tf_dataset(),
        pipeline,
        batch_size,
        shuffle=True,
        drop_remainder=True,
        seed=seed,
    )
    return dataset, batches


def topdown_val_data(
    ann_file, img_dir, keypoint_spec, input_size, batch_size, bbox_file=None, use_udp=False
):
    """`(dataset, batches)` for evaluation: test pipeline, fixed order, `y["meta"]` kept."""
    dataset = CocoDataset(
        ann_file, img_dir, keypoint_spec=keypoint_spec, bbox_file=bbox_file, test_mode=True
    )
    pipeline = build_topdown_test_pipeline(input_size, use_udp=use_udp)
    batches = topdown_dataset(dataset.as_tf_dataset(), pipeline, batch_size, with_meta=True)
    return dataset, batches
