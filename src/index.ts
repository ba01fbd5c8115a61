// bptt as a library (package.json "exports"): train a run, load a checkpoint, sample and evaluate,
// and serve the live board. The command line is built on these same functions.
//
//   import { train, load } from 'bptt';
//   const run = await train({ data: { path: 'my.txt' }, run: { time_budget: '2m', out: 'runs/mine' } },
//     { onReport: (r) => console.log(r.step, r.val_loss) });
//   const model = load(`${run.dir}/best.safetensors`);
//   console.log(model.sample('ROMEO:', { length: 200, temperature: 0.8 }));

export { train, type ConfigInput, type TrainOptions, type TrainResult } from './api/train.js';
export { load, evaluate, Model, MAX_SAMPLE_LENGTH, type Evaluation, type SampleOptions } from './api/model.js';
export { startBoard, type Board, type BoardOptions } from './board/server.js';
export { resolveConfigObject as resolveConfig } from './config/load.js';
export { DEFAULTS, type TrainConfig } from './config/schema.js';
export type { Report, Progress } from './train/trainer.js';
export type { RunSummary } from './train/rundir.js';
export { InputError } from './util/errors.js';
