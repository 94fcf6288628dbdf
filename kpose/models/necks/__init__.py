from kpose.models.necks.feature_map_processor import FeatureMapProcessor
from kpose.models.necks.fpn import FPN
from kpose.models.necks.global_average_pooling import GlobalAveragePooling
from kpose.models.necks.hybrid_encoder import HybridEncoder
from kpose.models.necks.yolox_pafpn import YOLOXPAFPN
