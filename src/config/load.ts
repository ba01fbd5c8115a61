// Resolving a run's configuration: DEFAULTS < config file (YAML or JSON) < environment
// (BPTT_SECTION_KEY, e.g. BPTT_OPTIM_LR=50) < command-line flags and --set key=value. Parsing is
// pure (no process access) so it can be tested; the CLI passes argv-derived overrides and env.
// Every error names the file, line:column where there is one, and the key path; it is an
// InputError (exit 2) and nothing has been written when it is thrown.

import { MiB, readRegularFile } from '../io/files.js';
import { isMap, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { InputError } from '../util/errors.js';
import { ConfigSchema, DEFAULTS, type TrainConfig } from './schema.js';

export type Source = 'default' | 'file' | 'env' | 'flag';

export interface Override {
  /** dotted key path, e.g. optim.lr */
  key: string;
  value: unknown;
  source: Source;
  /** e.g. "--set optim.lr=5" or "BPTT_OPTIM_LR" for messages */
  origin: string;
}

export interface ResolvedConfig {
  config: TrainConfig;
  sources: Record<string, Source>;
  file: string | null;
}

/** All leaf key paths of the schema ("model.hidden", "data.preprocess.newlines_to_spaces", ...). */
export function leafKeys(obj: Record<string, unknown> = DEFAULTS as unknown as Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(obj).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? leafKeys(v as Record<string, unknown>, `${prefix}${k}.`) : [`${prefix}${k}`]);
}

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

/** " (did you mean optim.lr?)" when a known key is close to `key`, else "". */
export function didYouMean(key: string): string {
  const known = [...leafKeys(), ...Object.keys(DEFAULTS), 'data.preprocess'];
  const leaf = key.split('.').pop()!;
  let best = '';
  let bestD = Infinity;
  for (const k of known) {
    if (k === key) continue; // never "unknown key model (did you mean model?)"
    const d = Math.min(levenshtein(key, k), levenshtein(leaf, k.split('.').pop()!) + (k.startsWith(key.split('.').slice(0, -1).join('.')) ? 0 : 2));
    if (d < bestD) { bestD = d; best = k; }
  }
  return bestD <= Math.max(2, Math.floor(leaf.length / 3)) ? ` (did you mean ${best}?)` : '';
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let o = obj;
  for (const p of path.slice(0, -1)) {
    if (o[p] === null || typeof o[p] !== 'object' || Array.isArray(o[p])) o[p] = {};
    o = o[p] as Record<string, unknown>;
  }
  o[path[path.length - 1]] = value;
}

export function merge(base: unknown, over: unknown): unknown {
  if (over === null || typeof over !== 'object' || Array.isArray(over) || base === null || typeof base !== 'object' || Array.isArray(base)) return over;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) out[k] = k in out ? merge(out[k], v) : v;
  return out;
}

/** What a key's schema accepts, as a typed value from text needs it. */
type ValueKind = 'string' | 'number' | 'integer' | 'boolean' | 'null' | 'list';

function kindsOf(schema: unknown, out = new Set<ValueKind>()): Set<ValueKind> {
  const z4 = (schema as { _zod?: { def?: Record<string, unknown>; bag?: { format?: unknown } } } | null)?._zod;
  const def = z4?.def;
  if (!def) return out;
  switch (def.type) {
    case 'string': case 'enum': out.add('string'); break;
    case 'literal': for (const v of def.values as unknown[]) out.add(typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'boolean' : 'string'); break;
    // an integer key: z.number().int() leaves its format in the schema's bag
    case 'number': out.add(typeof z4?.bag?.format === 'string' && /int/.test(z4.bag.format) ? 'integer' : 'number'); break;
    case 'boolean': out.add('boolean'); break;
    case 'null': out.add('null'); break;
    case 'array': case 'tuple': out.add('list'); break;
    case 'nullable': out.add('null'); kindsOf(def.innerType, out); break;
    case 'optional': case 'default': case 'prefault': case 'readonly': kindsOf(def.innerType, out); break;
    case 'pipe': kindsOf(def.in, out); break;
    case 'union': for (const o of def.options as unknown[]) kindsOf(o, out); break;
  }
  return out;
}

