import { beforeAll } from 'vitest';
import { setBackend } from '../src/compute/backend.js';

// Tests run on the wasm backend unless SEQLAB_BACKEND says otherwise.
beforeAll(async () => {
  await setBackend(process.env.SEQLAB_BACKEND ?? 'wasm');
});
