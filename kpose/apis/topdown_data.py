"""Training and validation `tf.data` pipelines of a top-down recipe, from any kpose
dataset reader (COCO-format files by default)."""

from kpose.datasets import CocoDataset
from kpose.datasets.transforms.pipeline import (
    build_topdown_test_pipeline,
    build_topdown_train_pipeline,
    topdown_dataset,
)


def topdown_train_data(
    ann_file, img_dir, keypoint_spec, input_size, batch_size, seed=0, use_udp=False,
    pipeline=None, dataset_cls=None, dataset_kwargs=None,
):
    """`(dataset, batches)`: the reader and shuffled (a new permutation of all samples
    every epoch), augmented, batched `(x, y)` (the last batch of an epoch partial);
    `pipeline` (a `Compose`) replaces MMPose's default top-down train pipeline.

    `dataset_cls(ann_file, img_dir, keypoint_spec=..., **dataset_kwargs)` reads the
    file (default `kpose.datasets.CocoDataset`; e.g. `MpiiDataset`, `CrowdPoseDataset`).
    """
    dataset_cls = CocoDataset if dataset_cls is None else dataset_cls
    dataset = dataset_cls(ann_file, img_dir, keypoint_spec=keypoint_spec,
                          **(dataset_kwargs or {}))
    if pipeline is None:
        pipeline = build_topdown_train_pipeline(
            dataset.keypoint_spec, input_size, use_udp=use_udp
        )
    # As MMPose's DefaultSampler: a full permutation every epoch, and the last batch
    # kept even when partial.
    batches = topdown_dataset(
        dataset.as_tf_dataset(),
        pipeline,
        batch_size,
        shuffle=True,
        drop_remainder=False,
        seed=seed,
        shuffle_buffer_size=max(len(dataset), 1),
    )
    return dataset, batches


def topdown_val_data(
    ann_file, img_dir, keypoint_spec, input_size, batch_size, bbox_file=None, use_udp=False,
    dataset_cls=None, dataset_kwargs=None,
):
    """`(dataset, batches)` for evaluation: test pipeline, fixed order, `y["meta"]` kept.

    `dataset_cls(ann_file, img_dir, keypoint_spec=..., test_mode=True, **dataset_kwargs)`
    reads the file (default `kpose.datasets.CocoDataset`); `bbox_file` is passed on
    only when given (MPII's reader has none; it takes `headbox_file` in
    `dataset_kwargs`).
    """
    dataset_cls = CocoDataset if dataset_cls is None else dataset_cls
    kwargs = dict(dataset_kwargs or {})
    if bbox_file is not None:
        kwargs["bbox_file"] = bbox_file
    dataset = dataset_cls(ann_file, img_dir, keypoint_spec=keypoint_spec, test_mode=True,
                          **kwargs)
    pipeline = build_topdown_test_pipeline(input_size, use_udp=use_udp)
    batches = topdown_dataset(dataset.as_tf_dataset(), pipeline, batch_size, with_meta=True)
    return dataset, batches