const INTEGER_TEXT = /^[-+]?\d+$/;
const NUMBER_TEXT = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/**
 * A value given as text (--set, a flag, BPTT_*, a --grid item) typed by what its key accepts: a
 * string key gets the text exactly as written (a "#" or "~" in a path is part of the path), a
 * number key a plain decimal number, a boolean key true/false, a nullable key null from "null", a
 * list key a YAML flow list ([a, b]). Text that fits none reaches the schema as it is, which then
 * names what the key expects.
 */
export function parseValueFor(key: string, text: string): unknown {
  const kinds = kindsOf(schemaAt(key));
  const t = text.trim();
  if (kinds.has('list') && t.startsWith('[')) return parseFlowList(key, t);
  if (kinds.has('null') && t === 'null') return null;
  if (kinds.has('boolean') && (t === 'true' || t === 'false')) return t === 'true';
  if (kinds.has('integer') && INTEGER_TEXT.test(t)) return Number(t);
  if (kinds.has('number') && NUMBER_TEXT.test(t)) return Number(t);
  return text;
}

/** A YAML flow list from the command line, with a config file's bounds (nesting, aliases). */
export function parseFlowList(key: string, text: string): unknown {
  if (flowNesting(text, MAX_CONFIG_NESTING) > MAX_CONFIG_NESTING) throw new InputError(`${key}: ${text.slice(0, 40)}...: nested more than ${MAX_CONFIG_NESTING} levels deep`);
  try {
    const doc = parseDocument(text, { prettyErrors: false });
    if (doc.errors.length > 0) throw new Error(doc.errors[0].message);
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES }) as unknown;
  } catch (err) {
    throw new InputError(`${key}: ${text.length > 60 ? `${text.slice(0, 60)}...` : text} is not a YAML list: ${(err as Error).message.split('\n')[0]}`);
  }
}

export function parseSet(assignment: string): Override {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new InputError(`--set ${assignment}: expected KEY=VALUE, e.g. --set optim.lr=50`);
  const key = assignment.slice(0, eq).trim();
  return { key, value: parseValueFor(key, assignment.slice(eq + 1)), source: 'flag', origin: `--set ${shorten(assignment)}` };
}

/** --set-json KEY=JSON: the value exactly as JSON types it (what a sweep passes to its runs). */
export function parseSetJson(assignment: string): Override {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new InputError(`--set-json ${shorten(assignment)}: expected KEY=JSON, e.g. --set-json 'data.path="a #1.txt"'`);
  const key = assignment.slice(0, eq).trim();
  let value: unknown;
  try { value = JSON.parse(assignment.slice(eq + 1)); } catch (err) {
    throw new InputError(`--set-json ${shorten(assignment)}: the value is not JSON: ${(err as Error).message}`);
  }
  return { key, value, source: 'flag', origin: `--set-json ${shorten(assignment)}` };
}

/** An argument quoted in a message: long ones cut (a 120 KB value is not echoed back whole). */
function shorten(text: string, max = 120): string {
  return text.length > max ? `${text.slice(0, max)}... (${text.length.toLocaleString('en-US')} characters)` : text;
}

/** BPTT_* variables that are not config keys: BPTT_DEBUG (stack traces of internal errors), and the
 *  test suite's own (a worker entry that injects faults). */
const OTHER_ENV = new Set(['BPTT_DEBUG', 'BPTT_WORKER_FILE', 'BPTT_TEST_FAULT']);

/**
 * Overrides from BPTT_SECTION_KEY environment variables. A BPTT_ variable that names no config key
 * is an error with a did-you-mean, as a config file's typo is: BPTT_OPTIM_LRR=5 is never ignored.
 */
