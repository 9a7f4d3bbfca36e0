/**
 * The one content key of the project: 12 hex digits of SHA-256 over a value's canonical JSON
 * (object keys sorted at every level, undefined fields dropped) or over raw bytes.
 *
 * Every cache and checkpoint is named by it (training runs, backbone features, image caches,
 * the ONNX export, fusion inputs), so "same inputs → same file" holds everywhere the same way.
 */
import * as crypto from 'crypto';

/** JSON with object keys sorted at every level: equal values give equal text. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(sortDeep(value));
}

function sortDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep);
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value as object).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortDeep(v);
    }
    return out;
  }
  return value;
}

/** 12 hex digits of SHA-256: of the bytes themselves for a typed array / Buffer, else of `stableStringify(value)`. */
export function contentKey(value: unknown): string {
  const hash = crypto.createHash('sha256');
  if (ArrayBuffer.isView(value)) hash.update(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
  else hash.update(stableStringify(value));
  return hash.digest('hex').slice(0, 12);
}
