// onnxruntime-web's plain WASM build (the app's WASM path) in Node: session creation and one
// run of each ONNX file given, on one float32 input; the outputs are written next to it for
// tests/bench/quantized_web.py to compare with native onnxruntime.
//
//   node tests/bench/quantized_wasm.mjs ORT_DIST INPUT.bin SIDE THREADS MODEL.onnx...
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [ortDist, inputPath, side, threads, ...models] = process.argv.slice(2);
const ort = await import(pathToFileURL(`${ortDist}/ort.wasm.min.mjs`).href);
ort.env.wasm.numThreads = Number(threads);
ort.env.wasm.wasmPaths = pathToFileURL(`${ortDist}/`).href;
const bytes = readFileSync(inputPath);
const input = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
const results = [];
for (const model of models) {
  let start = performance.now();
  const session = await ort.InferenceSession.create(readFileSync(model),
    { executionProviders: ['wasm'] });
  const create = (performance.now() - start) / 1000;
  const feed = new ort.Tensor('float32', input, [1, 3, Number(side), Number(side)]);
  start = performance.now();
  const outputs = await session.run({ [session.inputNames[0]]: feed });
  const run = (performance.now() - start) / 1000;
  const output = outputs[session.outputNames[0]].data;
  writeFileSync(`${model}.wasm-out.bin`, Buffer.from(output.buffer, output.byteOffset,
    output.byteLength));
  results.push({ model, create, run, heap_mib: process.memoryUsage().rss / 2 ** 20 });
  await session.release();
}
console.log(JSON.stringify(results));
