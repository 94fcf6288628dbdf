"""SimpleBaseline on COCO: ResNet-50 + deconvolution head, 256x192 input, 64x48 MSRA
heatmaps (sigma 2), MMPose's schedule (Adam 5e-4, 500-step linear warm-up, steps at
epochs 170 and 200 of 210) and flip test.

    python recipes/coco/simplebaseline_res50_256x192.py \
        --train-ann coco/annotations/person_keypoints_train2017.json \
        --train-images coco/train2017 \
        --val-ann coco/annotations/person_keypoints_val2017.json \
        --val-images coco/val2017 \
        [--bbox-file person_detection_results/COCO_val2017_detections_AP_H_56_person.json] \
        --work-dir work_dirs/simplebaseline_res50_256x192

MMPose trains it on 8 GPUs at 64 samples each (batch 512); scale --lr with the batch.
"""

import sys

from kpose.apis.recipe_args import apply_backend, parse_recipe_args, recipe_parser


def parse_args(argv=None):
    p = recipe_parser(
        __doc__.split("\n\n")[0], epochs=210, batch_size=64, learning_rate=5e-4,
        input_size=(192, 256),
    )
    p.add_argument(
        "--backbone-weights", default=None,
        help="local Keras weights file (.weights.h5) of the ResNet-50 backbone, e.g. "
        "converted ImageNet weights (no download happens)",
    )
    return parse_recipe_args(p, argv)


def build_model(keypoint_spec, input_size, flip_test, backbone_weights=None,
                use_joint_weights=False):
    import kpose

    w, h = input_size
    backbone = kpose.models.ResNet(depth=50)
    if backbone_weights:
        backbone.load_weights(backbone_weights)
    return kpose.models.TopdownPoseEstimator(
        backbone=backbone,
        head=kpose.models.HeatmapHead(
            num_keypoints=keypoint_spec.num_keypoints,
            deconv_out_channels=(256, 256, 256),
            deconv_kernel_sizes=(4, 4, 4),
        ),
        codec=kpose.codecs.MSRAHeatmap(
            input_size=input_size, heatmap_size=(w // 4, h // 4), sigma=2.0
        ),
        flip_indices=keypoint_spec.flip_indices,
        joint_weights=keypoint_spec.joint_weights if use_joint_weights else None,
        flip_test=flip_test,
        shift_heatmap=True,
    )


def main(argv=None):
    args = parse_args(argv)
    apply_backend(args)
    import kpose
    from kpose.apis.topdown_recipe import run_topdown_recipe, step_adam

    spec = kpose.datasets.load_keypoint_spec("coco")

    def build_optimizer(steps_per_epoch, model):
        return step_adam(args.lr, steps_per_epoch)

    def build(keypoint_spec, input_size, flip_test):
        return build_model(keypoint_spec, input_size, flip_test, args.backbone_weights,
                           args.use_joint_weights)

    _, _, _, metrics, _ = run_topdown_recipe(args, spec, build, build_optimizer)
    print("final:", ", ".join(f"{k} {v:.4f}" for k, v in metrics["final"].items()))
    return metrics


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
