/**
 * Published numbers of the public versions of this exercise, to compare against (notebook 06
 * and REPORT.md). They come from the seeds' and the best peers' write-ups, which split the data
 * **by photo** (photos of one product in both train and test: leaky); ours is split by product
 * and cross-post family. Accuracy unless marked; `split` says where they measured it.
 */
export interface AnchorPoint {
  /** Who reported it: 'seeds' or 'peers'. */
  who: 'seeds' | 'peers';
  value: number;
  split: 'val' | 'test' | 'unspecified';
}

export interface Anchor {
  /** metrics.json stage it compares with. */
  stage: string;
  /** What the published number is about. */
  what: string;
  /** The published range, as written (e.g. "58–66 % (66 % val, 64 % test)"). */
  text: string;
  low: number;
  high: number;
  points: AnchorPoint[];
  metric: 'accuracy' | 'r2';
}

export const LEAKY_NOTE = 'published numbers of the seeds and peers, measured on photo-level (leaky) splits: photos of one product could be in both train and test';

export const ANCHORS: Anchor[] = [
  { stage: 'price_regression', what: 'price regression', text: "seeds' best R² 0.088", low: 0.088, high: 0.088, metric: 'r2',
    points: [{ who: 'seeds', value: 0.088, split: 'unspecified' }] },
  { stage: 'pixel_logreg', what: 'logistic regression on pixels', text: 'seeds 15–17 %', low: 0.15, high: 0.17, metric: 'accuracy',
    points: [{ who: 'seeds', value: 0.15, split: 'unspecified' }, { who: 'seeds', value: 0.17, split: 'unspecified' }] },
  { stage: 'cnn', what: 'custom CNN', text: 'seeds 15–17 %, best peer ~45 % (val)', low: 0.15, high: 0.45, metric: 'accuracy',
    points: [{ who: 'seeds', value: 0.17, split: 'unspecified' }, { who: 'peers', value: 0.45, split: 'val' }] },
  { stage: 'resnet', what: 'ResNet-50 transfer', text: 'peers 58–66 % (66 % val, 64 % test)', low: 0.58, high: 0.66, metric: 'accuracy',
    points: [{ who: 'peers', value: 0.66, split: 'val' }, { who: 'peers', value: 0.64, split: 'test' }] },
  { stage: 'text', what: 'text model', text: 'BERT peers 79–83 %', low: 0.79, high: 0.83, metric: 'accuracy',
    points: [{ who: 'peers', value: 0.83, split: 'unspecified' }] },
  { stage: 'fusion', what: 'image + text fusion', text: 'peers 85 % val, 77 % test', low: 0.77, high: 0.85, metric: 'accuracy',
    points: [{ who: 'peers', value: 0.85, split: 'val' }, { who: 'peers', value: 0.77, split: 'test' }] },
];

export function anchorOf(stage: string): Anchor | undefined {
  const base = stage.startsWith('fusion') ? 'fusion' : stage;
  return ANCHORS.find((a) => a.stage === base);
}
