import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { AtsUnavailableError } from '../../../../src/agent/ats-bridge.ts';
import { MgmtClient, MgmtRequestError } from '../../../../src/agent/ats9/mgmt-client.ts';
import { OpType } from '../../../../src/agent/ats9/mgmt-marshall.ts';
import { FakeManager } from './fake-manager.ts';

let fake: FakeManager;
let client: MgmtClient;

beforeEach(async () => {
  fake = await FakeManager.start();
  client = new MgmtClient({ socketPath: fake.socketPath, timeoutMs: 500 });
});

afterEach(async () => {
  await client.close();
  await fake.stop();
});

describe('MgmtClient', () => {
  it('sends a lifecycle message with tag and binary data intact', async () => {
    const data = Buffer.from([0, 1, 0xff, 0, 10]);
    await client.lifecycleMessage('ticketkeys.ring', data);
    expect(fake.received).toEqual([{ op: OpType.LIFECYCLE_MESSAGE, tag: 'ticketkeys.ring', data }]);
  });

  it('reads integer records', async () => {
    fake.records.set('plugin.ticketkeys.generation', 2n ** 62n);
    expect(await client.recordGet('plugin.ticketkeys.generation')).toEqual({ type: 'int', value: 2n ** 62n });
  });

  it('maps an error code to MgmtRequestError and keeps the connection', async () => {
    await expect(client.recordGet('no.such.record')).rejects.toThrow(MgmtRequestError);
    expect(await client.proxyRunning()).toBe(true);
    expect(fake.connections).toBe(1);
  });

  it('serialises concurrent requests on one connection, answers in order', async () => {
    fake.records.set('a', 1n);
    fake.records.set('b', 2n);
    const [a, b, running] = await Promise.all([client.recordGetInt('a'), client.recordGetInt('b'), client.proxyRunning()]);
    expect([a, b, running]).toEqual([1n, 2n, true]);
    expect(fake.connections).toBe(1);
  });

  it('reports a stopped traffic_server', async () => {
    fake.proxyOn = false;
    expect(await client.proxyRunning()).toBe(false);
  });

  it('sends RECONFIGURE', async () => {
    await client.reconfigure();
    expect(fake.received.at(-1)).toEqual({ op: OpType.RECONFIGURE });
  });
});

describe('unavailable traffic_manager', () => {
  it('a missing socket is AtsUnavailableError', async () => {
    const c = new MgmtClient({ socketPath: '/nonexistent/mgmtapi.sock' });
    await expect(c.proxyRunning()).rejects.toBeInstanceOf(AtsUnavailableError);
  });

  it('a socket nobody listens on is AtsUnavailableError', async () => {
    const path = fake.socketPath;
    await fake.stop();
    const c = new MgmtClient({ socketPath: path });
    await expect(c.proxyRunning()).rejects.toBeInstanceOf(AtsUnavailableError);
    fake = await FakeManager.start(); // for afterEach
  });

  it('a hang-up mid-request is AtsUnavailableError, and the next request reconnects', async () => {
    expect(await client.proxyRunning()).toBe(true);
    fake.hangUpNext = true;
    await expect(client.proxyRunning()).rejects.toBeInstanceOf(AtsUnavailableError);
    expect(await client.proxyRunning()).toBe(true);
  });

  it('no answer within the timeout is AtsUnavailableError', async () => {
    fake.silent = true;
    await expect(client.proxyRunning()).rejects.toBeInstanceOf(AtsUnavailableError);
    fake.silent = false;
    expect(await client.proxyRunning()).toBe(true); // a fresh connection, no stale answer
  });

  it('a closed client refuses further requests', async () => {
    await client.close();
    await expect(client.proxyRunning()).rejects.toBeInstanceOf(AtsUnavailableError);
  });
});