export function envOverrides(env: Record<string, string | undefined>): Override[] {
  const out: Override[] = [];
  const nameOf = (key: string) => `BPTT_${key.replace(/\./g, '_').toUpperCase()}`;
  const byName = new Map(leafKeys().map((key) => [nameOf(key), key]));
  for (const [name, v] of Object.entries(env)) {
    if (!name.startsWith('BPTT_') || v === undefined || OTHER_ENV.has(name)) continue;
    const key = byName.get(name);
    if (!key) {
      const guess = [...byName.keys()].map((n) => [n, levenshtein(n, name)] as const).sort((a, b) => a[1] - b[1])[0];
      throw new InputError(`environment variable ${name}: names no config key${guess && guess[1] <= 3 ? ` (did you mean ${guess[0]}?)` : ''}; ` +
        'bptt keys lists them (BPTT_SECTION_KEY)');
    }
    out.push({ key, value: parseValueFor(key, v), source: 'env', origin: name });
  }
  // in key order, as before: the order of the environment is not the user's
  return out.sort((a, b) => leafKeys().indexOf(a.key) - leafKeys().indexOf(b.key));
}

interface ParsedFile {
  data: unknown;
  doc: Document.Parsed | null;
  lines: LineCounter;
}

/** Config files are small: a bigger one is a mistake (or an attack), refused before parsing. */
export const MAX_CONFIG_BYTES = 1 * MiB;
/** Deepest nesting of [ and { accepted (a real config nests 3 deep; a deep one overflows the parser's stack). */
export const MAX_CONFIG_NESTING = 64;
/** YAML aliases expanded at most this many times (an alias bomb expands exponentially). */
export const MAX_YAML_ALIASES = 100;

/** Deepest flow nesting ([ { ) outside quoted strings, stopping once past `limit`. */
function flowNesting(text: string, limit: number): number {
  let depth = 0, max = 0;
  let quote = '';
  for (let k = 0; k < text.length && max <= limit; k++) {
    const c = text[k];
    if (quote) {
      if (c === '\\' && quote === '"') k++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '{') max = Math.max(max, ++depth);
    else if (c === ']' || c === '}') depth = Math.max(0, depth - 1);
  }
  return max;
}

