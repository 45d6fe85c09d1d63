// --allow-patterns / --ignore-patterns, with huggingface_hub's semantics: fnmatch-style globs
// where `*` also matches `/`, and a pattern ending in `/` means everything under that folder.

/** Splits repeatable, comma-separated flag values into patterns. */
export function parsePatternList(values: readonly string[] | string | undefined): string[] {
  if (values === undefined) return [];
  const list = Array.isArray(values) ? values : [values as string];
  return list.flatMap((v) => String(v).split(',')).map((s) => s.trim()).filter(Boolean);
}

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

/** fnmatch-style glob -> anchored RegExp: `*` any run (incl. `/`), `?` one char, `[abc]`, `[!abc]`. */
export function globToRegExp(pattern: string): RegExp {
  let p = pattern;
  if (p.endsWith('/')) p += '*';
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '*') {
      while (p[i + 1] === '*') i++;
      re += '.*';
    } else if (c === '?') {
      re += '.';
    } else if (c === '[') {
      const end = p.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = p.slice(i + 1, end);
      let negate = false;
      if (body.startsWith('!')) {
        negate = true;
        body = body.slice(1);
      }
      body = body.replace(/\\/g, '\\\\').replace(/\^/g, '\\^').replace(/]/g, '\\]');
      re += `[${negate ? '^' : ''}${body}]`;
      i = end;
    } else {
      re += escapeRe(c);
    }
  }
  return new RegExp(`^${re}$`, 's');
}

/**
 * Keeps items whose path matches at least one allow pattern (all, when none given) and no
 * ignore pattern.
 */
export function filterByPatterns<T extends { path: string }>(items: readonly T[], allow: readonly string[] = [], ignore: readonly string[] = []): T[] {
  const selects = patternFilter(allow, ignore);
  return items.filter((it) => selects(it.path));
}

/** filterByPatterns for one path at a time (a listing filtered as it is read). */
export function patternFilter(allow: readonly string[] = [], ignore: readonly string[] = []): (path: string) => boolean {
  const allowRe = allow.map(globToRegExp);
  const ignoreRe = ignore.map(globToRegExp);
  return (p) => (allowRe.length === 0 || allowRe.some((r) => r.test(p))) && !ignoreRe.some((r) => r.test(p));
}
