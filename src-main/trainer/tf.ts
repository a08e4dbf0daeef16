/**
 * The one import of TF.js. tfjs-core alone registers no gradients, so the layers
 * package is imported for its side effect (it registers every op's gradient).
 * Only trainer code imports this file: the main process never loads tfjs.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';

// Production mode: no debug checks, and no "install tfjs-node" banner on the cpu backend.
tf.env().set('PROD', true);

export { tf };

/**
 * A variable that owns its storage: tf.variable() shares the initial tensor's data
 * (refCount 2), so the initial handle is disposed here. Storage owned by exactly one
 * tensor is what lets the wasm optimizer update it in place.
 */
export function ownedVariable<R extends tf.Rank>(init: tf.Tensor<R>, trainable: boolean, name: string): tf.Variable<R> {
  const v = tf.variable(init, trainable, name);
  init.dispose();
  return v;
}
