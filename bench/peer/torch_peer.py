"""PyTorch twin of the engine's benchmark models, driven by bench/peer/run.ts over stdin/stdout.

Same shapes, batch, data, optimizer (AdamW lr 1e-4, wd 0.01) and DSGD weighting (lambda 1,
linear schedule: per-example weights from the argmax split, one backward pass) as the engine.
One torch thread (docs/ENGINE.md: a second thread gave no speed-up on this 2-core machine), BLAS
threads pinned to 1 by the caller's environment.

Each runner has its own PyTorch configuration, so one process can time the default path and the
fast ones side by side: "foreach" (AdamW's multi-tensor update; the default on CPU is the
per-parameter loop), "fused" (only where this build's AdamW accepts it) and "flush_denormal"
(denormals flushed to zero). Flush-denormal is a per-thread CPU flag, so it is set before each
runner's steps; with one torch thread every kernel runs on this thread.

Protocol, one JSON object per line each way:
  -> {"cmd": "hello"}
  <- {"ok": true, "torch": ..., "blas": ..., "openblas_core": ..., "threads": 1,
      "fused_adamw": bool, "flush_denormal": bool}
  -> {"cmd": "build", "id": name, "model": "mlp"|"transformer", "inputs": path, "labels": path, "count": n,
      "foreach": bool, "fused": bool, "flush_denormal": bool}
  <- {"ok": true, "params": n}
  -> {"cmd": "steps", "id": name, "count": k}
  <- {"ok": true, "ms": [k wall-clock step times], "cpu_ms": [their CPU times on this thread]}
  -> {"cmd": "quit"}
Without torch it prints one SKIP line (with the install command) and exits 0.
"""
import ctypes
import inspect
import json
import math
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as error:  # torch or numpy missing: the benchmark reports PyTorch as skipped
    print(json.dumps({"ok": False, "skip": f"SKIP: PyTorch unavailable ({error}); install with "
                      "`apt-get install -y python3-torch libopenblas0-pthread` and run with /usr/bin/python3"}),
          flush=True)
    sys.exit(0)

BATCH = 32
TOTAL_STEPS = 1000
MLP = dict(input=784, hidden=(400, 200), classes=10, dropout=0.1)
TRANSFORMER = dict(d_model=128, heads=4, layers=4, ff_dim=512, vocab=5000, seq_len=64, classes=2, dropout=0.1)
MASKED_SCORE = -1e9


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        widths = (MLP["input"], *MLP["hidden"])
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.drop = nn.Dropout(MLP["dropout"])
        self.head = nn.Linear(widths[-1], MLP["classes"])

    def forward(self, x):
        for layer in self.hidden:
            x = self.drop(F.relu(layer(x)))
        return self.head(x)


class EncoderLayer(nn.Module):
    """Pre-LN encoder layer, as server/engine/models/encoder-layer.ts."""

    def __init__(self, d, heads, ff, p):
        super().__init__()
        self.query, self.key, self.value, self.output = (nn.Linear(d, d) for _ in range(4))
        self.attention_norm, self.ffn_norm = nn.LayerNorm(d, eps=1e-5), nn.LayerNorm(d, eps=1e-5)
        self.intermediate, self.ffn_output = nn.Linear(d, ff), nn.Linear(ff, d)
        self.drop = nn.Dropout(p)
        self.heads = heads

    def forward(self, x, key_bias):
        b, l, d = x.shape
        head_dim = d // self.heads
        y = self.attention_norm(x)
        split = lambda t: t.view(b, l, self.heads, head_dim).transpose(1, 2)
        q = split(self.query(y) * (1 / math.sqrt(head_dim)))
        k, v = split(self.key(y)), split(self.value(y))
        probabilities = self.drop(torch.softmax(q @ k.transpose(-1, -2) + key_bias, dim=-1))
        context = (probabilities @ v).transpose(1, 2).reshape(b, l, d)
        x = x + self.drop(self.output(context))
        hidden = F.gelu(self.intermediate(self.ffn_norm(x)), approximate="tanh")
        return x + self.drop(self.ffn_output(hidden))


