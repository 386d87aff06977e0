// The session replay player: loaded only on /projects/…/replays/<id> (its own
// bundle, with rrweb's Replayer, so every other page stays light).
//
// A recording is DOM written by a stranger. rrweb rebuilds it inside an iframe
// sandboxed with `allow-same-origin` only — no scripts, forms, popups or top
// navigation — and turns <script> into <noscript> on the way. We never set
// UNSAFE_replayCanvas (it adds allow-scripts), and we check the sandbox before
// the first frame is drawn: if it is anything else, nothing is played.
// Everything else taken from the recording (page URLs) is shown as text.
import { Replayer, type eventWithTime } from 'rrweb';
import 'rrweb/dist/style.css';
import './player.css';

interface Marker {
  id: string;
  offsetMs: number | null;
  label: string;
  href: string;
  current: boolean;
}
interface Gap {
  dropped: number;
  after: number | null; // epoch ms of the last event before the gap
  before: number | null; // epoch ms of the first event after it
}
interface PlayerData {
  eventsUrl: string;
  startMs: number;
  feedback: Marker[];
  gaps: Gap[];
}

const SAFE_SANDBOX = 'allow-same-origin';
const META = 4; // rrweb EventType.Meta: a page load, with its href
const CUSTOM = 5; // rrweb EventType.Custom: the recorder's `url-change`
const SKIP_MS = 5000;

