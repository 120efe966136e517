// The worker thread of audit_log's bulk rebuild (started by bulk-rebuild.ts): encodes every batch it is sent, in the
// order sent, with AuditRowEncoder, and sends back the rows without their hashes. It validates with vigilEvents, so
// it is used only when the bus validates with vigilEvents too.
import { parentPort } from 'node:worker_threads';
import { vigilEvents } from '@vigil/schemas';
import { AuditRowEncoder, buffersOf, isRowsRequest, type RowsReply } from './bulk-rows.ts';

const port = parentPort;
if (!port) throw new Error('bulk-rebuild-worker.ts runs as a worker thread');
const reply = (message: RowsReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

let encoder: AuditRowEncoder | undefined;
port.on('message', (request: unknown) => {
  try {
    if (!isRowsRequest(request)) throw new Error('the audit rebuild worker was sent something other than a batch');
    if (request.place) encoder = new AuditRowEncoder(vigilEvents, request.place);
    if (!encoder) throw new Error('the first batch sent to the audit rebuild worker did not say where the chain is');
    const text = encoder.encode(request.batch);
    reply({ text }, buffersOf(text));
  } catch (err) {
    reply({ failure: err instanceof Error ? err.message : String(err) });
  }
});
reply({ ready: true });