/** A small YAML/JSON file other than a config (sweep files, a run's config.yaml), read with the same bounds. */
export function readYamlBounded(path: string, what: string): unknown {
  const { bytes } = readRegularFile(path, what, MAX_CONFIG_BYTES, true);
  const text = bytes.toString('utf8');
  if (flowNesting(text, MAX_CONFIG_NESTING) > MAX_CONFIG_NESTING) throw new InputError(`${what} ${path}: nested more than ${MAX_CONFIG_NESTING} levels deep`);
  try {
    const doc = parseDocument(text, { prettyErrors: false });
    if (doc.errors.length > 0) throw new Error(doc.errors[0].message);
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES }) as unknown;
  } catch (err) {
    throw new InputError(`${what} ${path}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}

function parseConfigFile(path: string): ParsedFile {
  const { bytes } = readRegularFile(path, 'config', MAX_CONFIG_BYTES, true);
  // UTF-16 (a BOM, or NULs between ASCII letters: what some editors on Windows save) reads as noise in UTF-8: say what it is
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff) || (bytes.length >= 4 && bytes.subarray(0, 64).includes(0))) {
    throw new InputError(`config ${path}: is UTF-16 (or binary), not UTF-8 text; save it as UTF-8`);
  }
  const text = bytes.toString('utf8');
  const kind = path.endsWith('.json') ? 'JSON' : 'YAML';
  if (flowNesting(text, MAX_CONFIG_NESTING) > MAX_CONFIG_NESTING) {
    throw new InputError(`config ${path}: nested more than ${MAX_CONFIG_NESTING} levels deep; a bptt config has 2`);
  }
  // JSON has no comments, and the YAML parser that reads .json files would take a // line for a key
  const comment = kind === 'JSON' ? /^\s*(\/\/|\/\*)/m.exec(text) : null;
  if (comment) {
    const line = text.slice(0, comment.index + comment[0].length).split('\n').length;
    throw new InputError(`config ${path}:${line}: JSON does not allow comments (// or /* */); remove them, or write the config as YAML (.yaml), which has # comments`);
  }
  const lines = new LineCounter();
  let doc: Document.Parsed;
  let data: unknown;
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
    if (doc.errors.length > 0) {
      const e = doc.errors[0];
      const pos = lines.linePos(e.pos[0]);
      throw new InputError(`config ${path}:${pos.line}:${pos.col}: ${kind} syntax error: ${e.message.split('\n')[0]}`);
    }
    data = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES }) as unknown;
  } catch (err) {
    if (err instanceof InputError) throw err;
    // the yaml library's refusals (alias expansion limit, ...) and a parser stack overflow
    throw new InputError(`config ${path}: cannot be read as ${kind}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (data === null || data === undefined) return { data: {}, doc, lines };
  if (typeof data !== 'object' || Array.isArray(data)) throw new InputError(`config ${path}: the top level must be a mapping with sections model, data, optim, run`);
  const proto = protoKeyPath(data);
  if (proto) throw new InputError(`config ${path}: unknown key ${proto} (a config has no __proto__ keys)`);
  return { data, doc, lines };
}

/** The path of a "__proto__" key anywhere in parsed data (merging would set a prototype, not a key), or null. */
function protoKeyPath(v: unknown, at = ''): string | null {
  if (v === null || typeof v !== 'object') return null;
  for (const k of Object.keys(v)) {
    const path = at ? `${at}.${k}` : k;
    if (k === '__proto__') return path;
    const inner = protoKeyPath((v as Record<string, unknown>)[k], path);
    if (inner) return inner;
  }
  return null;
}

/** line:col of a key path in the parsed file: the key itself for unknown keys, else its value. */
function locate(parsed: ParsedFile | null, path: string[], atKey: boolean): string {
  if (!parsed?.doc) return '';
  const at = (range: [number, number, number] | undefined) => {
    if (!range) return '';
    const pos = parsed.lines.linePos(range[0]);
    return `:${pos.line}:${pos.col}`;
  };
  for (let n = path.length; n > 0; n--) {
    if (atKey || n < path.length) {
      const parent = n > 1 ? parsed.doc.getIn(path.slice(0, n - 1), true) : parsed.doc.contents;
      if (isMap(parent)) {
        const pair = parent.items.find((it) => (it.key as { value?: unknown })?.value === path[n - 1]);
        const found = at((pair?.key as { range?: [number, number, number] } | undefined)?.range);
        if (found) return found;
      }
    } else {
      const found = at((parsed.doc.getIn(path, true) as { range?: [number, number, number] } | undefined)?.range);
      if (found) return found;
    }
  }
  return '';
}

/** The schema of a key path ("run.seed"), or null (a list item, an unknown key). */
function schemaAt(keyPath: string): unknown {
  let s: unknown = ConfigSchema;
  for (const part of keyPath.split('.')) {
    s = (s as { shape?: Record<string, unknown> }).shape?.[part] ?? null;
    if (s === null) return null;
  }
  return s;
}

function describeIssue(issue: z.core.$ZodIssue, keyPath: string, value?: unknown): string {
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (keyPath ? `${keyPath}.${k}` : k));
    return `unknown key ${keys.join(', ')}${didYouMean(keys[0])}`;
  }
  // a number past 2^53 trips zod's safe-integer check before the key's own limit: quote the key's
  if (issue.code === 'too_big' && issue.maximum === Number.MAX_SAFE_INTEGER) {
    const max = (schemaAt(keyPath) as { maxValue?: number } | null)?.maxValue;
    if (typeof max === 'number' && max < Number.MAX_SAFE_INTEGER) return `${keyPath}: Too big: expected number to be <=${max}`;
  }
  // text where a number belongs (from --set, a flag or BPTT_*: 0x2, 2e0 for an integer, 5m for a rate)
  if (issue.code === 'invalid_type' && issue.expected === 'number' && typeof value === 'string') {
    const integer = kindsOf(schemaAt(keyPath)).has('integer');
    return `${keyPath}: must be ${integer ? 'an integer (plain digits)' : 'a number'}, not ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  }
  // zod calls Infinity (1e400 in YAML) a number of the wrong type: say what is wrong with it
  if (/expected number, received number/.test(issue.message)) return `${keyPath || 'config'}: must be a finite number (1e400 and .inf are not)`;
  return `${keyPath || 'config'}: ${issue.message}`;
}

