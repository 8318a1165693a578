// Ats9Bridge.readTlsTicketStats: ATS 9.2's ticket counters read with RECORD_GET by their record
// names (test/e2e/operator-ats-observability.test.ts reads them from a real traffic_server).
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { MgmtRequestError } from '../../../../src/agent/ats9/mgmt-client.ts';
import { Ats9Bridge } from '../../../../src/agent/ats9/ats9-bridge.ts';
import { TLS_TICKET_RECORDS } from '../../../../src/agent/ats9/tls-records.ts';
import { FakeManager } from './fake-manager.ts';

let fake: FakeManager;
let bridge: Ats9Bridge;

beforeEach(async () => {
  fake = await FakeManager.start();
  bridge = new Ats9Bridge({ socketPath: fake.socketPath }, { timeoutMs: 500 });
});

afterEach(async () => {
  await bridge.close();
  await fake.stop();
});

describe('Ats9Bridge.readTlsTicketStats', () => {
  it('reads proxy.process.ssl.total_tickets_not_found and total_tickets_verified_old_key', async () => {
    expect(TLS_TICKET_RECORDS).toEqual({
      ticketsNotFound: 'proxy.process.ssl.total_tickets_not_found',
      ticketsVerifiedOldKey: 'proxy.process.ssl.total_tickets_verified_old_key',
    });
    fake.records.set(TLS_TICKET_RECORDS.ticketsNotFound, 12n);
    fake.records.set(TLS_TICKET_RECORDS.ticketsVerifiedOldKey, 34n);
    expect(await bridge.readTlsTicketStats()).toEqual({ ticketsNotFound: 12, ticketsVerifiedOldKey: 34 });
  });

  it('fails when ATS does not publish them (the agent then leaves `tls` out)', async () => {
    await expect(bridge.readTlsTicketStats()).rejects.toBeInstanceOf(MgmtRequestError);
  });
});
