from kpose.api_export import kpose_export
from kpose.datasets.coco import CocoDataset


@kpose_export("kpose.datasets.CustomCocoDataset")
class CustomCocoDataset(CocoDataset):
    """A user's COCO-format keypoint data described by its own keypoint description.

    A `kpose.datasets.CocoDataset` whose `keypoint_spec` is required: usually the
    path of an MMPose-style `dataset_info = dict(...)` `.py` file (read as data,
    never executed) or a `.json` file. Every annotation must carry 3 values per
    described keypoint (and a category's `keypoints` name list, if present, must
    have one name per keypoint); otherwise construction fails naming both counts
    and the file.

    Args:
        ann_file: str. COCO-format keypoint annotation JSON.
        img_dir: str. Folder the images' `file_name`s are relative to.
        keypoint_spec: str, dict or `KeypointSpec`. Description file path, shipped
            description name, `dataset_info` dict, or spec.
        data_mode: str. `"topdown"` or `"bottomup"`. Defaults to `"topdown"`.
        bbox_file: str. Detection results for top-down evaluation. Defaults to `None`.
        bbox_score_threshold: float. Defaults to `0.0`.
        min_keypoints: int. Defaults to `1`.
        indices: int or list of int. Subset of samples. Defaults to `None`.
        test_mode: bool. Defaults to `False`.
        check_images: bool. Defaults to `True`.

    Example:
    ```python
    dataset = kpose.datasets.CustomCocoDataset(
        "mice/train.json", "mice/images", keypoint_spec="mice/mouse_keypoints.py"
    )
    ```
    """

    def __init__(self, ann_file, img_dir, keypoint_spec, **kwargs):
        super().__init__(ann_file, img_dir, keypoint_spec=keypoint_spec, **kwargs)
