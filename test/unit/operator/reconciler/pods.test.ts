import { describe, expect, it } from '@jest/globals';
import { agentBaseUrl, targetPods } from '../../../../src/operator/reconciler/pods.ts';
import { fakePod } from './fakes.ts';

const selector = { matchLabels: { app: 'ats' } };

describe('targetPods', () => {
  it('keeps Running pods with an IP that match the selector, sorted by name', () => {
    const pods = [
      fakePod('b'),
      fakePod('a', { ready: false }),
      fakePod('pending', { phase: 'Pending' }),
      fakePod('no-ip', { ip: '' }),
      fakePod('other', { labels: { app: 'web' } }),
    ];
    const t = targetPods(pods, selector);
    expect(t.map((p) => [p.name, p.ready])).toEqual([
      ['a', false],
      ['b', true],
    ]);
  });

  it('marks terminating pods and pods declaring the keys-installed readiness gate', () => {
    const [gated, gone] = targetPods([fakePod('g', { gate: true }), fakePod('t', { terminating: true })], selector);
    expect(gated).toMatchObject({ name: 'g', declaresGate: true, terminating: false, uid: 'uid-g' });
    expect(gone).toMatchObject({ name: 't', declaresGate: false, terminating: true });
  });
});

describe('agentBaseUrl', () => {
  it('brackets IPv6 pod IPs', () => {
    expect(agentBaseUrl('10.1.2.3', 9443)).toBe('https://10.1.2.3:9443');
    expect(agentBaseUrl('fd00::5', 9443)).toBe('https://[fd00::5]:9443');
  });
});
