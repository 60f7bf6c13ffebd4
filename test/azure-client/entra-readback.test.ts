// The read-back of the drift reconciliation as a pure unit: the $batch body, sorting its answers
// (in any order), and sending again only what Microsoft throttled inside the batch.
import assert from 'node:assert/strict';
import { AzureApiError } from '../../activities/azure/errors';
import { readBack, readBackBatch, readBackResponses, type ReadBackRound } from '../../activities/azure/entra-readback';

const ids = Array.from({ length: 25 }, (_, i) => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`);
const found = (isCompliant: boolean) => ({
  status: 200,
  body: { value: [{ isCompliant, isManaged: true, complianceExpirationDateTime: null }] },
});

describe('drift read-back: Graph JSON batching with 429s inside the batch', () => {
  it('builds one GET /devices?$filter=deviceId eq … per device, at most 20 to a batch', () => {
    const body = readBackBatch([ids[0]!, "o'brien"]);
    assert.deepEqual(
      body.requests.map((r) => [r.id, r.method, decodeURIComponent(r.url)]),
      [
        ['0', 'GET', `/devices?$filter=deviceId eq '${ids[0]}'&$select=deviceId,isCompliant,isManaged,complianceExpirationDateTime`],
        ['1', 'GET', "/devices?$filter=deviceId eq 'o''brien'&$select=deviceId,isCompliant,isManaged,complianceExpirationDateTime"],
      ],
    );
    assert.throws(() => readBackBatch(ids.slice(0, 21)), RangeError);
    assert.throws(() => readBackBatch([]), RangeError);
  });

  it('sorts answers by id whatever their order: found, not in Entra, throttled (longest Retry-After), failed for good', () => {
    const round = readBackResponses(ids.slice(0, 5), {
      responses: [
        { id: '4', status: 404, headers: {}, body: { error: { code: 'Request_BadRequest', message: 'nope' } } },
        { id: '3', status: 503, headers: {} },
        { id: '2', status: 429, headers: { 'retry-after': '3' } },
        { id: '1', status: 200, body: { value: [] } },
        { id: '0', ...found(true) },
      ],
    });
    assert.deepEqual(
      [...round.observed],
      [
        [ids[0], { isCompliant: true, isManaged: true, complianceExpirationDateTime: null }],
        [ids[1], null],
      ],
    );
    assert.deepEqual(round.retry, { ids: [ids[2], ids[3]], afterMs: 3_000 });
    assert.equal(round.failed.length, 1);
    assert.match(round.failed[0]!.message, /Graph answered 404 Request_BadRequest reading device .*: nope/);
  });

  it('throws Forbidden when a sub-request lacks the permission to read devices', () => {
    assert.throws(
      () =>
        readBackResponses([ids[0]!], { responses: [{ id: '0', status: 403, body: { error: { code: 'Authorization_RequestDenied' } } }] }),
      (e: unknown) => e instanceof AzureApiError && e.reason === 'Forbidden',
    );
  });

  it('sends again only the throttled sub-requests, after their delay, and gives up after the last round', async () => {
    const sent: string[][] = [];
    const waits: number[] = [];
    let throttleFirst = 2;
    const send = async (batch: string[]): Promise<ReadBackRound> => {
      sent.push(batch);
      const round: ReadBackRound = { observed: new Map(), retry: { ids: [], afterMs: 0 }, failed: [] };
      for (const id of batch) {
        if (id === ids[7] || (throttleFirst > 0 && id === ids[1])) round.retry = { ids: [...round.retry.ids, id], afterMs: 1_000 };
        else round.observed.set(id, { isCompliant: true, isManaged: true, complianceExpirationDateTime: null });
      }
      if (batch.includes(ids[1]!)) throttleFirst--;
      return round;
    };
    const result = await readBack(ids, send, async (ms) => void waits.push(ms), 3);
    assert.deepEqual(
      sent.map((b) => b.length),
      [20, 2, 2, 5],
    );
    assert.deepEqual(sent[1], [ids[1], ids[7]]);
    assert.deepEqual(sent[2], [ids[1], ids[7]]);
    assert.deepEqual(waits, [1_000, 1_000]);
    assert.equal(result.observed.size, 24);
    assert.deepEqual(result.unread, [{ azureDeviceId: ids[7], reason: 'still throttled after 3 batches' }]);
    assert.equal(result.resent, 4);
  });
});