function formatTime(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

function need<T extends Element>(root: ParentNode, selector: string): T {
  const found = root.querySelector<T>(selector);
  if (!found) throw new Error(`player markup is missing ${selector}`);
  return found;
}

/** Page URLs over time: rrweb Meta events (loads) and `url-change` custom events (SPA). */
function pageChanges(events: eventWithTime[], start: number): { at: number; href: string }[] {
  const out: { at: number; href: string }[] = [];
  for (const e of events) {
    let href: unknown;
    const data = e.data as Record<string, unknown> | undefined;
    if (e.type === META) href = data?.href;
    else if (e.type === CUSTOM && data?.tag === 'url-change') {
      href = (data.payload as Record<string, unknown> | undefined)?.href;
    }
    if (typeof href === 'string' && href !== out[out.length - 1]?.href) {
      out.push({ at: Math.max(0, e.timestamp - start), href });
    }
  }
  return out;
}

class Player {
  private replayer: Replayer | null = null;
  private playing = false;
  private total = 0;
  private start = 0;
  private frame = 0;
  private readonly status: HTMLElement;
  private readonly stage: HTMLElement;
  private readonly toggle: HTMLButtonElement;
  private readonly time: HTMLOutputElement;
  private readonly seek: HTMLInputElement;
  private readonly marks: HTMLElement;

  constructor(
    private readonly root: HTMLElement,
    private readonly data: PlayerData,
  ) {
    this.status = need(root, '[data-player-status]');
    this.stage = need(root, '[data-player-stage]');
    this.toggle = need(root, '[data-player-toggle]');
    this.time = need(root, '[data-player-time]');
    this.seek = need(root, '[data-player-seek]');
    this.marks = need(root, '[data-player-marks]');
  }

  async load(): Promise<void> {
    const response = await fetch(this.data.eventsUrl, { credentials: 'same-origin' });
    if (!response.ok) throw new Error(`the recording could not be loaded (${response.status})`);
    const events = ((await response.json()) as eventWithTime[]).filter(
      (e) => e && typeof e.timestamp === 'number',
    );
    events.sort((a, b) => a.timestamp - b.timestamp);
    if (!events.some((e) => e.type === 2)) {
      this.say('Nothing to play yet: the recording has no full page snapshot.');
      this.root.dataset.state = 'empty';
      return;
    }
    const replayer = new Replayer(events, {
      root: this.stage,
      UNSAFE_replayCanvas: false,
      skipInactive: true,
      showWarning: false,
      triggerFocus: false,
      mouseTail: false,
      speed: 1,
    });
    const sandbox = replayer.iframe.getAttribute('sandbox');
    if (sandbox !== SAFE_SANDBOX) {
      replayer.destroy();
      throw new Error(`refusing to play: the replay frame's sandbox is "${sandbox}"`);
    }
    replayer.iframe.title = 'Recorded page (sandboxed)';
    this.replayer = replayer;
    const meta = replayer.getMetaData();
    this.start = meta.startTime;
    this.total = meta.totalTime;
    this.seek.max = String(this.total);
    replayer.on('resize', () => this.fit());
    window.addEventListener('resize', () => this.fit());
    replayer.on('finish', () => this.setPlaying(false));
    new ResizeObserver(() => this.fit()).observe(this.stage);

    this.drawMarks();
    this.listPages(pageChanges(events, this.start));
    this.wireControls();
    need<HTMLElement>(this.root, '[data-player-controls]').hidden = false;
    need<HTMLElement>(this.root, '[data-player-timeline]').hidden = false;
    this.status.hidden = true;
    this.goTo(this.data.startMs);
    this.fit();
    this.root.dataset.state = 'ready';
  }

  say(message: string): void {
    this.status.hidden = false;
    this.status.textContent = message;
  }

  /**
   * Scale the recorded viewport to fit the stage's width and most of the window's height,
   * so the controls below it stay on screen (rrweb sizes the iframe in CSS px).
   */
  private fit(): void {
    if (!this.replayer) return;
    const frame = this.replayer.iframe;
    const width = frame.offsetWidth || Number(frame.width) || 1;
    const height = frame.offsetHeight || Number(frame.height) || 1;
    const room = Math.max(window.innerHeight * 0.6, 200);
    const scale = Math.min(1, this.stage.clientWidth / width, room / height);
    this.replayer.wrapper.style.transform = `scale(${scale})`;
    this.replayer.wrapper.style.transformOrigin = 'top left';
    this.stage.style.height = `${Math.ceil(height * scale)}px`;
  }

  private at(epochMs: number): number {
    return Math.min(Math.max(epochMs - this.start, 0), this.total);
  }

  private mark(className: string, atMs: number, label: string): HTMLElement {
    const mark = document.createElement('button');
    mark.type = 'button';
    mark.className = className;
    mark.title = label;
    mark.setAttribute('aria-label', label);
    mark.style.left = `${this.total ? (atMs / this.total) * 100 : 0}%`;
    mark.addEventListener('click', () => this.goTo(atMs));
    this.marks.append(mark);
    return mark;
  }

  private drawMarks(): void {
    for (const gap of this.data.gaps) {
      const from = gap.after === null ? 0 : this.at(gap.after);
      const to = gap.before === null ? from : this.at(gap.before);
      const chunks = `${gap.dropped} chunk${gap.dropped === 1 ? '' : 's'}`;
      const label = `${chunks} lost here, from ${formatTime(from)} to ${formatTime(to)}`;
      const mark = this.mark('player-gap', from, label);
      mark.style.width = `${this.total ? Math.max(((to - from) / this.total) * 100, 0.5) : 0}%`;
      mark.dataset.gap = String(gap.dropped);
    }
    for (const item of this.data.feedback) {
      if (item.offsetMs === null) continue;
      const at = Math.min(item.offsetMs, this.total);
      const mark = this.mark('player-marker', at, `Feedback at ${formatTime(at)}: ${item.label}`);
      mark.dataset.feedbackId = item.id;
      if (item.current) mark.classList.add('current');
    }
  }

  private listPages(pages: { at: number; href: string }[]): void {
    const list = this.root.ownerDocument.querySelector<HTMLOListElement>('[data-player-pages]');
    if (!list || pages.length === 0) return;
    list.replaceChildren(
      ...pages.map(({ at, href }) => {
        const item = document.createElement('li');
        const jump = document.createElement('button');
        jump.type = 'button';
        jump.className = 'link';
        jump.textContent = formatTime(at);
        jump.setAttribute('aria-label', `Jump to ${formatTime(at)}`);
        jump.addEventListener('click', () => this.goTo(at));
        const url = document.createElement('span');
        url.className = 'player-url';
        url.textContent = href; // text only: never a link out of a recording
        item.append(jump, ' ', url);
        return item;
      }),
    );
  }

  private wireControls(): void {
    this.toggle.addEventListener('click', () => this.togglePlay());
    this.seek.addEventListener('input', () => this.goTo(Number(this.seek.value)));
    need<HTMLSelectElement>(this.root, '[data-player-speed]').addEventListener('change', (e) => {
      this.replayer?.setConfig({ speed: Number((e.target as HTMLSelectElement).value) });
    });
    need<HTMLInputElement>(this.root, '[data-player-skip]').addEventListener('change', (e) => {
      this.replayer?.setConfig({ skipInactive: (e.target as HTMLInputElement).checked });
    });
    for (const jump of document.querySelectorAll<HTMLElement>('[data-player-jump]')) {
      jump.addEventListener('click', () => this.goTo(Number(jump.dataset.playerJump)));
    }
    document.addEventListener('keydown', (event) => this.onKey(event));
  }

  private onKey(event: KeyboardEvent): void {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target as HTMLElement | null;
    // Keys typed into a field, or Space on a button/select, keep their own meaning.
    const field = target?.closest('input, textarea, select, button, a, [contenteditable]');
    if (field && target !== this.seek) return;
    if (event.key === ' ') {
      event.preventDefault();
      this.togglePlay();
    } else if (target !== this.seek && (event.key === 'ArrowRight' || event.key === 'ArrowLeft')) {
      event.preventDefault();
      this.goTo(this.current() + (event.key === 'ArrowRight' ? SKIP_MS : -SKIP_MS));
    }
  }

  private current(): number {
    return this.replayer ? this.replayer.getCurrentTime() : 0;
  }

  /** Show the frame at `ms` (from the first event), keeping play/pause as it was. */
  goTo(ms: number): void {
    if (!this.replayer) return;
    const at = Math.min(Math.max(ms, 0), this.total);
    if (this.playing) this.replayer.play(at);
    else this.replayer.pause(at);
    this.render(at);
  }

  togglePlay(): void {
    if (!this.replayer) return;
    const now = this.current();
    if (this.playing) {
      this.replayer.pause();
      this.setPlaying(false);
    } else {
      this.replayer.play(now >= this.total ? 0 : now);
      this.setPlaying(true);
    }
  }

  private setPlaying(playing: boolean): void {
    this.playing = playing;
    this.toggle.textContent = playing ? 'Pause' : 'Play';
    this.root.dataset.playing = String(playing);
    cancelAnimationFrame(this.frame);
    if (playing) this.tick();
    else this.render(this.current());
  }

  private tick(): void {
    this.render(this.current());
    this.frame = requestAnimationFrame(() => this.tick());
  }

  private render(at: number): void {
    this.seek.value = String(Math.round(at));
    this.time.value = `${formatTime(at)} / ${formatTime(this.total)}`;
    this.root.dataset.currentMs = String(Math.round(at));
  }
}

function main(): void {
  const root = document.getElementById('replay-player');
  const source = document.getElementById('replay-data');
  if (!root || !source?.textContent) return;
  const player = new Player(root, JSON.parse(source.textContent) as PlayerData);
  player.load().catch((error: unknown) => {
    root.dataset.state = 'error';
    player.say(error instanceof Error ? error.message : 'The recording could not be played.');
  });
}

main();
