import { replyParser, requestParser } from '@vigil/bus';
import { AuditEventsPage, AuditEventsQuery } from './messages.ts';

/** The audit service's check of a query: a bad shape is the caller's mistake (400). */
export const parseAuditEventsQuery = requestParser(AuditEventsQuery);

/** The edge's check of a page: an audit service answering outside the contract is a server fault. */
export const parseAuditEventsPage = replyParser(AuditEventsPage, 'audit events');
