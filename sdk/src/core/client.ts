import type { ReplayLink, Screenshot, SubmitInput, SubmitResult, UploadTarget } from '../types';
import { SaysoError, isOk, isRetriable, postFeedback, toError, upload } from './http';
import { buildPayload, type PageInfo } from './payload';
import { type Entry, MAX_ENTRY, type Queue, type QueueEnv, backoff, blobToDataUrl, createQueue, fitImages } from './queue';

export interface CoreEnv extends QueueEnv {
  uuid: () => string;
  page: () => PageInfo;
  /** Default base URL when an input has none. */
  baseUrl: () => string;
  /** The session replay being recorded, if any: its id and the offset of now. */
  replay?: () => ReplayLink | undefined;
}

export interface Core {
  queue: Queue;
  submit(input: SubmitInput): Promise<SubmitResult>;
  uploadScreenshot(target: UploadTarget, file: Blob): Promise<Screenshot>;
}

const trimBase = (u: string): string => u.replace(/\/+$/, '');

/** A v4 UUID from crypto.randomUUID, or built from getRandomValues where that is missing (insecure contexts). */
export function uuid(c: Pick<Crypto, 'getRandomValues'> & { randomUUID?: () => string } = crypto): string {
  if (c.randomUUID) return c.randomUUID();
  const b = c.getRandomValues(new Uint8Array(31));
  let i = 0;
  // x → random hex digit; y → 8, 9, a or b (the variant)
  return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (ch) => ((ch < 'y' ? b[i++] & 15 : (b[i++] & 3) | 8)).toString(16));
}

export function createCore(env: CoreEnv): Core {
  const queue = createQueue(env);
  const base = (b?: string) => trimBase(b || env.baseUrl());

  /** Queues an entry after a failed first attempt; without storage the failure is final. */
  const enqueue = (e: Entry, err: SaysoError): SubmitResult => {
    if (!queue.put({ ...e, n: 1, at: env.now() + backoff(1, env.random) })) throw err;
    return { feedbackId: null, queued: true, idempotencyKey: e.id };
  };

  return {
    queue,

    uploadScreenshot: (target, file) => {
      if (!target?.clientId) return Promise.reject(new SaysoError('clientId is required', 400));
      return upload(env.transport, base(target.baseUrl), target.clientId, file);
    },

    async submit(input) {
      if (!input?.clientId) throw new SaysoError('clientId is required', 400);
      const url = base(input.baseUrl);
      const shots = [...(input.screenshots || [])];
      const pending: Blob[] = [];
      let uploadErr: SaysoError | undefined;
      for (const f of input.files || []) {
        try {
          shots.push(await upload(env.transport, url, input.clientId, f));
        } catch (err) {
          if (!(err as SaysoError).retriable) throw err;
          pending.push(f);
          uploadErr = err as SaysoError;
        }
      }
      const now = env.now();
      const e: Entry = {
        id: input.idempotencyKey || env.uuid(),
        url,
        body: buildPayload({ ...env.replay?.(), ...input, screenshots: shots }, env.page()),
        n: 0,
        t0: now,
        at: now,
      };
      if (uploadErr) {
        const img: string[] = [];
        // base64 grows by 4/3: don't even encode what can't fit
        for (const f of pending) if (f.size * 4 < MAX_ENTRY * 3) img.push(await blobToDataUrl(f));
        return enqueue(fitImages(e, img), uploadErr);
      }
      const r = await postFeedback(env.transport, url, e.body, e.id);
      if (isOk(r.status)) {
        return { feedbackId: typeof r.data?.feedbackId == 'string' ? r.data.feedbackId : null, queued: false, idempotencyKey: e.id };
      }
      if (isRetriable(r.status)) return enqueue(e, toError(r));
      throw toError(r);
    },
  };
}
