import numpy as np

from kpose.datasets import AicDataset
from tests.datasets import fixtures


def test_aic_reads_14_keypoints(tmp_path):
    ann_file, img_dir = fixtures.write_coco(tmp_path, fixtures.coco_dict(k=14))
    dataset = AicDataset(ann_file, img_dir)
    assert dataset.keypoint_spec.dataset_name == "aic"
    assert dataset.samples["keypoints"].shape == (3, 1, 14, 2)
    np.testing.assert_array_equal(dataset.samples["id"], [10, 13, 16])
    assert AicDataset.from_config(dataset.get_config()).get_config() == dataset.get_config()
