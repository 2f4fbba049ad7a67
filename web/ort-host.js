// onnxruntime-web in a worker of its own, started by worker.js. Creating a session is mostly
// synchronous work on the calling thread (the wasm runtime, its threads, graph optimisation);
// here it runs beside Pyodide's start instead of taking turns with it on worker.js's thread.
//
// Messages in: {id, type: 'init', wasmPaths, threads} | {id, type: 'create', key, bytes,
// provider: 'wasm'|'webgpu'} | {id, type: 'run', key, inputName, outputName, data, dims} |
// {id, type: 'release', key}. Out: {id, result} or {id, error: message}. Run inputs and
// outputs are transferred, not copied.
import { widenFloat16 } from './widen.js';

let ort = null;
const sessions = new Map(); // key -> InferenceSession

async function init({ wasmPaths, threads }) {
  ort = await import('./ort/ort.min.mjs');
  ort.env.wasm.wasmPaths = wasmPaths;
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = 'error';
  return { threads: ort.env.wasm.numThreads };
}

async function create({ key, bytes, provider }) {
  const session = provider === 'webgpu'
    ? await ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'] })
    // float16 weights widened first (see widen.js: IS-Net's session is then ready in a
    // quarter of the time, and its first run in half).
    : await ort.InferenceSession.create(widenFloat16(bytes), {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
    });
  sessions.set(key, session);
  return { outputNames: session.outputNames };
}

async function run({ key, inputName, outputName, data, dims }) {
  const session = sessions.get(key);
  if (!session) throw new Error(`no session ${key}`);
  const outputs = await session.run({ [inputName]: new ort.Tensor('float32', data, dims) });
  const out = outputs[outputName].data.slice();
  for (const value of Object.values(outputs)) value.dispose?.();
  return { result: out, transfer: [out.buffer] };
}

async function release({ key }) {
  const session = sessions.get(key);
  sessions.delete(key);
  if (session) await session.release();
  return null;
}

const HANDLERS = { init, create, release };

self.onmessage = async ({ data: message }) => {
  try {
    if (message.type === 'run') {
      const { result, transfer } = await run(message);
      self.postMessage({ id: message.id, result }, transfer);
    } else {
      self.postMessage({ id: message.id, result: await HANDLERS[message.type](message) });
    }
  } catch (error) {
    self.postMessage({ id: message.id, error: String(error?.message || error) });
  }
};
