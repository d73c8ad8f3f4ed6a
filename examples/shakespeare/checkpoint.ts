import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

/**
 * A tfjs model saved in a directory (model.json and weights.bin, the layout `tfjs-node`'s `file://`
 * handler writes), so that `model.save(checkpointSaver(dir), { includeOptimizer: true })` and
 * `tf.loadLayersModel(checkpointLoader(dir))` work without tfjs-node.
 */
export function checkpointSaver(dir: string): tf.io.IOHandler {
  return tf.io.withSaveHandler(async (artifacts) => {
    mkdirSync(dir, { recursive: true });
    const { weightData, ...rest } = artifacts;
    const bytes = weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(weightData);
    writeFileSync(join(dir, 'weights.bin'), new Uint8Array(bytes));
    writeFileSync(join(dir, 'model.json'), JSON.stringify(rest));
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  });
}

/** Reads what {@link checkpointSaver} wrote. */
export function checkpointLoader(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const artifacts = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as tf.io.ModelArtifacts;
      const bin = readFileSync(join(dir, 'weights.bin'));
      return { ...artifacts, weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) };
    },
  };
}
