// onnxruntime-web in a worker of its own, started by model-host.js. Creating a session is mostly
// synchronous work on the calling thread (the wasm runtime, its threads, graph optimisation);
// here it runs beside Pyodide's start instead of taking turns with it on worker.js's thread.
//
// Messages in: {id, type: 'init', wasmPaths, threads} | {id, type: 'create', key, bytes,
// provider: 'wasm'|'webgpu'} | {id, type: 'run', key, inputName, outputName, data, dims} |
// {id, type: 'release', key}. Out: {id, result} or {id, error: message}. Run inputs and
// outputs are transferred, not copied.
// Two builds of onnxruntime-web 1.30, each loaded only when a session asks for its provider:
// - WASM: ort.wasm.min.mjs and the plain wasm binary (14 MB). The JSEP binary that WebGPU
//   needs (28 MB, Asyncify-instrumented) runs IS-Net on the CPU at the same steady speed, but
//   its first two runs took 18 s each against 7-8 s here (tests/bench/widen.py). On the plain
//   build IS-Net's float16 weights need no widening to float32 first: as fast, and 90 MiB less.
// - WebGPU: ort.min.mjs and the JSEP binary.
const BUNDLES = { wasm: './ort/ort.wasm.min.mjs', webgpu: './ort/ort.min.mjs' };
const BINARIES = { wasm: 'ort-wasm-simd-threaded.wasm', webgpu: 'ort-wasm-simd-threaded.jsep.wasm' };
// Binaries over a host's per-file limit (25 MiB on some: the JSEP one is 27 MiB) are served in
// parts, named here by build.py; joined, they are handed to onnxruntime as env.wasm.wasmBinary.
const SPLIT = new URL('./ort/split.json', import.meta.url);
const runtimes = new Map(); // provider -> Promise of the ort module
let settings = null; // {wasmPaths, threads}
const sessions = new Map(); // key -> {session, ort}

async function init({ wasmPaths, threads }) {
  settings = { wasmPaths, threads };
  return { threads };
}

function runtime(provider) {
  if (!runtimes.has(provider)) {
    runtimes.set(provider, Promise.all([importBundle(BUNDLES[provider]), joinedBinary(BINARIES[provider])])
      .then(([ort, binary]) => {
        ort.env.wasm.wasmPaths = settings.wasmPaths;
        if (binary) ort.env.wasm.wasmBinary = binary;
        ort.env.wasm.numThreads = settings.threads;
        ort.env.logLevel = 'error';
        return ort;
      }));
  }
  return runtimes.get(provider);
}

/** Why the service worker could not serve `reply` (a 504 whose Offcut-Error header names the
 *  problem, e.g. cache-corrupt-offline), or its HTTP status. */
async function whyNot(reply) {
  const code = reply.headers.get('Offcut-Error');
  if (!code) return `HTTP ${reply.status}`;
  return `${code} (${(await reply.json().catch(() => ({}))).message || 'no details'})`;
}

/** import() of an onnxruntime bundle. A failed import says only that it failed: the service
 *  worker's answer for the same file says why (model-host.js passes it on with its fallback). */
async function importBundle(url) {
  try {
    return await import(url);
  } catch (error) {
    const reply = await fetch(url).catch(() => null);
    if (reply && !reply.ok) throw new Error(`${url}: ${await whyNot(reply)}`);
    throw error;
  }
}

let splitList = null; // Promise of build.py's ort/split.json: {binary name: [part names]}

/** The binary `name` joined from its parts, or null when it is served whole. */
async function joinedBinary(name) {
  splitList ||= fetch(SPLIT).then((response) => {
    if (!response.ok) throw new Error(`${SPLIT.pathname}: HTTP ${response.status}`);
    return response.json();
  });
  const parts = (await splitList)[name];
  if (!parts) return null;
  // Through the service worker like every file of the site: it keeps these parts (verified)
  // the first time they are fetched, since it does not download them at install (only WebGPU
  // needs them).
  const blobs = await Promise.all(parts.map(async (part) => {
    const reply = await fetch(new URL(part, SPLIT));
    if (!reply.ok) throw new Error(`${part}: ${await whyNot(reply)}`);
    return reply.blob();
  }));
  return new Uint8Array(await new Blob(blobs).arrayBuffer());
}

async function create({ key, bytes, provider }) {
  const ort = await runtime(provider);
  const session = await ort.InferenceSession.create(bytes, provider === 'webgpu'
    ? { executionProviders: ['webgpu'] }
    : { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  sessions.set(key, { session, ort });
  return { outputNames: session.outputNames };
}

async function run({ key, inputName, outputName, data, dims }) {
  const entry = sessions.get(key);
  if (!entry) throw new Error(`no session ${key}`);
  const { session, ort } = entry;
  const outputs = await session.run({ [inputName]: new ort.Tensor('float32', data, dims) });
  const out = outputs[outputName].data.slice();
  for (const value of Object.values(outputs)) value.dispose?.();
  return { result: out, transfer: [out.buffer] };
}

async function release({ key }) {
  const entry = sessions.get(key);
  sessions.delete(key);
  if (entry) await entry.session.release();
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
