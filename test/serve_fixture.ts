/**
 * A tiny but real serving bundle for the service's tests: a 2-layer conv "backbone" exported to
 * ONNX with the project's converter, saved image, text (TF-IDF + CNN) and fusion predictors, six
 * listings with synthetic photos, and usearch indexes over the embeddings the service itself computes for those
 * listings — the same format notebook 07 writes, in a temporary folder, with no pipeline output.
 */
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { tf } from '../src/tf/runtime';
import { artifactsOf } from './model_artifacts';
import { exportLayersModelToOnnx } from '../src/backbone/onnx_export';
import { buildHead } from '../src/models/head';
import { buildTextCnn } from '../src/models/text_cnn';
import { tokenizeFields, Vocabulary } from '../src/text/tokenizer';
import { TfidfVectoriser } from '../src/models/features';
import { tfidfDocument } from '../src/text/tfidf_baseline';
import { Rng } from '../src/rng';
import { embeddingSet } from '../src/search/embedding_set';
import { writeServingBundle, BundleInputs } from '../src/serve/build_bundle';
import type { ServingListing } from '../src/serve/bundle';
import { SearchService } from '../src/serve/service';
import { buildFusionModel } from '../src/models/fusion';
import { ImagePredictor } from '../src/predictors/image_predictor';
import { TextPredictor } from '../src/predictors/text_predictor';
import { FusionPredictor } from '../src/predictors/fusion_predictor';
import { SearchIndexChoice, writeSearchIndex } from '../src/search/search_index';
import { fitWhitening } from '../src/search/whitening';

export const CLASSES = ['Appliances', 'Baby & Kids Stuff', 'Computers & Software'];
export const SIZE = 32;

export interface TinyListing extends ServingListing {
  description: string;
  /** JPEG bytes of each photo. */
  photoBytes: Buffer[];
}

/** A photo: a colour field with a bright square whose position and colour depend on `seed`. */
export async function syntheticPhoto(seed: number, width = 80, height = 60): Promise<Buffer> {
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inSquare = Math.abs(x - ((seed * 17) % width)) < 12 && Math.abs(y - ((seed * 11) % height)) < 12;
      const o = (y * width + x) * 3;
      rgb[o] = inSquare ? 250 : (seed * 53) % 256;
      rgb[o + 1] = inSquare ? (seed * 29) % 256 : (x * 3 + seed * 7) % 256;
      rgb[o + 2] = inSquare ? 10 : (y * 4 + seed * 13) % 256;
    }
  }
  return sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

const TEXTS: Array<[string, string, number]> = [
  ['Fridge freezer for sale', 'Large fridge freezer in good working order, collection only', 0],
  ['Washing machine', 'Washing machine 7kg, works well, some marks', 0],
  ['Baby pram and pushchair', 'Pram with rain cover, suitable from birth', 1],
  ['Kids bike 16 inch', 'Childrens bike with stabilisers, good condition', 1],
  ['Gaming laptop', 'Laptop with 16GB ram and SSD, charger included', 2],
  ['Computer monitor 24 inch', 'HD monitor for computer, HDMI cable included', 2],
];

/**
 * Builds the bundle in `dir` (models under `dir`/src) and returns its listings. `fusion: 'model'`
 * serves a tiny early-fusion network (notebook 05's kind) instead of a late fusion, and its
 * fused embedding instead of the concatenation. `searchChoice`: notebook 07's search choices
 * (photo index over the head embedding, re-ranking weights) saved with the bundle. `imageViews`: views
 * the image predictor reads (default 2). `whitenedPhotos`: the photo index holds whitened backbone
 * descriptors of both views (notebook 07's whitened_features choice; the whitening fitted on seeded
 * random vectors), not the head embedding.
 */
