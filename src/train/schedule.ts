/**
 * Learning-rate schedules as plain data (so they can be hashed into a checkpoint key and
 * printed), evaluated at a fractional epoch: `epoch = 2.5` is halfway through the third
 * epoch. The training loop asks for the rate before every step.
 *
 *  - constant: `base` throughout;
 *  - step: `base · gamma^⌊epoch / every⌋` (e.g. ×0.1 every 10 epochs);
 *  - cosine: half a cosine from `base` at the end of warm-up down to `min` at `epochs`.
 *
 * Every schedule may start with a linear warm-up over `warmupEpochs`, from near 0 up to
 * `base`: with batch-norm and Adam a short warm-up avoids a bad first epoch at a high rate.
 */

export type ScheduleSpec =
  | { kind: 'constant'; base: number; warmupEpochs?: number }
  | { kind: 'step'; base: number; every: number; gamma: number; warmupEpochs?: number }
  | { kind: 'cosine'; base: number; min?: number; warmupEpochs?: number };

/** The learning rate at fractional epoch `epoch` (0 = start) of a run of `totalEpochs`. */
export function learningRateAt(spec: ScheduleSpec, epoch: number, totalEpochs: number): number {
  checkSpec(spec);
  if (!(epoch >= 0)) throw new Error(`epoch must be ≥ 0, got ${epoch}`);
  if (!(totalEpochs > 0)) throw new Error(`totalEpochs must be > 0, got ${totalEpochs}`);
  const warmup = Math.min(spec.warmupEpochs ?? 0, totalEpochs);
  if (warmup > 0 && epoch < warmup) {
    // Linear from base/steps-ish to base: never exactly 0, so the first step still moves.
    return spec.base * Math.max(epoch / warmup, 1e-3);
  }
  switch (spec.kind) {
    case 'constant':
      return spec.base;
    case 'step':
      return spec.base * Math.pow(spec.gamma, Math.floor(epoch / spec.every));
    case 'cosine': {
      const min = spec.min ?? 0;
      const span = totalEpochs - warmup;
      const t = span > 0 ? Math.min(1, Math.max(0, (epoch - warmup) / span)) : 1;
      return min + (spec.base - min) * 0.5 * (1 + Math.cos(Math.PI * t));
    }
  }
}

/** The rate at the start of each epoch (1-based index i → rate at epoch i-1), for a table or plot. */
export function scheduleTable(spec: ScheduleSpec, totalEpochs: number): Array<{ epoch: number; lr: number }> {
  const rows: Array<{ epoch: number; lr: number }> = [];
  for (let e = 0; e < totalEpochs; e++) rows.push({ epoch: e + 1, lr: learningRateAt(spec, e, totalEpochs) });
  return rows;
}

/** One line: "cosine 1e-3 → 1e-5 over 30 epochs, 1 warm-up epoch". */
export function describeSchedule(spec: ScheduleSpec, totalEpochs: number): string {
  const warm = spec.warmupEpochs ? `, ${spec.warmupEpochs} warm-up epoch${spec.warmupEpochs === 1 ? '' : 's'}` : '';
  const fmt = (v: number) => String(Number(v.toPrecision(3)));
  switch (spec.kind) {
    case 'constant':
      return `constant ${fmt(spec.base)} for ${totalEpochs} epochs${warm}`;
    case 'step':
      return `step ${fmt(spec.base)} × ${spec.gamma} every ${spec.every} epochs, ${totalEpochs} epochs${warm}`;
    case 'cosine':
      return `cosine ${fmt(spec.base)} → ${fmt(spec.min ?? 0)} over ${totalEpochs} epochs${warm}`;
  }
}

function checkSpec(spec: ScheduleSpec): void {
  if (!(spec.base > 0) || !Number.isFinite(spec.base)) throw new Error(`learning rate base must be a positive number, got ${spec.base}`);
  if (spec.warmupEpochs !== undefined && !(spec.warmupEpochs >= 0)) throw new Error(`warmupEpochs must be ≥ 0, got ${spec.warmupEpochs}`);
  if (spec.kind === 'step') {
    if (!(spec.every > 0)) throw new Error(`step schedule: 'every' must be > 0, got ${spec.every}`);
    if (!(spec.gamma > 0)) throw new Error(`step schedule: 'gamma' must be > 0, got ${spec.gamma}`);
  }
  if (spec.kind === 'cosine' && spec.min !== undefined && !(spec.min >= 0 && spec.min <= spec.base)) {
    throw new Error(`cosine schedule: min must lie in [0, base], got ${spec.min}`);
  }
}
