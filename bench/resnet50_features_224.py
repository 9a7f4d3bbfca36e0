#!/usr/bin/env python3
"""Reference side of bench resnet50_features_224: PyTorch CPU ResNet-50 forward at 224 px.

Debian's python3-torch has no torchvision, so ResNet-50 is built here in plain torch.nn, in
the same layout as the Keras ImageNet model our side runs (the "v1" bottleneck: stride 2 on
the first 1x1 conv of a stage; 25.6 M parameters, 1000-way fc). Weights are random: speed
does not depend on them. The features are the global-average-pooled 2048-d vector, as ours.

Eager mode, eval(), torch.no_grad(), float32, NCHW — the way PyTorch inference usually runs.
`--variant frozen` also tries TorchScript freeze (folds BatchNorm into the convs, like our
ONNX export) and `--variant channels_last` the NHWC memory format; both are reported for
information, the benchmark's reference is the plain eager model.

Prints one JSON object: {"img_per_s_median": ..., "batch_seconds": [...], ...}.
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, width, stride, downsample):
        super().__init__()
        cout = width * self.expansion
        # Keras / Caffe ResNet-50 v1: the stride sits on the first 1x1 conv.
        self.conv1 = nn.Conv2d(cin, width, 1, stride=stride, bias=True)
        self.bn1 = nn.BatchNorm2d(width, eps=1e-3)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=True)
        self.bn2 = nn.BatchNorm2d(width, eps=1e-3)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=True)
        self.bn3 = nn.BatchNorm2d(cout, eps=1e-3)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=True), nn.BatchNorm2d(cout, eps=1e-3))
            if downsample
            else None
        )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet50(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=True),
            nn.BatchNorm2d(64, eps=1e-3),
            nn.ReLU(inplace=True),
            nn.ZeroPad2d(1),
            nn.MaxPool2d(3, stride=2),
        )
        layers = []
        cin = 64
        for width, blocks, stride in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
            for b in range(blocks):
                layers.append(Bottleneck(cin, width, stride if b == 0 else 1, downsample=(b == 0)))
                cin = width * 4
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, num_classes)

    def features(self, x):
        return torch.flatten(self.pool(self.layers(self.stem(x))), 1)

    def forward(self, x):
        return self.features(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--variant", choices=["eager", "frozen", "channels_last"], default="eager")
    ap.add_argument("--input", help="raw float32 NHWC photos (caffe-preprocessed, batch x 224 x 224 x 3) to run instead of random data")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = ResNet50().eval()
    params = sum(p.numel() for p in model.parameters())
    if args.input:
        # The same photos as our side: NHWC float32 -> NCHW.
        x = torch.from_file(args.input, size=args.batch * 224 * 224 * 3, dtype=torch.float32).reshape(args.batch, 224, 224, 3).permute(0, 3, 1, 2).contiguous()
    else:
        x = torch.randn(args.batch, 3, 224, 224)
    if args.variant == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        if args.variant == "frozen":
            model = torch.jit.freeze(torch.jit.trace(model, x))
        for _ in range(args.warmup):
            model(x)
        times = []
        cpu0 = time.process_time()
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            y = model(x)
            times.append(time.perf_counter() - t0)
        cpu = time.process_time() - cpu0
    assert tuple(y.shape) == (args.batch, 2048), y.shape
    times_sorted = sorted(times)
    median = times_sorted[len(times) // 2] if len(times) % 2 else 0.5 * (times_sorted[len(times) // 2 - 1] + times_sorted[len(times) // 2])
    print(json.dumps({
        "img_per_s_median": args.batch / median,
        "batch_seconds": times,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "variant": args.variant,
        "cpu_seconds": cpu,
        "images": args.batch * args.repeats,
        "torch": torch.__version__,
        "parameters": params,
    }))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
