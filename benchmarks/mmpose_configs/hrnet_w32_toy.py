# HRNet-W32 256x192 (MMPose's own td-hm_hrnet-w32_8xb64-210e_coco-256x192, installed with
# the package) on the toy/holdout COCO layout, random init (no download), for CPU timing
# against kpose's `hrnet-w32_coco-256x192` preset:
#
#   R=/work/shared/reference/mmpose-anchor
#   $R/mmpy.sh $R/bench.py --config benchmarks/mmpose_configs/hrnet_w32_toy.py \
#       --data-root /tmp/toy_coco --only b,c,d --out mmpose_hrnet_w32.json
#
# The model, codec, optimizer, schedule and pipelines are MMPose's; only the data
# (root, file names, no detector boxes), the loaders (batch 16, no workers) and the
# hooks differ.
_base_ = [
    'mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py'
]
model = dict(backbone=dict(init_cfg=None))
data_root = '{{ fileDirname }}/toy_coco/'  # bench.py --data-root DIR overrides it
train_dataloader = dict(batch_size=16, num_workers=0, persistent_workers=False, dataset=dict(
    data_root=data_root, ann_file='annotations/person_keypoints_train.json',
    data_prefix=dict(img='train/')))
val_dataloader = dict(batch_size=16, num_workers=0, persistent_workers=False, dataset=dict(
    data_root=data_root, ann_file='annotations/person_keypoints_val.json',
    data_prefix=dict(img='val/'), bbox_file=None))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='CocoMetric', ann_file=data_root + 'annotations/person_keypoints_val.json')
test_evaluator = val_evaluator
custom_hooks = []
