"""PyTorch reference for `bench cnn_train_step`: one training step of the notebook-02 CNN.

Reads the architecture (the same layer list src/models/cnn.ts builds, as JSON) and the
step settings from argv[1], builds the network in PyTorch, and times `steps` training
steps on random data after `warmup` steps: forward in training mode, label-smoothed
cross-entropy (plus, when `distillation` is given, the KL term to a teacher's soft labels at
temperature T: alpha * T^2 * KL + (1 - alpha) * CE, as src/train/distillation.ts), backward, AdamW update (decay on conv/dense kernels only, like ours), and
reading back the loss and the correct count (as our loop does). Prints one JSON line.
Debian's python3-torch (CPU), `threads` intra-op threads.
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn


def build(layers):
    mods = []
    for layer in layers:
        kind = layer["kind"]
        if kind == "conv":
            mods.append(nn.Conv2d(layer["in"], layer["out"], layer["kernel"], stride=layer.get("stride", 1),
                                  padding=layer["kernel"] // 2, bias=False))
        elif kind == "batchnorm":
            # tfjs momentum 0.9 (weight of the old statistic) == PyTorch momentum 0.1
            mods.append(nn.BatchNorm2d(layer["channels"], eps=1e-5, momentum=0.1))
        elif kind == "relu":
            mods.append(nn.ReLU(inplace=True))
        elif kind == "maxpool":
            mods.append(nn.MaxPool2d(layer["size"]))
        elif kind == "gap":
            mods.extend([nn.AdaptiveAvgPool2d(1), nn.Flatten()])
        elif kind == "dropout":
            mods.append(nn.Dropout(layer["rate"]))
        elif kind == "dense":
            mods.append(nn.Linear(layer["in"], layer["out"]))
        else:
            raise ValueError(f"unknown layer kind {kind}")
    return nn.Sequential(*mods)


def main():
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(spec.get("seed", 0))
    model = build(spec["layers"])
    model.train()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": spec["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=spec["lr"], betas=(0.9, 0.999), eps=1e-7,
    )
    crit = nn.CrossEntropyLoss(label_smoothing=spec["label_smoothing"])
    b, s = spec["batch"], spec["input_size"]
    x = torch.rand(b, 3, s, s)
    y = torch.randint(0, spec["num_classes"], (b,))
    distill = spec.get("distillation")
    teacher = torch.softmax(torch.randn(b, spec["num_classes"]), dim=1)

    def loss_of(out):
        hard = crit(out, y)
        if not distill:
            return hard
        t, a = distill["temperature"], distill["alpha"]
        soft = torch.softmax(torch.log(teacher) / t, dim=1)
        kl = nn.functional.kl_div(torch.log_softmax(out / t, dim=1), soft, reduction="batchmean")
        return a * t * t * kl + (1 - a) * hard

    def step():
        opt.zero_grad(set_to_none=True)
        out = model(x)
        loss = loss_of(out)
        loss.backward()
        opt.step()
        return loss.item(), (out.argmax(1) == y).sum().item()

    for _ in range(spec["warmup"]):
        step()
    times = []
    for _ in range(spec["steps"]):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({
        "median_ms": statistics.median(times), "times_ms": times, "torch": torch.__version__,
        "threads": torch.get_num_threads(), "params": sum(p.numel() for p in model.parameters()),
    }))


if __name__ == "__main__":
    main()