class Transformer(nn.Module):
    def __init__(self):
        super().__init__()
        t = TRANSFORMER
        self.token = nn.Embedding(t["vocab"], t["d_model"])
        self.position = nn.Parameter(torch.randn(t["seq_len"], t["d_model"]) * 0.02)
        self.embedding_norm = nn.LayerNorm(t["d_model"], eps=1e-5)
        self.layers = nn.ModuleList(
            EncoderLayer(t["d_model"], t["heads"], t["ff_dim"], t["dropout"]) for _ in range(t["layers"]))
        self.final_norm = nn.LayerNorm(t["d_model"], eps=1e-5)
        self.drop = nn.Dropout(t["dropout"])
        self.head = nn.Linear(t["d_model"], t["classes"])

    def forward(self, ids):
        key_bias = ((ids == 0).float() * MASKED_SCORE)[:, None, None, :]
        x = self.drop(self.embedding_norm(self.token(ids) + self.position))
        for layer in self.layers:
            x = layer(x, key_bias)
        return self.head(self.final_norm(x)[:, 0])  # [CLS] pooling


class Runner:
    def __init__(self, model_name, inputs_path, labels_path, count, foreach=False, fused=False, flush_denormal=False):
        torch.manual_seed(42)
        labels = np.fromfile(labels_path, dtype=np.int32).astype(np.int64)
        if model_name == "mlp":
            self.inputs = torch.from_numpy(np.fromfile(inputs_path, dtype=np.float32).reshape(count, MLP["input"]))
            self.model = Mlp()
        else:
            ids = np.fromfile(inputs_path, dtype=np.int32).reshape(count, TRANSFORMER["seq_len"])
            self.inputs = torch.from_numpy(ids.astype(np.int64))
            self.model = Transformer()
        self.labels = torch.from_numpy(labels)
        self.model.train()
        # Only what the request sets is passed: the default runner calls AdamW exactly as a user would.
        fast = {"foreach": True} if foreach else {}
        if fused:
            fast["fused"] = True
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8,
                                           weight_decay=0.01, **fast)
        self.flush_denormal = flush_denormal
        self.step_index = 0

    def params(self):
        return sum(p.numel() for p in self.model.parameters())

    def step(self):
        count = self.labels.shape[0]
        first = (self.step_index * BATCH) % count
        index = torch.arange(first, first + BATCH) % count
        started, cpu_started = time.perf_counter(), time.thread_time()
        x, y = self.inputs[index], self.labels[index]
        logits = self.model(x)
        per_example = F.cross_entropy(logits, y, reduction="none")
        with torch.no_grad():  # DSGD: constant weights from the model's own argmax split
            correct = (logits.argmax(dim=1) == y).float()
            alpha = self.step_index / TOTAL_STEPS
            effective = alpha if bool((1 - correct).sum() > 0) else 1.0
            weights = 1 - (1 - effective) * correct
        loss = (per_example * weights).sum() / BATCH
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step_index += 1
        return (time.perf_counter() - started) * 1000, (time.thread_time() - cpu_started) * 1000


def openblas_core():
    """The kernel set OpenBLAS picked for this CPU (OPENBLAS_CORETYPE overrides it)."""
    for name in ("libopenblas.so.0", "libblas.so.3"):
        try:
            library = ctypes.CDLL(name)
            library.openblas_get_corename.restype = ctypes.c_char_p
            return library.openblas_get_corename().decode()
        except (OSError, AttributeError):
            continue
    return "unknown"


def fused_adamw_supported():
    return "fused" in inspect.signature(torch.optim.AdamW.__init__).parameters


def flush_denormal_supported():
    supported = torch.set_flush_denormal(True)  # False where the CPU lacks the flag (no SSE3)
    torch.set_flush_denormal(False)
    return supported


def blas_name():
    config = torch.__config__.show()
    try:
        with open("/proc/self/maps") as maps:
            libs = {line.split()[-1] for line in maps if "blas" in line.lower()}
        return ", ".join(sorted(libs)) or config
    except OSError:
        return "unknown"


def main():
    torch.set_num_threads(1)
    runners = {}
    for line in sys.stdin:
        request = json.loads(line)
        command = request["cmd"]
        if command == "hello":
            reply = {"ok": True, "torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas_name(),
                     "openblas_core": openblas_core(), "fused_adamw": fused_adamw_supported(),
                     "flush_denormal": flush_denormal_supported()}
        elif command == "build":
            runner = Runner(request["model"], request["inputs"], request["labels"], request["count"],
                            foreach=request.get("foreach", False), fused=request.get("fused", False),
                            flush_denormal=request.get("flush_denormal", False))
            runners[request["id"]] = runner
            reply = {"ok": True, "params": runner.params()}
        elif command == "steps":
            runner = runners[request["id"]]
            torch.set_flush_denormal(runner.flush_denormal)
            wall, cpu = zip(*(runner.step() for _ in range(request["count"])))
            reply = {"ok": True, "ms": wall, "cpu_ms": cpu}
        else:
            break
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
