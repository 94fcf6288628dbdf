import json

import numpy as np
import pytest
import tensorflow as tf

from kpose.datasets import CocoDataset
from kpose.datasets.synthetic_multiperson import generate_synthetic_multiperson_coco
from kpose.datasets.transforms import BottomupResize
from kpose.datasets.transforms import bottomup_dataset
from kpose.datasets.transforms import pipeline_stage_variable
from kpose.datasets.transforms.bottomup_pipeline import pack_persons
from tests.datasets import fixtures


@pytest.fixture(scope="module")
def multiperson(tmp_path_factory):
    root = tmp_path_factory.mktemp("multiperson")
    return generate_synthetic_multiperson_coco(
        root, num_train=6, num_val=3, image_size=(64, 48), max_persons=4, crowd_prob=0.5
    )


@pytest.fixture
def coco(tmp_path):
    data = fixtures.coco_dict()
    data["images"].append({"id": 4, "file_name": "d.png", "width": 40, "height": 30})
    data["annotations"].append(  # image 4: a crowd region only
        dict(id=20, image_id=4, category_id=1, iscrowd=1, area=50.0, bbox=[0, 0, 5, 5],
             num_keypoints=0, keypoints=[0] * 51)
    )
    return fixtures.write_coco(tmp_path, data)


def check_contract(x, y, batch, max_persons, size=(64, 64)):
    assert x.dtype == tf.uint8 and tuple(x.shape) == (batch, size[1], size[0], 3)
    shapes = {k: (tuple(v.shape), v.dtype) for k, v in y.items() if k != "meta"}
    assert shapes == {
        "keypoints": ((batch, max_persons, 17, 2), tf.float32),
        "keypoints_visible": ((batch, max_persons, 17), tf.float32),
        "bboxes": ((batch, max_persons, 4), tf.float32),
        "areas": ((batch, max_persons), tf.float32),
        "num_persons": ((batch,), tf.int32),
    }
    n = y["num_persons"].numpy()
    valid = np.arange(max_persons)[None] < n[:, None]
    for key in ("keypoints", "keypoints_visible", "bboxes", "areas"):
        assert not np.asarray(y[key])[~valid].any(), key  # padding rows are zeros
    return valid


def test_training_batches_follow_the_contract(multiperson):
    reader = CocoDataset(multiperson["train_ann"], multiperson["root"], data_mode="bottomup")
    most = int(reader.samples["num_persons"].max())
    ds = bottomup_dataset(reader, batch_size=2, input_size=(64, 64), seed=3)
    batches = list(ds)
    assert len(batches) == len(reader) // 2  # drop_remainder in training
    for x, y in batches:
        valid = check_contract(x, y, 2, 5 * most)  # Mosaic (4 images) + MixUp: all kept
        kpts, vis = y["keypoints"].numpy(), y["keypoints_visible"].numpy()
        boxes = y["bboxes"].numpy()[valid]
        # clipped to [0, 64] by the affine and MixUp, then maybe flipped (x -> 63 - x)
        inside = (kpts >= -1) & (kpts <= 64)
        assert inside.all(-1)[vis > 0].all()
        assert (boxes >= -1).all() and (boxes <= 64).all()
        assert (boxes[:, 2] - boxes[:, 0] > 1).all() and (boxes[:, 3] - boxes[:, 1] > 1).all()
        assert (vis.sum(-1)[valid] >= 1).all() and (y["areas"].numpy()[valid] > 0).all()


@pytest.mark.large
def test_fixed_seed_repeats_and_stage_switch(multiperson):
    reader = CocoDataset(multiperson["train_ann"], multiperson["root"], data_mode="bottomup")
    runs = [
        [y["keypoints"].numpy() for _, y in bottomup_dataset(
            reader, batch_size=2, input_size=(64, 64), seed=3, shuffle=False)]
        for _ in range(2)
    ]
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)  # fixed seed: the same augmentation
    stage = pipeline_stage_variable(1)
    ds = bottomup_dataset(reader, batch_size=6, input_size=(64, 64), stage=stage,
                          shuffle=False, seed=0)
    own = reader.samples["num_persons"]
    for _ in range(3):
        assert (next(iter(ds))[1]["num_persons"].numpy() <= own).all()  # no Mosaic/MixUp
    stage.assign(0)
    totals = [int(y["num_persons"].numpy().sum()) for _, y in ds.take(1).repeat(3)]
    assert max(totals) > own.sum()  # Mosaic brings other images' persons in


