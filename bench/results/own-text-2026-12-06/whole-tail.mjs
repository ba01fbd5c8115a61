// whole-tail evaluation of each run's best checkpoint, and the whole-tail unigram baseline of its data
import { readFileSync } from 'node:fs';
import { load } from '/work/main/dist/src/index.js';
import { prepareData, unigramBaseline } from '/work/main/dist/src/train/data.js';
import { resolveConfig } from '/work/main/dist/src/config/load.js';
for (const dir of process.argv.slice(2)) {
  const cfg = resolveConfig(`${dir}/config.yaml`, []).config;
  const data = prepareData(cfg);
  const text = data.vocab.decode(data.val);
  const m = load(`${dir}/best.safetensors`);
  const ev = m.evaluate(text);
  const s = JSON.parse(readFileSync(`${dir}/summary.json`, 'utf8'));
  const b = unigramBaseline(data);
  console.log(JSON.stringify({ dir, hidden: cfg.model.hidden, V: data.vocab.size, max_vocab: cfg.data.max_vocab, steps: s.steps, epochs: s.epochs,
    tps: s.median_tokens_per_s, best_subset: s.best_val_loss, val_chars_subset: s.val_chars, whole_tail: ev.loss, whole_chars: ev.characters, unigram_whole: b.loss, unseen: b.unseen }));
}
