import { parentPort } from 'node:worker_threads';
import { frobeniusNorm, spectralNorm } from './linalg.js';
import type { NormReply, NormRequest } from './norms-async.js';

/**
 * The probes' norm thread: Frobenius and spectral norms of Jacobians the sweep has read
 * back, in order, while the sweep goes on with the next steps on the other core. The
 * spectral solver's warm start (the previous matrix's top singular vector) is kept per
 * sequence between requests of one sweep.
 */
let warm: Float64Array[] = [];

(parentPort as NonNullable<typeof parentPort>).on('message', (req: NormRequest) => {
  const { data, logScale, count, batch, R, C } = req;
  if (req.first) warm = Array.from({ length: batch }, () => new Float64Array(C).fill(1));
  const fro = new Float64Array(count * batch);
  const spec = new Float64Array(count * batch);
  for (let i = 0; i < count; i++) {
    for (let b = 0; b < batch; b++) {
      const off = (i * batch + b) * R * C;
      const scale = Math.exp(logScale[i * batch + b]);
      fro[i * batch + b] = scale * frobeniusNorm(data, off, R, C);
      spec[i * batch + b] = scale * spectralNorm(data, off, R, C, warm[b]);
    }
  }
  const reply: NormReply = { id: req.id, fro, spec };
  (parentPort as NonNullable<typeof parentPort>).postMessage(reply, [fro.buffer, spec.buffer]);
});
