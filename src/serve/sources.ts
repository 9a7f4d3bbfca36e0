/**
 * Finding what notebooks 03 and 04 trained, for the serving bundle, without re-training:
 *
 * - the text side: notebook 04 saves embeddings and probabilities but not its vocabulary or which
 *   checkpoint made them. Both are deterministic functions of the training split, so they are
 *   rebuilt here exactly as 04 builds them (tokenizeFields → Vocabulary.fit(minCount 2) on the
 *   training listings; the checkpoint's data key from the split, vocabulary hash and sequence
 *   length), checked against the hash 04 recorded, and the matching text_cnn checkpoint is found
 *   by its training record;
 * - the image side: 03's embeddings name their head checkpoint in their metadata.
 *
 * Notebook 07 then checks the loaded models reproduce the stored embeddings before serving them.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PATHS } from '../config';
import { shortHash } from '../train/loop';
import { tokenizeFields, Vocabulary } from '../text/tokenizer';

export interface TextRows {
  id: string;
  label: number;
  title: string;
  description: string;
}

/** Notebook 04's vocabulary: tokens seen ≥ 2× in the training listings. */
export function rebuildTextVocabulary(train: readonly TextRows[]): Vocabulary {
  return Vocabulary.fit(train.map((r) => { const t = tokenizeFields(r); return [...t.title, ...t.description]; }), { minCount: 2 });
}

/** Notebook 04's checkpoint data key (what its text CNN checkpoints are keyed on). */
export function textDataKey(train: readonly TextRows[], val: readonly TextRows[], vocab: Vocabulary, sequenceLength: number): string {
  return shortHash({ train: train.map((r) => [r.id, r.label]), val: val.map((r) => r.id), vocab: vocab.hash(), seqLen: sequenceLength });
}

/** 04's names of its two CNN runs, by the key its text features record (`embeddingFrom`). */
export const TEXT_CNN_RUN_NAMES: Record<string, string> = { cnn_finetuned: 'glove fine-tuned', cnn_frozen: 'glove frozen' };

/**
 * The completed text_cnn checkpoint trained on `dataKey` under the run name `name`
 * (outputs/models/<profile>/text_cnn/<hash>/training.json). Throws when there is none or several.
 */
export function findTextCnnCheckpoint(dataKey: string, name: string, modelsDir: string = PATHS.models): string {
  const stageDir = path.join(modelsDir, 'text_cnn');
  const found: string[] = [];
  if (fs.existsSync(stageDir)) {
    for (const hash of fs.readdirSync(stageDir)) {
      const file = path.join(stageDir, hash, 'training.json');
      if (!fs.existsSync(file)) continue;
      const record = JSON.parse(fs.readFileSync(file, 'utf8')) as { complete?: boolean; config?: { name?: string; data?: string } };
      if (record.complete && record.config?.name === name && record.config?.data === dataKey && fs.existsSync(path.join(stageDir, hash, 'model.json'))) {
        found.push(path.join(stageDir, hash));
      }
    }
  }
  if (found.length === 0) throw new Error(`no completed text_cnn checkpoint '${name}' for data ${dataKey} under ${stageDir}: run notebook 04 first (same PROFILE)`);
  if (found.length > 1) {
    // Same config, different settings/architecture: the most recently finished one is what 04 used last.
    found.sort((a, b) => fs.statSync(path.join(b, 'training.json')).mtimeMs - fs.statSync(path.join(a, 'training.json')).mtimeMs);
  }
  return found[0];
}

/** Largest absolute difference between two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths ${a.length} and ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}
