/** Public types of the Sayso widget (mirrors Usero's SDK options). */

export type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
export type Metadata = Record<string, unknown>;
export type MetadataOption = Metadata | (() => Metadata | null | undefined);

/** A screenshot as returned by POST /api/screenshots; sent back unchanged. */
export interface Screenshot {
  fileName: string;
  url: string;
  fileSize: number;
  mimeType: string;
  width?: number;
  height?: number;
}

export interface User {
  email?: string;
  id?: string;
  name?: string;
}

export interface Theme {
  primary?: string;
  background?: string;
  text?: string;
  border?: string;
  shadow?: string;
}

export interface SubmitResult {
  /** The server's id; null while the submission waits in the offline queue. */
  feedbackId: string | null;
  queued: boolean;
  /** The Idempotency-Key sent (and reused by every retry). */
  idempotencyKey: string;
}

export interface SubmitInput {
  /** Defaults to the last init()'s (or the script tag's) clientId. */
  clientId?: string;
  baseUrl?: string;
  rating?: number;
  comment?: string;
  userEmail?: string;
  environment?: string;
  metadata?: MetadataOption;
  screenshots?: Screenshot[];
  pageUrl?: string;
  pageTitle?: string;
  referrer?: string;
  sessionReplayId?: string;
  replayOffsetMs?: number;
  user?: User;
  /** Add viewport, screen, language, timezone and user agent under metadata.browser (default true). */
  contextMetadata?: boolean;
  /** Reuse a key (e.g. when the user presses Send again after a failure). */
  idempotencyKey?: string;
  /** Images still to upload before sending (queued with the feedback if the upload fails). */
  files?: Blob[];
}

export interface UploadTarget {
  clientId: string;
  baseUrl?: string;
}

export interface Options extends PrivacyOptions {
  clientId: string;
  baseUrl?: string;
  position?: 'right' | 'left';
  theme?: Theme;
  colorScheme?: 'auto' | 'light' | 'dark';
  title?: string;
  placeholder?: string;
  showEmailOption?: boolean;
  showScreenshotOption?: boolean;
  environment?: string;
  metadata?: MetadataOption;
  user?: User;
  getUser?: () => User | null | undefined;
  onSubmit?: (result: SubmitResult) => void;
  onError?: (error: Error) => void;
  onOpen?: () => void;
  onClose?: () => void;
  launcher?: 'button' | 'tab' | 'none';
  locale?: string;
  nonce?: string;
  contextMetadata?: boolean;
  maxCommentLength?: number;
  /** Record a session replay (lazy-loads replay.js); see ReplayOptions. */
  replay?: boolean;
  replaySampleRate?: number;
}

/**
 * What session recordings and page captures leave out (one rule set, sdk/src/privacy.ts):
 * options of init() and startReplay(); the selectors also as data-privacy-block-selector
 * and data-privacy-mask-selector on the script tag.
 */
export interface PrivacyOptions {
  /** Extra CSS selector of elements left out entirely, a plain box instead (added to sayso-feedback, .sayso-block, .usero-block, [data-sayso-block], [data-usero-block], .rr-block). */
  privacyBlockSelector?: string;
  /** Extra CSS selector of elements whose text is masked (added to .sayso-mask, .usero-mask, [data-sayso-mask], [data-usero-mask], .rr-mask). */
  privacyMaskSelector?: string;
  /** Hide the values of all inputs, textareas and selects (default true; passwords, card fields and one-time codes always are). */
  privacyMaskAllInputs?: boolean;
  /** @deprecated the old name of privacyBlockSelector (still accepted) */
  replayBlockSelector?: string;
  /** @deprecated the old name of privacyMaskSelector (still accepted) */
  replayMaskSelector?: string;
  /** @deprecated the old name of privacyMaskAllInputs (still accepted) */
  replayMaskAllInputs?: boolean;
}

/** Options of startReplay() (and the replay options of init()). */
export interface ReplayOptions extends PrivacyOptions {
  clientId: string;
  baseUrl?: string;
  /** Share of sessions recorded, 0..1 (default 1); decided once per tab session and remembered. */
  replaySampleRate?: number;
  /** The signed-in person: sent to POST /api/identify when recording starts, so the session shows who it was. */
  user?: User;
}

/** What a feedback item carries to point into the recording. */
export interface ReplayLink {
  sessionReplayId: string;
  /** Milliseconds since the first recorded event of the session. */
  replayOffsetMs: number;
}

export interface ReplayHandle {
  /** The server's id; null until the session has been accepted. */
  readonly sessionReplayId: string | null;
  /** The link for a feedback item given now; undefined while there is no accepted session. */
  link(): ReplayLink | undefined;
  /** Stops recording (remaining events are sent, the session is finalised). */
  stop(): void;
  /** The host app's user changed: POST /api/identify (once per person); null (logout) rotates the anonymousId. */
  identify(user: User | null): void;
}

export interface WidgetHandle {
  open(): void;
  close(): void;
  update(options: Partial<Options>): void;
  identify(user: User | null): void;
  destroy(): void;
}

/** The payload of POST /api/feedback. */
export interface Payload {
  clientId: string;
  rating?: number;
  comment?: string;
  userEmail?: string;
  pageUrl?: string;
  pageTitle?: string;
  referrer?: string;
  environment?: string;
  screenshots?: Screenshot[];
  metadata?: Metadata;
  sessionReplayId?: string;
  replayOffsetMs?: number;
}
