from kpose.models.backbones.backbone import Backbone
from kpose.models.backbones.hub_backbone import HubBackbone
from kpose.models.backbones.resnet import ResNet
from kpose.models.backbones.cspnext import CSPNeXt
from kpose.models.backbones.hrnet import HRNet
from kpose.models.backbones.vit import VisionTransformer
from kpose.models.backbones.vit import load_vit_pretrained
from kpose.models.backbones.tcn import TCN
