// Argo's `{{...}}` variable substitution and `when` evaluation, for the subset the runner supports.
//
// Argo (util/template) serializes a template to JSON, replaces every `{{tag}}` (tag trimmed) with
// the scope value escaped for a JSON string, and decodes: the net effect is that the raw value is
// spliced into each string field. That is what `substitute` does, field by field. Differences:
// - Argo leaves some unresolved tags in place (it validates references at submit time instead);
//   the runner throws on any tag it cannot resolve, so a typo fails the test that hit it. The one
//   exception is `workflow.outputs.parameters.<g>` where some output declares `globalName: g`:
//   Argo accepts the reference at submit time and, if nothing set it yet, leaves the tag as
//   literal text at run time; the runner does the same (`keepLiteral`).
// - expression tags `{{=...}}` are evaluated by `evaluateExpression`, a subset of expr-lang.

export class UnresolvedVariableError extends Error {
  constructor(readonly tag: string, readonly where: string, known: string[]) {
    super(
      `Unresolved Argo variable {{${tag}}} at ${where}` +
        (known.length ? `; in scope: ${known.sort().join(', ')}` : '; nothing in scope'),
    );
    this.name = 'UnresolvedVariableError';
  }
}

export class UnsupportedArgoConstructError extends Error {
  constructor(readonly path: string, detail?: string) {
    super(`Unsupported Argo construct: ${path}${detail ? ` (${detail})` : ''}`);
    this.name = 'UnsupportedArgoConstructError';
  }
}

export type Scope = Readonly<Record<string, string>>;

const TAG = /\{\{(.*?)\}\}/g;

/** Replaces every `{{tag}}` in `s`; throws UnresolvedVariableError when a tag is not in scope. */
export function substituteString(s: string, scope: Scope, where: string, keepLiteral?: (tag: string) => boolean): string {
  return s.replace(TAG, (m, raw: string) => {
    const tag = raw.trim();
    if (tag.startsWith('=')) return stringify(evaluateExpression(tag.slice(1), scope, where), where);
    const v = scope[tag];
    if (v === undefined) {
      if (keepLiteral?.(tag)) return m;
      throw new UnresolvedVariableError(tag, where, Object.keys(scope));
    }
    return v;
  });
}

/** Deep-substitutes every string value (not keys) of a plain JSON-like value. */
export function substitute<T>(value: T, scope: Scope, where: string, keepLiteral?: (tag: string) => boolean): T {
  if (typeof value === 'string') return substituteString(value, scope, where, keepLiteral) as unknown as T;
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, scope, `${where}[${i}]`, keepLiteral)) as unknown as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = substitute(v, scope, `${where}.${k}`, keepLiteral);
    return out as T;
  }
  return value;
}

// ---- expression tags `{{=...}}` ------------------------------------------------------------------
// Argo evaluates them with expr-lang against the scope (dotted names such as
// `workflow.parameters.x` are nested maps there; here they are looked up whole). Supported
// subset: string ('..' or "..") / number / true / false / nil literals, dotted variables, `==`,
// `!=`, `in`/`not in` an array literal, `&&`/`and`, `||`/`or`, `!`/`not`, `+` (string concatenation
// or numbers), `? :`, parentheses
// and the functions in EXPR_FUNCTIONS. Anything else throws UnsupportedArgoConstructError.

type EVal = string | number | boolean | null;

export const EXPR_FUNCTIONS: Record<string, (...a: EVal[]) => EVal> = {
  'sprig.replace': (old, neu, src) => String(src).split(String(old)).join(String(neu)),
  'sprig.lower': (x) => String(x).toLowerCase(),
  'sprig.upper': (x) => String(x).toUpperCase(),
  'sprig.trim': (x) => String(x).trim(),
  'sprig.trimSuffix': (suf, x) => (String(x).endsWith(String(suf)) ? String(x).slice(0, -String(suf).length) : String(x)),
  'sprig.trimPrefix': (pre, x) => (String(x).startsWith(String(pre)) ? String(x).slice(String(pre).length) : String(x)),
  asInt: (x) => {
    if (!/^\s*-?\d+\s*$/.test(String(x))) throw new Error(`asInt(${JSON.stringify(x)})`);
    return parseInt(String(x), 10);
  },
  asFloat: (x) => {
    const n = Number(x);
    if (Number.isNaN(n)) throw new Error(`asFloat(${JSON.stringify(x)})`);
    return n;
  },
  string: (x) => (x === null ? '' : String(x)),
};

function stringify(v: EVal, where: string): string {
  if (v === null) throw new UnsupportedArgoConstructError(where, 'expression evaluated to nil');
  return typeof v === 'string' ? v : String(v);
}

