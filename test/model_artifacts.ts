/** Test helper: a tfjs model serialised into the artifacts shape the ONNX exporter reads (as if from model.json + shards). */
import { tf } from '../src/tf/runtime';
import type { ResnetArtifacts, ResnetModelJson } from '../src/backbone/resnet_tfjs';

export async function artifactsOf(model: tf.LayersModel, hash: string): Promise<ResnetArtifacts> {
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save({
    save: async (a: tf.io.ModelArtifacts) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    },
  });
  const a = saved as unknown as tf.io.ModelArtifacts;
  const json = { modelTopology: { model_config: a.modelTopology }, weightsManifest: [{ paths: [], weights: a.weightSpecs }] } as unknown as ResnetModelJson;
  return { json, weightSpecs: a.weightSpecs as tf.io.WeightsManifestEntry[], weightData: a.weightData as ArrayBuffer, hash };
}