/**
 * `defaults`: DEFAULTS for a user's config; storedConfigDefaults() for a config a run wrote (its
 * config.yaml), so that keys added since it was written mean what they meant then.
 */
export function resolveConfig(file: string | null, overrides: Override[], defaults: TrainConfig = DEFAULTS): ResolvedConfig {
  const parsed = file ? parseConfigFile(file) : null;
  // a deep copy: overrides below write into it, and must never write into the defaults
  const merged: unknown = merge(structuredClone(defaults), parsed?.data ?? {});
  const sources: Record<string, Source> = {};
  const fileKeys = parsed ? new Set(leafKeys(parsed.data as Record<string, unknown>)) : new Set<string>();
  const known = new Set(leafKeys());
  const originOf = new Map<string, string>();
  for (const o of overrides) {
    if (!known.has(o.key)) {
      const section = Object.keys(DEFAULTS).includes(o.key) || o.key === 'data.preprocess';
      throw new InputError(section
        ? `${o.origin}: ${o.key} is a section, not a key; set one of its keys, e.g. ${leafKeys().find((k) => k.startsWith(`${o.key}.`))}`
        : `${o.origin}: unknown key ${o.key}${didYouMean(o.key)}`);
    }
    setPath(merged as Record<string, unknown>, o.key.split('.'), o.value);
    originOf.set(o.key, o.origin);
  }
  const result = ConfigSchema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0];
    const keyPath = issue.path.join('.');
    const fullKey = issue.code === 'unrecognized_keys' ? `${keyPath ? keyPath + '.' : ''}${issue.keys[0]}` : keyPath;
    // the override that set this key, or the list or section it is in (run.sample_prefixes.1)
    const parts = fullKey.split('.');
    const origin = parts.map((_, n) => originOf.get(parts.slice(0, parts.length - n).join('.'))).find((o) => o !== undefined);
    if (origin) throw new InputError(`${origin}: ${describeIssue(issue, keyPath, getPath(merged, keyPath))}`);
    const unknownKey = issue.code === 'unrecognized_keys';
    const where = file ? `config ${file}${locate(parsed, unknownKey ? [...issue.path.map(String), issue.keys[0]] : issue.path.map(String), unknownKey)}: ` : 'config: ';
    throw new InputError(where + describeIssue(issue, keyPath, getPath(merged, keyPath)));
  }
  const cfg = result.data;
  if (cfg.model.dropout > 0 && cfg.model.layers === 1) {
    const where = originOf.get('model.dropout') ?? originOf.get('model.layers') ?? (file ? `config ${file}` : 'config');
    throw new InputError(`${where}: model.dropout ${cfg.model.dropout} applies between stacked layers, and model.layers is 1: ` +
      'set model.layers to 2 or more, or model.dropout to 0');
  }
  for (const key of known) sources[key] = originOf.has(key) ? overrides.filter((o) => o.key === key).pop()!.source : fileKeys.has(key) ? 'file' : 'default';
  const where = (key: string) => originOf.get(key) ?? (file ? `config ${file}` : 'config');
  const sched = cfg.optim.schedule;
  if ((sched.kind === 'cosine' || sched.kind === 'linear') && sched.min_lr > cfg.optim.lr) {
    throw new InputError(`${where('optim.schedule.min_lr')}: optim.schedule.min_lr ${sched.min_lr} is above optim.lr ${cfg.optim.lr}: ` +
      `the ${sched.kind} schedule would raise the rate; set min_lr at most ${cfg.optim.lr}`);
  }
  chooseRunLength(cfg, sources, where);
  // the default weight decay is the default optimizer's (AdamW, decoupled): another optimizer chosen
  // without a weight_decay of its own gets none (for Adam it would be L2, added to the gradient,
  // and even 0.01 of it swamps Adam's normalized step: a 2-minute run stuck at 3.2 nats)
  if (sources['optim.weight_decay'] === 'default' && cfg.optim.kind !== DEFAULTS.optim.kind) (cfg.optim as { weight_decay: number }).weight_decay = 0;
  // a config file's sample prefixes belong to its corpus ("ROMEO:" to tiny Shakespeare's): when the
  // data is replaced above the file (--data, BPTT_DATA_PATH), samples start from the new text's own start
  if (file && sources['run.sample_prefixes'] === 'file' && SOURCE_RANK[sources['data.path']] > SOURCE_RANK.file) {
    (cfg.run as { sample_prefixes: string[] }).sample_prefixes = [];
    sources['run.sample_prefixes'] = 'default';
  }
  return { config: Object.freeze(result.data) as TrainConfig, sources, file };
}