export function evaluateExpression(src: string, scope: Scope, where: string): EVal {
  type T = { k: 'str' | 'num' | 'id' | 'op'; v: string };
  const fail = (why: string): never => { throw new UnsupportedArgoConstructError(where, `expression {{=${src}}}: ${why}`); };
  const toks: T[] = [];
  for (let i = 0; i < src.length;) {
    const c = src[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === "'" || c === '"') {
      let j = i + 1;
      let out = '';
      while (j < src.length && src[j] !== c) { if (src[j] === '\\') { j++; out += src[j] === 'n' ? '\n' : src[j]; } else out += src[j]; j++; }
      if (j >= src.length) fail('unterminated string');
      toks.push({ k: 'str', v: out });
      i = j + 1;
      continue;
    }
    const num = /^\d+(\.\d+)?/.exec(src.slice(i));
    if (num) { toks.push({ k: 'num', v: num[0] }); i += num[0].length; continue; }
    const id = /^[A-Za-z_][\w]*(\.[A-Za-z_][\w-]*)*/.exec(src.slice(i));
    if (id) { toks.push({ k: 'id', v: id[0] }); i += id[0].length; continue; }
    const op = ['==', '!=', '&&', '||', '?', ':', '(', ')', '[', ']', ',', '!', '+'].find((o) => src.startsWith(o, i));
    if (!op) fail(`unexpected ${JSON.stringify(c)}`);
    toks.push({ k: 'op', v: op! });
    i += op!.length;
  }
  let pos = 0;
  const peekOp = (v: string) => toks[pos]?.k === 'op' && toks[pos].v === v;
  const peekWord = (v: string) => toks[pos]?.k === 'id' && toks[pos].v === v;
  const expect = (v: string) => { if (!peekOp(v)) fail(`expected ${v}`); pos++; };
  const truthy = (v: EVal, what: string): boolean => (typeof v === 'boolean' ? v : fail(`${what} needs a boolean, got ${JSON.stringify(v)}`));
  const ternary = (): EVal => {
    const c = or();
    if (!peekOp('?')) return c;
    pos++;
    const a = ternary();
    expect(':');
    const b = ternary();
    return truthy(c, '?:') ? a : b;
  };
  const or = (): EVal => {
    let l = and();
    while (peekOp('||') || peekWord('or')) { pos++; const r = and(); l = truthy(l, '||') || truthy(r, '||'); }
    return l;
  };
  const and = (): EVal => {
    let l = eq();
    while (peekOp('&&') || peekWord('and')) { pos++; const r = eq(); l = truthy(l, '&&') && truthy(r, '&&'); }
    return l;
  };
  const eq = (): EVal => {
    let l = add();
    for (;;) {
      if (peekOp('==') || peekOp('!=')) {
        const o = toks[pos++].v;
        const r = add();
        l = o === '==' ? l === r : l !== r;
      } else if (peekWord('in') || (peekWord('not') && toks[pos + 1]?.k === 'id' && toks[pos + 1].v === 'in')) {
        // `x in [a, b]` / `x not in [...]`: membership in an array literal (expr-lang `in`, strict equality)
        const negate = toks[pos].v === 'not';
        pos += negate ? 2 : 1;
        expect('[');
        const items: EVal[] = [];
        if (!peekOp(']')) { items.push(ternary()); while (peekOp(',')) { pos++; items.push(ternary()); } }
        expect(']');
        const found = items.some((it) => it === l);
        l = negate ? !found : found;
      } else {
        return l;
      }
    }
  };
  const add = (): EVal => {
    let l = unary();
    while (peekOp('+')) {
      pos++;
      const r = unary();
      if (typeof l === 'number' && typeof r === 'number') l = l + r;
      else if (typeof l === 'string' && typeof r === 'string') l = l + r;
      else fail('+ needs two strings or two numbers');
    }
    return l;
  };
  const unary = (): EVal => {
    if (peekOp('!') || peekWord('not')) { pos++; return !truthy(unary(), '!'); }
    return primary();
  };
  const primary = (): EVal => {
    const t = toks[pos++];
    if (!t) return fail('unexpected end');
    if (t.k === 'str') return t.v;
    if (t.k === 'num') return Number(t.v);
    if (t.k === 'op' && t.v === '(') { const v = ternary(); expect(')'); return v; }
    if (t.k === 'id') {
      if (t.v === 'true' || t.v === 'false') return t.v === 'true';
      if (t.v === 'nil') return null;
      if (peekOp('(')) {
        pos++;
        const args: EVal[] = [];
        if (!peekOp(')')) { args.push(ternary()); while (peekOp(',')) { pos++; args.push(ternary()); } }
        expect(')');
        const fn = EXPR_FUNCTIONS[t.v];
        if (!fn) return fail(`function ${t.v} is not supported by the runner (supported: ${Object.keys(EXPR_FUNCTIONS).join(', ')})`);
        try { return fn(...args); } catch (e) { return fail((e as Error).message); }
      }
      const v = scope[t.v];
      if (v === undefined) throw new UnresolvedVariableError(t.v, `${where} (in {{=${src}}})`, Object.keys(scope));
      return v;
    }
    return fail(`unexpected ${t.v}`);
  };
  const v = ternary();
  if (pos !== toks.length) fail(`unexpected ${toks[pos].v}`);
  return v;
}

