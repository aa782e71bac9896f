/**
 * Progress reporting for long work: a redrawn bar on a terminal, or (in notebooks, CI logs and
 * pipes) a plain line at most every `intervalMs`.
 */
export interface ProgressOptions {
  label: string;
  total: number;
  /** Where lines go; default: a bar on stderr when it is a TTY, else lines on stdout. */
  write?: (line: string, final: boolean) => void;
  intervalMs?: number;
}

export class Progress {
  private done = 0;
  private readonly start = Date.now();
  private last = 0;
  private note = "";
  private readonly tty: boolean;

  constructor(private readonly o: ProgressOptions) {
    this.tty = !o.write && Boolean(process.stderr.isTTY);
  }

  /** Advance to `done` units (absolute) with an optional status note (e.g. the loss). */
  update(done: number, note?: string): void {
    this.done = done;
    if (note !== undefined) this.note = note;
    const now = Date.now();
    const interval = this.o.intervalMs ?? (this.tty ? 100 : 10_000);
    if (now - this.last >= interval || done >= this.o.total) {
      this.last = now;
      this.render(done >= this.o.total);
    }
  }

  finish(note?: string): void {
    if (note !== undefined) this.note = note;
    this.done = this.o.total;
    this.render(true);
  }

  private render(final: boolean): void {
    const { total, label } = this.o;
    const frac = total > 0 ? Math.min(1, this.done / total) : 1;
    const elapsed = (Date.now() - this.start) / 1000;
    const eta = frac > 0 ? (elapsed * (1 - frac)) / frac : NaN;
    const width = 28;
    const filled = Math.round(frac * width);
    const bar = `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
    const text = `${label} ${bar} ${(frac * 100).toFixed(1).padStart(5)}% ${fmtTime(elapsed)} elapsed, ETA ${fmtTime(eta)}${this.note ? "  " + this.note : ""}`;
    if (this.o.write) this.o.write(text, final);
    else if (this.tty) process.stderr.write(`\r${text}\x1b[K${final ? "\n" : ""}`);
    else console.log(text);
  }
}

export function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, "0")}m`;
}
