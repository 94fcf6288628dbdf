from kpose.models.layers.fused_batch_normalization import FusedBatchNormalization
from kpose.models.layers.gated_attention_unit import GatedAttentionUnit
from kpose.models.layers.scale import Scale
from kpose.models.layers.scale_norm import ScaleNorm
from kpose.models.layers.real_nvp import RealNVP
from kpose.models.layers.temporal_conv1d import TemporalConv1D
