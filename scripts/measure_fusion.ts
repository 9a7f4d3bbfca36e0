/**
 * Late fusion as a product of experts, measured directly on a checkout's cached predictions
 * (notebook 03's image predictions, notebook 04's text features with the TF-IDF and text-CNN
 * probabilities), without running notebooks: each step is fitted on validation (5-fold CV there)
 * and reported on test against text alone (paired bootstrap), with and without photos.
 *
 *   PROFILE=full npx tsx scripts/measure_fusion.ts [/path/to/checkout]   (default: this repository)
 */
import * as path from 'path';
import { PATHS, PROFILE } from '../src/config';
import { readPredictions } from '../src/eval/predictions_store';
import { readTextFeatures } from '../src/text/embeddings_store';
import { alignProbs } from '../src/models/fusion';
import { evaluateFusionStep, FusionSplit, fusionStepRow } from '../src/eval/fusion_steps';

const root = path.resolve(process.argv[2] ?? PATHS.root);
const dir = path.join(root, path.relative(PATHS.root, PATHS.features));

function main(): void {
  const image = readPredictions('resnet', { dir });
  const text = readTextFeatures({ dir });
  const textModel = readPredictions('text', { dir });
  const cnnName = String(text.info.embeddingFrom ?? 'cnn_finetuned');
  console.log(`profile ${PROFILE.name}, ${dir}: image model '${image.model}', text model '${textModel.model}' (text features: ${Object.keys(text.probabilities).join(', ')}; CNN ${cnnName})`);
  const split = (s: 'val' | 'test'): FusionSplit => {
    const ids = text.rowsOf(s).map((r) => text.productIds[r]);
    const img = alignProbs(image.splits[s]!, ids);
    const of = (model: string) => ids.map((id) => text.probabilitiesOf(id, model) as Float32Array);
    const chosenText = alignProbs(textModel.splits[s]!, ids);
    if (chosenText.some((r) => r === null)) throw new Error(`${s}: notebook 04's predictions lack some products of its text features`);
    return { labels: ids.map((id) => text.labels[text.rowOf(id) as number]), hasPhoto: img.map((r) => r !== null),
      experts: { image: img, tfidf: of('tfidf'), text_cnn: of(cnnName), text: chosenText as number[][] } };
  };
  const splits = { val: split('val'), test: split('test') };
  const steps: Array<[string, string[]]> = [
    ['text alone (04, a temperature + biases)', ['text']],
    ['TF-IDF + text CNN (log-linear)', ['tfidf', 'text_cnn']],
    ['+ image (03)', ['tfidf', 'text_cnn', 'image']],
    ['04 text + image (03)', ['text', 'image']],
  ];
  const results = steps.map(([name, experts]) => evaluateFusionStep(name, experts, splits, { textExpert: 'text', seed: PROFILE.seed }));
  console.table(results.map(fusionStepRow));
  for (const r of results) console.log(JSON.stringify({ step: r.name, weights: r.fit.weights, bias: r.fit.bias.map((b) => Number(b.toFixed(3))), cvFoldWeights: r.cv?.foldWeights.map((w) => w.map((v) => Number(v.toFixed(3)))) }));
  console.log(`test products: ${splits.test.labels.length} (${splits.test.hasPhoto.filter(Boolean).length} with photos)`);
}

main();