/** Any `{{` left in a value after substitution (e.g. a value that itself contained `{{...}}`). */
export function findTag(value: unknown): string | undefined {
  if (typeof value === 'string') return /\{\{.*?\}\}/.exec(value)?.[0];
  if (Array.isArray(value)) for (const v of value) { const t = findTag(v); if (t) return t; }
  else if (value && typeof value === 'object') for (const v of Object.values(value)) { const t = findTag(v); if (t) return t; }
  return undefined;
}

/** Go's strconv.Quote, which Argo applies to `workflow.failures` (so consumers JSON-decode twice). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    switch (ch) {
      case '"': out += '\\"'; continue;
      case '\\': out += '\\\\'; continue;
      case '\x07': out += '\\a'; continue;
      case '\b': out += '\\b'; continue;
      case '\f': out += '\\f'; continue;
      case '\n': out += '\\n'; continue;
      case '\r': out += '\\r'; continue;
      case '\t': out += '\\t'; continue;
      case '\v': out += '\\v'; continue;
    }
    if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp >= 0x80 && cp < 0xa0) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

// ---- `when` -----------------------------------------------------------------------------------
// Argo evaluates the substituted `when` string with govaluate, after turning every govaluate
// variable token (a bare word such as `Succeeded`) into a string literal (steps.go shouldExecute),
// so `{{workflow.status}} == Succeeded` works unquoted. Supported subset: quoted strings ('..' or
// ".."), bare words ([A-Za-z_][A-Za-z0-9_.]*, as strings), numbers, true/false, `==`, `!=`, `&&`,
// `||`, `!` and parentheses. Anything else throws, including unquoted values with `-` or `/`
// (govaluate would parse those as arithmetic): quote substituted values that may contain them.

type Tok = { t: 'lit'; v: string | number | boolean } | { t: 'op'; v: string };

function tokenize(expr: string, where: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new UnsupportedArgoConstructError(where, `when expression ${JSON.stringify(expr)}: ${why}`);
  };
  while (i < expr.length) {
    const c = expr[i];
    if (/\s/.test(c)) { i++; continue; }
    const two = expr.slice(i, i + 2);
    if (['==', '!=', '&&', '||'].includes(two)) { toks.push({ t: 'op', v: two }); i += 2; continue; }
    if (['<=', '>=', '=~', '!~'].includes(two)) fail(`operator ${two} is not supported by the runner`);
    if (c === '(' || c === ')' || c === '!') { toks.push({ t: 'op', v: c }); i++; continue; }
    if (c === "'" || c === '"') {
      const end = expr.indexOf(c, i + 1);
      if (end < 0) fail('unterminated string');
      toks.push({ t: 'lit', v: expr.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    const num = /^-?\d+(\.\d+)?/.exec(expr.slice(i));
    if (num) { toks.push({ t: 'lit', v: Number(num[0]) }); i += num[0].length; continue; }
    const word = /^[A-Za-z_][\w.]*/.exec(expr.slice(i));
    if (word) {
      const w = word[0];
      toks.push({ t: 'lit', v: w === 'true' ? true : w === 'false' ? false : w });
      i += w.length;
      continue;
    }
    fail(`unexpected ${JSON.stringify(c)} (quote values that contain it: '...')`);
  }
  return toks;
}

export function evaluateWhen(expr: string, where: string): boolean {
  const toks = tokenize(expr, where);
  let pos = 0;
  const fail = (why: string): never => {
    throw new UnsupportedArgoConstructError(where, `when expression ${JSON.stringify(expr)}: ${why}`);
  };
  const peek = () => toks[pos];
  const isOp = (v: string) => peek()?.t === 'op' && peek()!.v === v;
  type Val = string | number | boolean;
  const primary = (): Val => {
    const tk = toks[pos++];
    if (!tk) return fail('unexpected end');
    if (tk.t === 'lit') return tk.v;
    if (tk.v === '(') { const v = or(); if (!isOp(')')) fail('missing )'); pos++; return v; }
    if (tk.v === '!') { const v = primary(); if (typeof v !== 'boolean') fail('! needs a boolean'); return !v; }
    return fail(`unexpected ${tk.v}`);
  };
  const cmp = (): Val => {
    const l = primary();
    if (isOp('==') || isOp('!=')) {
      const op = (toks[pos++] as { v: string }).v;
      const r = primary();
      const eq = typeof l === typeof r && l === r;
      return op === '==' ? eq : !eq;
    }
    return l;
  };
  const and = (): Val => {
    let l = cmp();
    while (isOp('&&')) { pos++; const r = cmp(); if (typeof l !== 'boolean' || typeof r !== 'boolean') fail('&& needs booleans'); l = l && r; }
    return l;
  };
  const or = (): Val => {
    let l = and();
    while (isOp('||')) { pos++; const r = and(); if (typeof l !== 'boolean' || typeof r !== 'boolean') fail('|| needs booleans'); l = l || r; }
    return l;
  };
  const v = or();
  if (pos !== toks.length) fail('trailing tokens');
  if (typeof v !== 'boolean') fail(`evaluates to ${JSON.stringify(v)}, not a boolean`);
  return v as boolean;
}
