from kpose.api_export import kpose_export
from kpose.datasets.coco import CocoDataset


@kpose_export("kpose.datasets.CrowdPoseDataset")
class CrowdPoseDataset(CocoDataset):
    """CrowdPose keypoint dataset (14 keypoints, COCO-format annotation files).

    A `kpose.datasets.CocoDataset` with the `"crowdpose"` description; see it for
    the filtering rules and the sample layout.

    Args:
        ann_file: str. CrowdPose annotation JSON, e.g. `mmpose_crowdpose_trainval.json`.
        img_dir: str. Folder of the images.
        keypoint_spec: str or `KeypointSpec`. Defaults to `"crowdpose"`.
        data_mode: str. `"topdown"` or `"bottomup"`. Defaults to `"topdown"`.
        bbox_file: str. Detection results for top-down evaluation. Defaults to `None`.
        bbox_score_threshold: float. Defaults to `0.0`.
        min_keypoints: int. Defaults to `1`.
        indices: int or list of int. Subset of samples. Defaults to `None`.
        test_mode: bool. Defaults to `False`.
        check_images: bool. Defaults to `True`.

    Example:
    ```python
    dataset = kpose.datasets.CrowdPoseDataset(
        "annotations/mmpose_crowdpose_test.json", "images", test_mode=True
    )
    ```
    """

    def __init__(self, ann_file, img_dir, keypoint_spec="crowdpose", **kwargs):
        super().__init__(ann_file, img_dir, keypoint_spec=keypoint_spec, **kwargs)