def test_test_batches_are_the_letterboxed_annotations(multiperson):
    reader = CocoDataset(multiperson["val_ann"], multiperson["root"], data_mode="bottomup",
                         test_mode=True)
    ds = bottomup_dataset(reader, batch_size=2, input_size=(64, 64), training=False,
                          with_meta=True)
    xs, ys = zip(*list(ds))
    assert [len(x) for x in xs] == [2, 2]  # 3 images + 1 empty, in order, last batch kept
    num = np.concatenate([y["num_persons"] for y in ys])
    np.testing.assert_array_equal(num, reader.samples["num_persons"])
    assert num[-1] == 0  # the empty image
    meta = {k: np.concatenate([y["meta"][k] for y in ys]) for k in ys[0]["meta"]}
    np.testing.assert_array_equal(meta["img_id"], reader.samples["img_id"])
    np.testing.assert_array_equal(meta["ori_shape"], [[48, 64]] * 4)
    np.testing.assert_allclose(meta["input_center"], [[32, 24]] * 4)
    np.testing.assert_allclose(meta["input_scale"], [[64, 64]] * 4)
    kpts = np.concatenate([y["keypoints"] for y in ys])
    m = reader.samples["num_persons"].max()
    # 64x48 into 64x64: scale 1, shifted down by 8 rows of padding
    want = reader.samples["keypoints"] + [0, 8]
    for i, n in enumerate(num):
        np.testing.assert_allclose(kpts[i, :n], want[i, :n], atol=1e-5)
    assert kpts.shape[1] == m and (np.concatenate(xs)[:, :8] == 114).all()


def test_crowd_only_and_empty_images(coco):
    reader = CocoDataset(*coco, data_mode="bottomup")
    # image 3 (no annotation) dropped; image 4 (crowd only) kept, with no person (MMPose)
    np.testing.assert_array_equal(reader.samples["img_id"], [1, 2, 4])
    np.testing.assert_array_equal(reader.samples["num_persons"], [2, 1, 0])
    assert reader.skipped["images_without_persons"] == 1 and reader.skipped["crowd"] == 2
    ds = bottomup_dataset(reader, batch_size=3, input_size=(64, 64), stage=1,
                          shuffle=False, drop_remainder=False, seed=0)
    x, y = next(iter(ds))
    check_contract(x, y, 3, 2)
    assert y["num_persons"][2] == 0
    assert (y["num_persons"].numpy()[:2] <= [2, 1]).all()  # stage 1: no Mosaic/MixUp


def test_more_persons_than_max_keeps_the_largest_in_order():
    sample = {
        "keypoints": tf.reshape(tf.range(4 * 17 * 2, dtype=tf.float32), [4, 17, 2]),
        "keypoints_visible": tf.ones([4, 17]),
        "bbox": tf.reshape(tf.range(16, dtype=tf.float32), [4, 4]),
        "area": tf.constant([5.0, 50.0, 1.0, 20.0]),
    }
    out = pack_persons(sample, 2)
    assert int(out["num_persons"]) == 2
    np.testing.assert_array_equal(out["areas"], [50, 20])  # persons 1 and 3, in order
    np.testing.assert_array_equal(out["keypoints"], tf.gather(sample["keypoints"], [1, 3]))
    padded = pack_persons(sample, 6)
    assert int(padded["num_persons"]) == 4
    np.testing.assert_array_equal(padded["areas"], [5, 50, 1, 20, 0, 0])
    empty = pack_persons({k: v[:0] for k, v in sample.items()}, 3)
    assert int(empty["num_persons"]) == 0 and not np.asarray(empty["keypoints"]).any()


def test_max_persons_in_the_dataset(multiperson):
    reader = CocoDataset(multiperson["val_ann"], multiperson["root"], data_mode="bottomup",
                         test_mode=True)
    ds = bottomup_dataset(reader, batch_size=4, input_size=(64, 64), training=False,
                          max_persons=1)
    x, y = next(iter(ds))
    check_contract(x, y, 4, 1)
    np.testing.assert_array_equal(y["num_persons"],
                                  np.minimum(reader.samples["num_persons"], 1))
    custom = bottomup_dataset(reader, batch_size=1, training=False,
                              transforms=[BottomupResize((32, 32))])
    assert next(iter(custom))[0].shape == (1, 32, 32, 3)


