from kpose.models.losses.keypoint_mse_loss import KeypointMSELoss
from kpose.models.losses.keypoint_ohkm_mse_loss import KeypointOHKMMSELoss
from kpose.models.losses.kl_discret_loss import KLDiscretLoss
