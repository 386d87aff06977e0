/**
 * rrweb-record.js: rrweb's recorder (@rrweb/record) and the privacy rules it records by
 * (privacy.ts, shared with page capture), imported by replay.js only once a session is
 * sampled in.
 */
import { recordOptions as fromRules, rules } from './privacy';
import type { PrivacyOptions } from './types';

export { record } from '@rrweb/record';

/** rrweb's blocking and masking options for the page's privacy options. */
export const recordOptions = (o: PrivacyOptions) => fromRules(rules(o));
