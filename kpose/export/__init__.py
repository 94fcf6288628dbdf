"""Export: a SavedModel whose signatures take uint8 images (or encoded JPEG/PNG bytes)
and person boxes and return keypoints in original-image pixels (TensorFlow backend)."""

from kpose.export.saved_model import export_saved_model
from kpose.export.topdown_serving_module import TopdownServingModule
from kpose.export.freeze import fold_batch_norms
from kpose.export.freeze import freeze_function
from kpose.export.lifter_serving_module import LifterServingModule
from kpose.export.bottomup_serving_module import BottomupServingModule
