// tests/bench/widen.py's worker: the A/B runs, where the app runs ORT (a module worker).
// A variant is 'served', 'widened' or a file's name (see below), then '@plain' (ort.wasm.min.mjs, the app's WASM build) or
// '@jsep' (ort.min.mjs, the build the app uses for WebGPU); one build per worker.
const BUNDLES = { plain: '/ort/ort.wasm.min.mjs', jsep: '/ort/ort.min.mjs' };
onmessage = async ({ data: { modelId, rounds, origin, input, runs = 2, pause = 0, variants = ['served@plain', 'widened@plain'], options = {} } }) => {
  const at = (path) => new URL(path, origin).href;
  const ort = await import(at(BUNDLES[variants[0].split('@')[1] || 'plain']));
  ort.env.wasm.wasmPaths = at('/ort/');
  ort.env.wasm.numThreads = Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1));
  ort.env.logLevel = 'error';
  const index = await (await fetch(at('/models/index.json'))).json();
  const entry = index.find((m) => m.id === modelId);
  const parts = await Promise.all(entry.parts.map(async (p) => new Uint8Array(await (await fetch(at('/' + p.url))).arrayBuffer())));
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) { bytes.set(p, offset); offset += p.length; }
  // Any other name: a file widen.py put at /bench-NAME.onnx for the run ('float16': the
  // patched float16 file the served int8 one is made from; --file NAME=PATH: any file).
  const files = {};
  for (const variant of variants) {
    const name = variant.split('@')[0];
    if (name === 'served' || name === 'widened' || files[name]) continue;
    files[name] = new Uint8Array(await (await fetch(at(`/bench-${name}.onnx`))).arrayBuffer());
  }
  const side = entry.input.size;
  const rows = [];
  const outputs = {};
  for (let round = 0; round < rounds; round += 1) {
    for (const variant of variants) {
      const t0 = performance.now();
      const name = variant.split('@')[0];
      const model = name === 'widened' ? widenFloat16(bytes) : files[name] || bytes;
      const t1 = performance.now();
      const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all', ...options });
      const t2 = performance.now();
      const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input, [1, 3, side, side]) };
      const first = await session.run(feeds);
      const t3 = performance.now();
      const later = [];
      for (let run = 1; run < runs; run += 1) {
        if (pause) await new Promise((resolve) => setTimeout(resolve, pause * 1e3));
        const start = performance.now();
        await session.run(feeds);
        later.push((performance.now() - start) / 1e3);
      }
      const t4 = t3 + 1e3 * later[later.length - 1];
      outputs[variant] = first[session.outputNames[0]].data;
      await session.release();
      rows.push({ variant, widen: (t1 - t0) / 1e3, create: (t2 - t1) / 1e3, first: (t3 - t2) / 1e3, steady: (t4 - t3) / 1e3, later });
    }
  }
  const [variant] = Object.keys(outputs);
  postMessage({ rows, threads: ort.env.wasm.numThreads, isolated: self.crossOriginIsolated, output: outputs[variant], modelBytes: bytes.length, widenedBytes: widenFloat16(bytes).length });
};