export async function buildTinyBundle(dir: string, options: { fusion?: 'concat' | 'model'; searchChoice?: SearchIndexChoice; imageViews?: 1 | 2; whitenedPhotos?: boolean } = {}): Promise<{ listings: TinyListing[]; dir: string }> {
  const fusionKind = options.fusion ?? 'concat';
  const src = path.join(dir, 'src');
  fs.mkdirSync(src, { recursive: true });
  const searchIndexDir = path.join(src, 'search_index');
  const whiteRng = new Rng(9);
  const whitening = options.whitenedPhotos ? fitWhitening(Float32Array.from({ length: 40 * 8 }, () => whiteRng.next() - 0.5), 8, { components: 4, seed: 9 }) : null;
  const searchChoice: SearchIndexChoice | undefined = options.searchChoice ?? (whitening ? {
    photo: { index: 'whitened_features', descriptorViews: 2, validation: {} }, listing: { embedding: 'concat', rerankWeight: 0, validation: {} } } : undefined);
  if (searchChoice) writeSearchIndex(searchIndexDir, { choice: searchChoice, whitening });
  const photoDim = whitening ? whitening.outputDim : 16;

  // Backbone: conv → relu → conv → global average pool named avg_pool (8 features, signed, so the head's ReLU units differ between photos).
  const input = tf.input({ shape: [SIZE, SIZE, 3], name: 'input_1' });
  let x = tf.layers.conv2d({ filters: 8, kernelSize: 4, strides: 4, name: 'conv1', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'relu', name: 'relu1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', name: 'conv2', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(x) as tf.SymbolicTensor;
  const gap = tf.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(x) as tf.SymbolicTensor;
  const backbone = tf.model({ inputs: input, outputs: gap });
  const exported = exportLayersModelToOnnx(await artifactsOf(backbone, 'tiny'), { outputs: ['avg_pool'] });
  backbone.dispose();
  const onnxFile = path.join(src, 'tiny_backbone.onnx');
  fs.writeFileSync(onnxFile, exported.bytes);

  const head = buildHead({ inputDim: 8, numClasses: CLASSES.length, hidden: [16], dropout: 0, seed: 3 });

  const listings: TinyListing[] = [];
  for (let i = 0; i < TEXTS.length; i++) {
    const [title, description, label] = TEXTS[i];
    const photoBytes = await Promise.all((i % 2 === 0 ? [2 * i + 1, 2 * i + 2] : [2 * i + 1]).map((s) => syntheticPhoto(s * 7)));
    listings.push({ id: `listing-${i}`, title, description, price: 10 * (i + 1), category: CLASSES[label], photos: photoBytes.map((_, j) => `photo-${i}-${j}`), photoBytes });
  }
  const vocab = Vocabulary.fit(listings.map((l) => { const t = tokenizeFields(l); return [...t.title, ...t.description]; }), { minCount: 1 });
  const textCnn = buildTextCnn({ vocabSize: vocab.size, sequenceLength: 12, numClasses: CLASSES.length, embeddingDim: 8, kernelSizes: [2], filters: 4,
    hiddenUnits: 16, dropout: 0, embeddingDropout: 0, seed: 4 });
  const vectoriser = new TfidfVectoriser({ minDf: 1, sublinearTf: true }).fit(listings.map((l) => tfidfDocument(l, 2)));
  const rng = new Rng(6);
  const kernel = Float32Array.from({ length: vectoriser.vocabulary.length * CLASSES.length }, () => rng.next() - 0.5);

  const predictorsDir = path.join(src, 'predictors');
  const image = new ImagePredictor({ label: 'tiny image model', classes: CLASSES, featureDim: 8, views: options.imageViews ?? 2, aggregate: 'mean_probability', features: 'tiny backbone' }, [head], head);
  const text = new TextPredictor({ label: 'tiny text model', classes: CLASSES, cnnWeight: 0.5, cnn: 'tiny text CNN' },
    { vectoriser, titleRepeats: 2, kernel, bias: new Float32Array(CLASSES.length) }, { model: textCnn, vocabulary: vocab, sequenceLength: 12 });
  const early = fusionKind === 'model' ? buildFusionModel({ imageDim: 8, textDim: 16, numClasses: CLASSES.length, branchWidth: 8, imageInputDropout: 0, textInputDropout: 0, dropout: 0, seed: 5 }) : null;
  const fusion = new FusionPredictor({ label: fusionKind === 'model' ? 'tiny early fusion' : 'tiny late fusion', classes: CLASSES,
    combination: early ? { kind: 'early' } : { kind: 'late', imageWeight: 0.4 } }, image, text, early);
  await image.save(path.join(predictorsDir, 'image'));
  await text.save(path.join(predictorsDir, 'text'));
  await fusion.save(path.join(predictorsDir, 'fusion'));
  fusion.dispose();
  const fusedDim = fusionKind === 'model' ? 16 : 32;

  const inputs = (vectors?: { image: Float32Array; text: Float32Array; fused: Float32Array }): BundleInputs => {
    const photoIds = listings.flatMap((l) => l.photos);
    return {
      dir, profile: 'test', classes: CLASSES, listings: listings.map(({ photoBytes: _p, description: _d, ...l }) => l),
      backbone: { onnxFile, inputName: exported.inputName, output: 'avg_pool', featureDim: 8, size: SIZE, preprocessing: 'caffe' },
      predictors: { image: path.join(predictorsDir, 'image'), text: path.join(predictorsDir, 'text'), fusion: path.join(predictorsDir, 'fusion') },
      ...(searchChoice ? { searchIndex: searchIndexDir } : {}),
      fusedQuery: fusionKind === 'model' ? { kind: 'fusion_embedding' } : { kind: 'concat', imageWeight: 0.5, textWeight: 0.5 },
      indexes: {
        image: { set: embeddingSet(photoIds, photoDim, vectors?.image ?? Float32Array.from({ length: photoIds.length * photoDim }, (_, i) => (i % 5) + 1)),
          listingIds: listings.flatMap((l) => l.photos.map(() => l.id)), unit: 'photo', embedding: 'image head embedding per photo' },
        text: { set: embeddingSet(listings.map((l) => l.id), 16, vectors?.text ?? Float32Array.from({ length: listings.length * 16 }, (_, i) => (i % 7) + 1)),
          listingIds: listings.map((l) => l.id), unit: 'listing', embedding: 'text CNN embedding' },
        fused: { set: embeddingSet(listings.map((l) => l.id), fusedDim, vectors?.fused ?? Float32Array.from({ length: listings.length * fusedDim }, (_, i) => (i % 3) + 1)),
          listingIds: listings.map((l) => l.id), unit: 'listing', embedding: 'concat of image (mean of photos) and text embeddings' },
      },
    };
  };

  // First pass with placeholder vectors, to compute every listing's embeddings with the service itself.
  writeServingBundle(inputs());
  const service = await SearchService.load(dir, { workers: 1 });
  const imageVectors: number[] = [];
  const textVectors: number[] = [];
  const fused: number[] = [];
  try {
    for (const l of listings) {
      for (const bytes of l.photoBytes) {
        const q = await service.encode({ images: [bytes] });
        imageVectors.push(...(q.photoQueries as Float32Array[])[0]);
      }
      const t = await service.encode({ images: [], title: l.title, description: l.description });
      textVectors.push(...(t.textEmbedding as Float32Array));
      // The gallery's fused vector is what a query of all the listing's photos + its text computes.
      const q = await service.encode({ images: l.photoBytes, title: l.title, description: l.description });
      fused.push(...(q.fused as Float32Array));
    }
  } finally {
    await service.close();
  }
  writeServingBundle(inputs({ image: Float32Array.from(imageVectors), text: Float32Array.from(textVectors), fused: Float32Array.from(fused) }));
  return { listings, dir };
}