def test_synthetic_multiperson_generator(multiperson, tmp_path):
    with open(multiperson["train_ann"]) as f:
        data = json.load(f)
    assert multiperson["num_train_images"] == 7 and len(data["images"]) == 7
    crowd = [a for a in data["annotations"] if a.get("iscrowd")]
    assert len(crowd) == multiperson["num_crowd"]["train"] > 0
    assert all(a["num_keypoints"] == 0 for a in crowd)
    again = generate_synthetic_multiperson_coco(
        tmp_path, num_train=6, num_val=3, image_size=(64, 48), max_persons=4, crowd_prob=0.5
    )
    with open(again["train_ann"]) as f:
        assert json.load(f) == data
    with pytest.raises(ValueError, match="Received: crowd_prob=2"):
        generate_synthetic_multiperson_coco(tmp_path, crowd_prob=2)


def test_argument_errors(coco):
    topdown = CocoDataset(*coco)
    with pytest.raises(ValueError, match="must be a bottom-up reader"):
        bottomup_dataset(topdown, batch_size=2)
    reader = CocoDataset(*coco, data_mode="bottomup")
    with pytest.raises(ValueError, match="Received: batch_size=0"):
        bottomup_dataset(reader, batch_size=0)
    with pytest.raises(ValueError, match="Received: stage=2"):
        bottomup_dataset(reader, batch_size=2, stage=2)
    with pytest.raises(ValueError, match="Received: max_persons=0"):
        bottomup_dataset(reader, batch_size=2, max_persons=0)


def test_recipe_variants_of_the_training_transforms(multiperson):
    from kpose.apis.bottomup_recipe_main import RECIPES
    from kpose.datasets.transforms import BottomupRandomAffine
    from kpose.datasets.transforms import YOLOXMixUp
    from kpose.datasets.transforms.bottomup_pipeline import yoloxpose_train_transforms

    flip = list(range(17))
    kinds = lambda ts: [type(t).__name__ for t in ts]  # noqa: E731
    assert "YOLOXMixUp" in kinds(yoloxpose_train_transforms(flip, stage=0))
    tiny = yoloxpose_train_transforms(flip, stage=0, mixup=False)
    assert kinds(tiny) == ["Mosaic", "BottomupRandomAffine", "YOLOXHSVRandomAug",
                           "RandomFlip", "FilterAnnotations"]
    plain = yoloxpose_train_transforms(flip, stage=1)[0]
    rand = yoloxpose_train_transforms(flip, stage=1, stage2_random_affine=True)[0]
    assert isinstance(rand, BottomupRandomAffine) and not isinstance(rand, YOLOXMixUp)
    assert (plain.shift_prob, plain.scale_prob, plain.rotate_prob) == (0, 0, 0)
    # MMPose's rtmo-{m,l} train_pipeline_stage2: BottomupRandomAffine's defaults, long side
    assert (rand.shift_factor, rand.shift_prob, rand.scale_factor, rand.scale_prob,
            rand.rotate_factor, rand.rotate_prob, rand.shear_factor, rand.shear_prob,
            rand.distribution, rand.scale_type) == (
        0.2, 1.0, (0.75, 1.5), 1.0, 30.0, 1.0, 2.0, 1.0, "trunc_norm", "long")
    assert [n for n, r in RECIPES.items() if not r["mixup"]] == ["yoloxpose_tiny_416"]
    assert [n for n, r in RECIPES.items() if r["stage2_random_affine"]] == [
        "rtmo_m_640x640", "rtmo_l_640x640"]
    reader = CocoDataset(multiperson["train_ann"], multiperson["root"], data_mode="bottomup")
    most = int(np.max(reader.samples["num_persons"]))
    x, y = next(iter(bottomup_dataset(reader, 2, input_size=(64, 64), seed=0, mixup=False)))
    check_contract(x, y, 2, 5 * most)  # Mosaic still mixes
    x, y = next(iter(bottomup_dataset(reader, 2, input_size=(64, 64), seed=0, stage=1,
                                      stage2_random_affine=True)))
    check_contract(x, y, 2, most)