/**
 * A config given as plain data in the config file's shape (the library's train()): resolved as a
 * config file is, each key named in errors as config.SECTION.KEY.
 */
export function resolveConfigObject(data: unknown): ResolvedConfig {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new InputError('config: must be an object with sections model, data, optim, run (each optional)');
  }
  const overrides = leafKeys(data as Record<string, unknown>).map((key): Override =>
    ({ key, value: getPath(data, key), source: 'file', origin: `config.${key}` }));
  return resolveConfig(null, overrides);
}

const SOURCE_RANK: Record<Source, number> = { default: 0, file: 1, env: 2, flag: 3 };

/**
 * One key says how long a run trains: run.time_budget or run.minibatches when set, else run.epochs.
 * Sources decide between them: a length set at a higher level (a flag over the environment over a
 * file over the defaults) wins, so `--epochs 5` replaces the default time budget and `--time 10m` a
 * file's epochs; the losers are set to null (epochs is then unused). A time budget and a minibatch
 * count set at the same level are an error.
 */
function chooseRunLength(cfg: TrainConfig, sources: Record<string, Source>, where: (key: string) => string): void {
  const run = cfg.run as { time_budget: string | number | null; minibatches: number | null; epochs: number };
  const rank = (k: string) => SOURCE_RANK[sources[k]];
  const set = (['run.time_budget', 'run.minibatches'] as const).filter((k) => getPath(cfg, k) !== null);
  if (set.length === 2 && rank(set[0]) === rank(set[1])) {
    throw new InputError(`${where(set[1])}: run.time_budget and run.minibatches both say how long to train; set one, the other to null`);
  }
  // run.epochs always has a value (a file may state it beside a budget: the budget wins), but two
  // lengths given together as flags or in the environment are two answers to one question
  const explicit = set.find((k) => rank(k) === rank('run.epochs') && rank(k) >= SOURCE_RANK.env);
  if (explicit) {
    throw new InputError(`${where('run.epochs')} and ${where(explicit)}: both say how long to train; give one of run.epochs, run.time_budget, run.minibatches`);
  }
  const winner: string = set.sort((a, b) => rank(b) - rank(a))[0] ?? 'run.epochs';
  const chosen = winner !== 'run.epochs' && rank('run.epochs') > rank(winner) ? 'run.epochs' : winner;
  if (chosen !== 'run.time_budget') run.time_budget = null;
  if (chosen !== 'run.minibatches') run.minibatches = null;
}

export function getPath(obj: unknown, key: string): unknown {
  return key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], obj);
}
