from kpose.models.losses.keypoint_mse_loss import KeypointMSELoss
from kpose.models.losses.keypoint_ohkm_mse_loss import KeypointOHKMMSELoss
from kpose.models.losses.kl_discret_loss import KLDiscretLoss
from kpose.models.losses.regression_losses import L1Loss
from kpose.models.losses.regression_losses import SmoothL1Loss
from kpose.models.losses.rle_loss import RLELoss
from kpose.models.losses.js_discret_loss import JSDiscretLoss
from kpose.models.losses.multiple_loss_wrapper import MultipleLossWrapper
