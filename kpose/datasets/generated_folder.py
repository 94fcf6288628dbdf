"""The folder of a generated dataset: a manifest that says which generator wrote it with
which parameters, so a second call reuses a complete folder, replaces its own earlier
output and never overwrites files it did not write."""

import json
import os


def read_manifest(path, generator):
    """The manifest at `path` if `generator` (a module name) wrote it, else `None`."""
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("generator") != generator:
        return None
    return manifest


def write_manifest(path, generator, params, complete, counts=None):
    manifest = dict(generator=generator, params=params, complete=complete, counts=counts)
    with open(path, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)


def prepare_folder(root, manifest_path, generator, params, targets_of, caller, what):
    """Returns the recorded counts when `root` already holds the complete output of
    `generator` with `params` (reuse); otherwise removes the files an earlier run of it
    wrote that `params` no longer make, or, in a folder it did not write, raises
    ValueError if any file it would write (`targets_of(root, params)`) exists. `caller`
    and `what` name the function and the dataset in that message."""
    targets = targets_of(root, params)
    manifest = read_manifest(manifest_path, generator) if os.path.exists(manifest_path) else None
    if manifest is None:
        for path in [manifest_path] + targets:
            if os.path.lexists(path):
                raise ValueError(
                    f"{caller}: '{path}' already exists and is not part of a kpose {what}; "
                    "refusing to overwrite it. Use an empty or new folder. "
                    f"Received: root={root!r}"
                )
        return None
    if (
        manifest.get("params") == params
        and manifest.get("complete")
        and all(map(os.path.isfile, targets))
    ):
        return manifest["counts"]
    try:
        old = targets_of(root, manifest["params"])
    except (KeyError, TypeError):
        old = []
    for path in set(old) - set(targets):  # files this generator wrote before
        if os.path.isfile(path):
            os.remove(path)
    return None
