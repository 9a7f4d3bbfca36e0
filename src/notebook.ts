/**
 * The one module a notebook imports: `startNotebook` (the first cell's header saying what runs
 * where: notebook, profile, TensorFlow.js backend, machine, so an executed notebook documents its
 * own run) and, re-exported below, the library API the notebooks call. Only notebooks import this
 * file (a src module importing it would close an import cycle through everything below).
 */
import * as os from 'os';
import { PROFILE } from './config';
import { showMarkdown } from './display';
import { recordMetrics } from './metrics_store';
import { describeRuntime, initTf, RuntimeInfo } from './tf/runtime';

export async function startNotebook(id: string, title: string): Promise<RuntimeInfo> {
  const runtime = await initTf();
  const cpus = os.cpus();
  showMarkdown(
    [
      `**${id} · ${title}** — profile **${PROFILE.name}**` + (PROFILE.name === 'smoke' ? ' (small stratified subset, few epochs: numbers are not results)' : ''),
      `${describeRuntime()}`,
      `${new Date().toISOString().slice(0, 19).replace('T', ' ')} UTC · ${cpus.length} × ${cpus[0]?.model.trim() ?? 'CPU'} · ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    ].join('  \n'),
  );
  recordMetrics('run', { backend: runtime.backend });
  return runtime;
}

// The notebook-facing API, by module.
export { contentKey } from './artifacts/content_key';
export { artifactName, artifactPath, MODELS } from './artifacts/registry';
export { buildConv5Model, conv4Engine, conv4FeatureSpec, fineTuneConv5, measureConv5Step, predictConv5 } from './backbone/conv5';
export { embeddingsPaths, extractFeatures, FeatureStore, int8FeatureSpec, onnxFeatureEngine, readImageEmbeddings,
  resnetFeatureSpec, writeImageEmbeddings } from './backbone/features';
export { cosineSummary, int8CalibrationIds, INT8_FIDELITY_PHOTOS, INT8_MAX_DROP_PP, INT8_METHODS,
  calibrationMethodNamed, INT8_METRICS_STAGE, int8WithinTolerance, measureInt8Fidelity, recordedInt8Method, resnetPrecision, RESOLUTIONS, servingViews,
  TTA_MIN_GAIN_PP } from './backbone/int8';
export { OnnxBackbone } from './backbone/onnx_backbone';
export { ensureInt8OnnxModels, ensureOnnxModel } from './backbone/onnx_export';
export { ensureResnetFeatures, featuresAsExtractedBy03, ResnetFeatureViews } from './backbone/resnet_features';
export { caffePreprocess, CONV4_OUTPUT_LAYER, featureModel, imagenetTopK, loadResnet50, readResnetArtifacts,
  tfjsFeatureEngine } from './backbone/resnet_tfjs';
export { PATHS, PROFILE } from './config';
export { writeCleaningReport, writeImageRows, writeListings, writeSplit } from './data/clean_store';
export { assignFamilies } from './data/crosspost';
export { IMAGE_SOURCE_DIR, openDataset, openImageCache, progressCallback } from './data/dataset';
export { hashedPhotos, inspectImages, inspectionSummary, usableImagesByProduct } from './data/images';
export { cleanImageTable, linkImagesToListings } from './data/images_table';
export { buildCleaningReport, cleanProducts, hasUsablePrice, MAIN_CATEGORIES, PRICE_MAX_INCLUSIVE } from './data/listings';
export type { ImageBatch } from './data/loader';
export { measurePhotoLinks } from './data/photo_hash';
export { readRawListingTables } from './data/raw_tables';
export { assertSplitValid, makeSplit, splitMembership } from './data/split';
export { SPLIT_NAMES } from './data/types';
export type { SplitName } from './data/types';
export { showMarkdown, showTable } from './display';
export { anchorOf, ANCHORS, LEAKY_NOTE } from './eval/anchors';
export { expectedCalibrationError, reliabilityBins } from './eval/calibration';
export { alignOnCommonProducts } from './eval/compare';
export { evaluateFusionStep, fusionStepRow, pairedAccuracyDifference } from './eval/fusion_steps';
export type { FusionSplit, FusionStepResult } from './eval/fusion_steps';
export { accuracy, bootstrapCI, mae, precisionAtKPerQuery, predictionsFromProbs, r2, relevantTotalsFromGallery, rmse } from './eval/metrics';
export { readPredictions, splitPredictions, writePredictions } from './eval/predictions_store';
export type { StagePredictions } from './eval/predictions_store';
export { scorePredictor } from './eval/predictor_eval';
export { evaluateImagesAndProducts, evaluateProbs, evaluationMetrics, perClassRows, photoPredictions } from './eval/product_eval';
export type { Evaluation, Predictions } from './eval/product_eval';
export { writeReport } from './eval/report';
export { correctness, logLikelihoods, productCandidates, selectOnValidation } from './eval/select';
export { GAZETTEER_ATTRIBUTION } from './geo/gazetteer';
export { Geocoder, matchRates } from './geo/geocode';
export { locationGain } from './geo/location_features';
export { readMetrics, recordMetrics } from './metrics_store';
export { buildCnn, CNN_RECIPE, cnnMacsPerImage, modelSummaryRows } from './models/cnn';
export type { CnnConfig } from './models/cnn';
export { ablationRuns, cnnSettings, evaluateCnn, reaggregate, recipeRun, teacherSettings, trainCnnRun } from './models/cnn_runs';
export { fitFeatureNorm } from './models/feature_norm';
export type { FeatureNorm, FeatureNormKind } from './models/feature_norm';
export { alignProbs, buildFusionRows, FUSION_EMBEDDING_LAYER, fusionOutputs, lateFusionProbs, PHOTO_COMBINATION,
  trainFusion } from './models/fusion';
export type { FusionAugment, FusionConfig, FusionRows } from './models/fusion';
export { averageProbs, evaluateHead, HEAD_TRAINER, headEmbeddings, RESNET_MLP_HEAD, resnetHeadSettings, resultRow, trainHeadOnFeatures } from './models/head';
export type { FeatureSplit, HeadConfig, TrainHeadOptions } from './models/head';
export { trainOnBothCores } from './train/both_cores';
export { fitElasticNet, fitOLS, fitRidge, gridSearch, logspace, paramGrid } from './models/linear';
export type { DesignMatrix, LinearModel } from './models/linear';
export { logLinearProbs } from './models/log_linear_fusion';
export { pricedRows, PriceFeaturiser, smearingFactor } from './models/price_features';
export { columnStats, fitSoftmaxRegression, poolPixels, standardiseInPlace } from './models/softmax_regression';
export { crossFittedSoftLabels } from './models/teacher';
export { buildTextCnn, embeddingModel, parameterCounts, predictBatched, sequenceBatches, TEXT_CNN_RECIPE } from './models/text_cnn';
export { display } from './notebook_env';
export { anchorsFigure, perClassF1Figure, reliabilityFigure } from './plot/evaluation_figures';
export { confusionMatrixFigure, residualFigure, scatterFigure, validationCurveFigure } from './plot/figures';
export { locationMapFigure } from './plot/location_map';
export { photoGridPng } from './plot/photo_grid';
export { showPlot } from './plot/plotly';
export { renderPng } from './plot/png';
export { TrainingCurve } from './plot/training_curve';
export { FusionPredictor } from './predictors/fusion_predictor';
export type { FusionCombination, FusionExpert } from './predictors/fusion_predictor';
export { normalizeSplit, predictorEvaluation, productMeanSplit } from './predictors/image_levers';
export { ImagePredictor } from './predictors/image_predictor';
export type { ImagePredictorSpec, PhotoAggregation } from './predictors/image_predictor';
export { listingInputs } from './predictors/listing_inputs';
export { TextPredictor } from './predictors/text_predictor';
export { deriveSeed, Rng } from './rng';
export { concatSets, embeddingSet, maxAbsDiff, meanByGroup, selectRows } from './search/embedding_set';
export type { EmbeddingSet } from './search/embedding_set';
export { categoryRetrieval, chancePrecision, dedupeByGroup, labelLists, latencySummary, overlapAtK, photoSearchRanking, photoSearchScores, scorePhotoSearch,
  rankQueries, rankQueriesExact, sameItemRetrieval } from './search/retrieval';
export type { CategoryRetrieval, PhotoSearchScores } from './search/retrieval';
export { photoDescriptor, rerankByCategory, writeSearchIndex } from './search/search_index';
export { UsearchIndex } from './search/usearch_index';
export { BruteForceIndex } from './search/vector_index';
export type { VectorIndex } from './search/vector_index';
export { fitWhitening, fitWhiteningCached, whitenSet } from './search/whitening';
export { writeServingBundle } from './serve/build_bundle';
export { SearchService } from './serve/service';
export { readTextFeatures, readTextOof, textFeaturesPaths, writeTextFeatures, writeTextOof } from './text/embeddings_store';
export { textCnnSettings, trainTextCnn } from './text/text_cnn_training';
export { blendProbs, chooseBlendWeight } from './text/ensemble';
export { fitTfidfBaseline, tfidfDocument } from './text/tfidf_baseline';
export { chooseMaxLength, encodeBatch, fractionUntruncated, isNumberToken, joinedLength, SPECIAL_TOKENS,
  tokenizeFields, Vocabulary } from './text/tokenizer';
export { loadWordVectors, nearestRows, vocabularyCoverage } from './text/word_vectors';
export { tf } from './tf/runtime';
export { trainModel } from './train/loop';
export type { TrainResult } from './train/loop';
export { confidentMistakes, predictBatches } from './train/predict';
export { describeSchedule } from './train/schedule';
export type { TrainSettings } from './train/step';

// A notebook's closing Summary cell: `import { closing } from './src/notebook'` (a namespace, so its
// short names — pct, fixed, recorded — never clash with the notebook's own).
export { oofImageHeads, oofTextCnn, oofTfidf, trainingFolds } from './eval/oof';

export * as closing from './eval/summary';
