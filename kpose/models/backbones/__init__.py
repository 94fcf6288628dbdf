from kpose.models.backbones.backbone import Backbone
from kpose.models.backbones.hub_backbone import HubBackbone
from kpose.models.backbones.resnet import ResNet
from kpose.models.backbones.cspnext import CSPNeXt
