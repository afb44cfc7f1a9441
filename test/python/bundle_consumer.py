#!/usr/bin/python3
"""Runs an exported steadytune MLP bundle with numpy alone (Debian python3-numpy), proving the
bundle format (docs/MODEL-BUNDLE.md) is readable outside steadytune and TF.js.

Usage: /usr/bin/python3 test/python/bundle_consumer.py BUNDLE_DIR CASES_JSON

CASES_JSON: {"seed": S, "features": [[...], ...], "probabilities": [[...], ...]} where the
probabilities are what the server's Predict returned for those features. The script parses
seed-S/model.safetensors by hand (8-byte little-endian header length, JSON header, raw
little-endian float32 data), checks each file's sha256 against run-card.json, runs the forward
pass model.json describes, and compares. Prints the largest absolute difference.
Exits 0 when it is within 1e-5, 1 on a failed check, 2 on a usage error.
"""
import hashlib
import json
import os
import struct
import sys

import numpy as np

TOLERANCE = 1e-5
DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}


def read_safetensors(path):
    with open(path, "rb") as handle:
        data = handle.read()
    (header_length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_length].decode("utf-8"))
    body = data[8 + header_length:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        values = np.frombuffer(body[begin:end], dtype=DTYPES[entry["dtype"]])
        tensors[name] = values.reshape(entry["shape"]).astype(np.float64)
    return tensors


def check_hashes(bundle):
    with open(os.path.join(bundle, "run-card.json"), encoding="utf-8") as handle:
        card = json.load(handle)
    for relative, expected in card["contentHashes"].items():
        with open(os.path.join(bundle, *relative.split("/")), "rb") as handle:
            actual = hashlib.sha256(handle.read()).hexdigest()
        if actual != expected:
            raise SystemExit("FAIL: %s does not match its sha256 in run-card.json" % relative)


def mlp_logits(model, tensors, features):
    activation = features
    for layer in model["architecture"]["layers"]:
        if layer["op"] != "dense":
            raise SystemExit("FAIL: unknown layer op %r" % layer["op"])
        activation = activation @ tensors[layer["kernel"]] + tensors[layer["bias"]]
        if layer["activation"] == "relu":
            activation = np.maximum(activation, 0.0)
    return activation


def softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    bundle, cases_path = argv[1], argv[2]
    with open(os.path.join(bundle, "model.json"), encoding="utf-8") as handle:
        model = json.load(handle)
    with open(cases_path, encoding="utf-8") as handle:
        cases = json.load(handle)
    if model["format"] != "steadytune-model-bundle" or model["formatVersion"] != 1 or model["family"] != "mlp":
        print("FAIL: not a version 1 MLP bundle", file=sys.stderr)
        return 1
    check_hashes(bundle)
    tensors = read_safetensors(os.path.join(bundle, model["weights"]["files"][str(cases["seed"])]))
    features = np.asarray(cases["features"], dtype=np.float64)
    if features.shape[1] != model["inputs"]["dim"]:
        print("FAIL: the model takes %d features" % model["inputs"]["dim"], file=sys.stderr)
        return 1
    logits = mlp_logits(model, tensors, features)
    probabilities = softmax(logits)
    expected = np.asarray(cases["probabilities"], dtype=np.float64)
    difference = float(np.abs(probabilities - expected).max())
    labels = [model["classNames"][i] for i in probabilities.argmax(axis=1)]
    print("numpy consumer: %d examples, %d classes, max abs difference %.3g, labels %s" % (
        features.shape[0], logits.shape[1], difference, " ".join(labels)))
    if difference > TOLERANCE:
        print("FAIL: probabilities differ from Predict by %.3g > %g" % (difference, TOLERANCE), file=sys.stderr)
        return 1
    print("numpy consumer: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
