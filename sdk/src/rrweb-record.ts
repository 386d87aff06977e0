/** rrweb-record.js: rrweb's recorder (@rrweb/record), imported by replay.js only once a session is sampled in. */
export { record } from '@rrweb/record';
