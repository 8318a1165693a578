// Helm expressions inside cdk8s objects.
//
// cdk8s synthesises plain YAML, and a YAML serialiser quotes `{{ ... }}` (a flow mapping start)
// and cannot emit a bare integer from a string. So objects carry opaque placeholder strings and
// `renderHelmTemplate` rewrites them after serialisation:
//
//   helmValue(expr)   a whole scalar, quotes dropped:       replicas: {{ .Values.replicas }}
//                     (for strings put `| quote` in expr:    image: {{ ... | quote }})
//   helmBlock(expr)   a whole mapping/sequence value:       resources:
//                                                              {{- toYaml .Values.resources | nindent 12 }}
//   helmInline(expr)  part of a string, kept in its quotes: - --metrics-addr=:{{ .Values.metrics.port }}
//                     (the expression's output must be safe inside that string: no quotes or ": ")
//
// The expression text travels hex-encoded, so YAML never escapes or folds it.

const encode = (expr: string) => Buffer.from(expr, 'utf8').toString('hex');
const decode = (hex: string) => Buffer.from(hex, 'hex').toString('utf8');

export function helmValue(expr: string): string {
  return `__HELM_VALUE_${encode(expr)}__`;
}

export function helmBlock(expr: string): string {
  return `__HELM_BLOCK_${encode(expr)}__`;
}

export function helmInline(expr: string): string {
  return `__HELM_INLINE_${encode(expr)}__`;
}

// `key: PLACEHOLDER` (the key may follow a `- ` list marker); captures the key's column.
const BLOCK_LINE = /^((?: *- )* *)([^\s:][^:]*): (['"]?)__HELM_BLOCK_([0-9a-f]+)__\3$/;
const VALUE = /(['"]?)__HELM_VALUE_([0-9a-f]+)__\1/g;
const INLINE = /__HELM_INLINE_([0-9a-f]+)__/g;
const ANY = /__HELM_(VALUE|BLOCK|INLINE)_/;

/** Turns serialised YAML with placeholders into a Helm template. Throws on a misplaced placeholder. */
export function renderHelmTemplate(yaml: string): string {
  const lines = yaml.split('\n').flatMap((line) => {
    const block = BLOCK_LINE.exec(line);
    if (block === null) return [line];
    const [, lead = '', key = '', , hex = ''] = block;
    const childIndent = lead.length + 2;
    return [`${lead}${key}:`, `${' '.repeat(childIndent)}{{- ${decode(hex)} | nindent ${childIndent} }}`];
  });
  const out = lines
    .join('\n')
    .replace(VALUE, (_m, _q, hex: string) => `{{ ${decode(hex)} }}`)
    .replace(INLINE, (_m, hex: string) => `{{ ${decode(hex)} }}`);
  const left = ANY.exec(out);
  if (left !== null) {
    throw new Error(`helm placeholder left in template (a block placeholder must be a whole mapping value): ${out.slice(left.index, left.index + 60)}`);
  }
  return out;
}

/** Wraps a rendered document in template control lines, e.g. `{{- if ... }}` / `{{- end }}`. */
export function wrapTemplate(body: string, before: string, after: string): string {
  return `${before}\n${body.trimEnd()}\n${after}\n`;
}
