// Helm placeholders survive YAML serialisation and become the intended template text.
import { describe, expect, it } from '@jest/globals';
import { Yaml } from 'cdk8s';
import { helmBlock, helmInline, helmValue, renderHelmTemplate, wrapTemplate } from '../../../src/manifests/helm.ts';

const render = (obj: unknown) => renderHelmTemplate(Yaml.stringify(obj));

describe('renderHelmTemplate', () => {
  it('emits a whole-value expression without quotes, so an integer stays an integer', () => {
    expect(render({ spec: { replicas: helmValue('.Values.replicas') } })).toBe('spec:\n  replicas: {{ .Values.replicas }}\n');
  });

  it('keeps expression text that YAML would otherwise quote or escape (quotes, pipes, colons)', () => {
    const expr = 'printf "%s:%s" .Values.image.repository .Values.image.tag | quote';
    expect(render({ image: helmValue(expr) })).toBe(`image: {{ ${expr} }}\n`);
  });

  it('puts a block on its own line with nindent matching the key depth', () => {
    const out = render({ spec: { template: { spec: { containers: [{ name: 'c', resources: helmBlock('toYaml .Values.resources') }] } } } });
    expect(out).toContain('        - name: c\n          resources:\n            {{- toYaml .Values.resources | nindent 12 }}\n');
  });

  it('handles a block as the first key of a list item', () => {
    const out = render({ items: [{ labels: helmBlock('include "x" .') }] });
    expect(out).toBe('items:\n  - labels:\n      {{- include "x" . | nindent 6 }}\n');
  });

  it('substitutes inline expressions inside a string', () => {
    expect(render({ args: [`--port=${helmInline('.Values.port')}`] })).toBe('args:\n  - --port={{ .Values.port }}\n');
  });

  it('refuses a block placeholder that is not a whole mapping value', () => {
    expect(() => render({ args: [helmBlock('toYaml .Values.x')] })).toThrow(/helm placeholder left/);
  });

  it('wraps a document in control lines', () => {
    expect(wrapTemplate('a: 1\n', '{{- if .Values.on }}', '{{- end }}')).toBe('{{- if .Values.on }}\na: 1\n{{- end }}\n');
  });
});
