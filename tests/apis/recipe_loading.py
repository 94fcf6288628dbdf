"""Loading a recipe script as a module and the data flags every recipe takes (shared by the
recipe tests)."""

import importlib.util
import os

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA_KEYS = ("train_ann", "train_images", "val_ann", "val_images")


def load_recipe(relative_path):
    """The recipe at `relative_path` (from the repository root), imported as a module."""
    path = os.path.join(REPO, relative_path)
    name = "recipe_" + os.path.basename(os.path.dirname(path)) + "_" + os.path.basename(path)[:-3]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recipe_flags(data, work_dir):
    """`--train-ann ... --work-dir WORK_DIR` from a dict with the `DATA_KEYS`."""
    return [
        "--train-ann", data["train_ann"], "--train-images", data["train_images"],
        "--val-ann", data["val_ann"], "--val-images", data["val_images"],
        "--work-dir", os.fspath(work_dir),
    ]


def placeholder_flags(work_dir):
    """Data flags naming nothing real, for parsing defaults."""
    return recipe_flags({k: "x" for k in DATA_KEYS}, work_dir)
