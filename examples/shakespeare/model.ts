import * as tf from '@tensorflow/tfjs';

/** The shape of the model: how many characters it reads, and its sizes. */
export interface ModelShape {
  readonly vocabSize: number;
  readonly context: number;
  readonly embedding: number;
  readonly hidden: number;
  readonly seed: number;
}

/**
 * A character-level language model (Bengio et al., 2003): each of the last `context` characters
 * (one-hot) is embedded, the embeddings are concatenated, and a hidden layer predicts the next character.
 * Seeded initializers make every run start from the same weights.
 */
export function charModel({ vocabSize, context, embedding, hidden, seed }: ModelShape): tf.Sequential {
  const model = tf.sequential();
  // The embedding as a dense layer without bias over one-hot characters: the same function, and its
  // gradient is a matrix product, which every backend has (tfjs-backend-wasm lacks the scatter an
  // Embedding layer's gradient needs).
  model.add(tf.layers.dense({ inputShape: [context, vocabSize], units: embedding, useBias: false, kernelInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed }) }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: hidden, activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed: seed + 1 }) }));
  model.add(tf.layers.dense({ units: vocabSize, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }));
  return model;
}
