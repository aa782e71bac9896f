/**
 * A person at a browser: `scripts/notebook.sh` (what `npm run notebook` runs) serves notebooks/
 * with Debian's Notebook 6.4; Debian's Chromium (playwright-core, never a downloaded browser) opens
 * 04_train_attention, runs every cell through the menu (Cell > Run All), and we check what the page
 * shows: no error output, the live plotly loss curve drawn as SVG, the resolved parameters. Then the
 * parameter cell is edited in the page (another epoch count) and re-run with the keyboard, and the
 * printed value must change. A screenshot of the executed notebook goes to
 * results/test-artifacts/notebook-04.png.
 *
 * The server gets PROFILE=smoke and OUT_DIR=<temp folder> in its environment, so the notebook trains
 * the tiny smoke profile into the temp folder. Autosave is switched off in the page and the source
 * notebook is compared byte for byte afterwards: the committed notebook must stay without outputs.
 * Needs `sudo bash scripts/setup.sh` (Jupyter Notebook, Chromium, the tslab kernel); without it the
 * test fails and says so.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { chromium, Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM_ARGS, chromiumPath } from "../src/plot/export";

const ROOT = path.resolve(__dirname, "..");
const NOTEBOOK = "04_train_attention.ipynb";
const NOTEBOOK_FILE = path.join(ROOT, "notebooks", NOTEBOOK);
const ARTIFACTS = path.join(ROOT, "results", "test-artifacts");
const SCREENSHOT = path.join(ARTIFACTS, "notebook-04.png");
// Generous: on 2 busy cores a fresh tslab kernel compiles src/ for ~15-60 s before training starts.
const SERVER_START_MS = 90_000;
const KERNEL_READY_MS = 120_000;
const RUN_ALL_MS = 600_000;
const RERUN_MS = 180_000;

/** A free TCP port on the loopback interface. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Process ids of every descendant of `pid` (the server's kernels), from /proc. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    let children: number[] = [];
    try {
      for (const task of fs.readdirSync(`/proc/${p}/task`)) {
        const text = fs.readFileSync(`/proc/${p}/task/${task}/children`, "utf8").trim();
        if (text) children = children.concat(text.split(/\s+/).map(Number));
      }
    } catch {
      return; // gone
    }
    for (const c of children) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** True while `pid` is still a tslab kernel (checked by its command line, so a reused id is left alone). */
function kernelAlive(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("tslab");
  } catch {
    return false;
  }
}

async function waitUntil(what: string, ms: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
}

/** One code cell as the page's notebook model holds it. */
interface CellState {
  index: number;
  prompt: string;
  source: string;
  outputs: { type: string; name?: string; text: string; mime: string[] }[];
}

/** Every code cell: its prompt ("In [3]:", "In [*]:"), source and outputs (from Jupyter's JS model). */
async function cellStates(page: Page): Promise<CellState[]> {
  return page.evaluate(() => {
    const J = (globalThis as any).Jupyter;
    return J.notebook.get_cells().flatMap((c: any, index: number) => c.cell_type !== "code" ? [] : [{
      index,
      prompt: (c.element[0].querySelector(".input_prompt")?.textContent ?? "").replace(/\s+/g, " ").trim(),
      source: c.get_text(),
      outputs: (c.output_area.outputs as any[]).map((o) => ({
        type: o.output_type,
        name: o.name,
        text: o.output_type === "stream" ? String(o.text)
          : o.output_type === "error" ? `${o.ename}: ${o.evalue}\n${(o.traceback ?? []).join("\n")}`
          : String(o.data?.["text/plain"] ?? ""),
        mime: Object.keys(o.data ?? {}),
      })),
    }]);
  });
}

/** The cells as text for a failure message: prompt, source head and every output. */
function describeCells(cells: CellState[]): string {
  return cells.map((c) => [
    `--- cell ${c.index} ${c.prompt}`,
    c.source.split("\n").slice(0, 3).map((l) => `    ${l}`).join("\n"),
    ...c.outputs.map((o) => `  [${o.type}${o.name ? ` ${o.name}` : ""}${o.mime.length ? ` ${o.mime.join(",")}` : ""}] ${o.text.slice(0, 2000)}`),
  ].join("\n")).join("\n");
}

const isDone = (prompt: string) => /\[\d+\]/.test(prompt);
const isRunning = (prompt: string) => /\[\*\]/.test(prompt);

async function kernelIdle(page: Page): Promise<boolean> {
  return page.evaluate(() => (globalThis as any).document.querySelector("#kernel_indicator_icon")?.classList.contains("kernel_idle_icon") ?? false);
}

/** A failure that shows every cell's outputs, with a screenshot of the page beside the test's artifacts. */
async function failure(page: Page, err: unknown): Promise<Error> {
  const file = path.join(ARTIFACTS, "notebook-04-failure.png");
  let shot = "";
  try {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: file });
    shot = ` (screenshot ${path.relative(ROOT, file)})`;
  } catch {
    // the page may be gone; the cell outputs below still say what happened
  }
  return new Error(`${(err as Error).message}${shot}\n${describeCells(await cellStates(page).catch(() => []))}`);
}

/** Errors a person would see: error outputs, and stderr (where tslab writes a failed cell's error). */
function errorOutputs(cells: CellState[]): string[] {
  return cells.flatMap((c) => c.outputs.filter((o) => o.type === "error" || (o.type === "stream" && o.name === "stderr"))
    .map((o) => `cell ${c.index}: ${o.text.slice(0, 1000)}`));
}

describe("notebooks in a browser (scripts/notebook.sh + Chromium)", () => {
  let server: ChildProcess | undefined;
  let serverLog = "";
  let browser: Browser | undefined;
  let page: Page;
  let outDir: string;
  let base: string;
  let token: string;
  let kernelPids: number[] = [];
  let sourceBefore: Buffer;
  const checkpoints = path.join(ROOT, "notebooks", ".ipynb_checkpoints");
  let checkpointsExisted = true;

  beforeAll(async () => {
    expect(fs.existsSync(chromiumPath()), `Chromium is not installed at ${chromiumPath()}: run 'sudo bash scripts/setup.sh'`).toBe(true);
    const version = spawnSync("/usr/bin/jupyter", ["notebook", "--version"], { encoding: "utf8" });
    expect(version.status, `Jupyter Notebook is not installed ('/usr/bin/jupyter notebook --version' failed): run 'sudo bash scripts/setup.sh'\n${version.stderr ?? version.error}`).toBe(0);
    sourceBefore = fs.readFileSync(NOTEBOOK_FILE);
    fs.rmSync(path.join(ARTIFACTS, "notebook-04-failure.png"), { force: true }); // from an earlier failed run
    checkpointsExisted = fs.existsSync(checkpoints); // the server makes it when a notebook opens
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), "nb-browser-"));
    const port = await freePort();
    token = `test${process.pid}${Date.now().toString(16)}`;
    base = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = { ...process.env, PROFILE: "smoke", OUT_DIR: outDir, JUPYTER_TOKEN: token };
    for (const k of ["OVERRIDES", "SEED", "DATA_DIR"]) delete env[k]; // the notebook's own defaults
    server = spawn("bash", [path.join(ROOT, "scripts", "notebook.sh"), "--port", String(port)], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    server.stdout!.on("data", (d) => (serverLog += d));
    server.stderr!.on("data", (d) => (serverLog += d));
    try {
      await waitUntil(`the Notebook server on ${base}`, SERVER_START_MS, async () => {
        if (server!.exitCode !== null) throw new Error(`scripts/notebook.sh exited with status ${server!.exitCode}`);
        try {
          return (await fetch(`${base}/api/status?token=${token}`)).ok;
        } catch {
          return false;
        }
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}; its output:\n${serverLog}`);
    }
    // the URL a person opens: scripts/notebook.sh prints it once its own probe of the server succeeds,
    // which may come a moment after ours
    const url = `http://127.0.0.1:${port}/tree?token=${token}`;
    await waitUntil("scripts/notebook.sh to print the URL", 30_000, async () => serverLog.includes(url)).catch(() => {});
    expect(serverLog).toContain(url);
    browser = await chromium.launch({ executablePath: chromiumPath(), args: [...CHROMIUM_ARGS], headless: true });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, SERVER_START_MS + 60_000);

  afterAll(async () => {
    // 1. the browser; 2. the kernels, through the server's API; 3. the server, by its process id.
    await browser?.close().catch(() => undefined);
    if (server?.pid && server.exitCode === null) {
      kernelPids = kernelPids.concat(descendants(server.pid));
      try {
        const kernels = (await (await fetch(`${base}/api/kernels?token=${token}`)).json()) as { id: string }[];
        for (const k of kernels) await fetch(`${base}/api/kernels/${k.id}?token=${token}`, { method: "DELETE" });
      } catch {
        // the server is stopped below anyway, which shuts its kernels down
      }
      process.kill(server.pid, "SIGTERM");
      try {
        await waitUntil("the Notebook server to stop", 30_000, () => server!.exitCode !== null || server!.signalCode !== null);
      } catch {
        process.kill(server.pid, "SIGKILL");
      }
    }
    for (const pid of kernelPids) if (kernelAlive(pid)) process.kill(pid, "SIGKILL"); // only kernels this server started
    if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
    if (!checkpointsExisted && fs.existsSync(checkpoints) && fs.readdirSync(checkpoints).length === 0) fs.rmdirSync(checkpoints);
    // The committed notebook must not have been saved with outputs; put it back if it was.
    if (sourceBefore && !fs.readFileSync(NOTEBOOK_FILE).equals(sourceBefore)) {
      fs.writeFileSync(NOTEBOOK_FILE, sourceBefore);
      throw new Error(`${NOTEBOOK_FILE} was changed by the browser session (restored)`);
    }
  }, 90_000);

  it("runs 04_train_attention through the menu, shows the live loss curve and the parameters, and re-runs an edited parameter cell", async () => {
    const t0 = Date.now();
    // 1. Open the notebook as a person would (the token URL), wait for the tslab kernel.
    await page.goto(`${base}/notebooks/${NOTEBOOK}?token=${token}`, { waitUntil: "load", timeout: 60_000 });
    await waitUntil("the tslab kernel to connect and go idle", KERNEL_READY_MS, async () =>
      (await page.evaluate(() => (globalThis as any).Jupyter?.notebook?.kernel?.is_connected?.() === true).catch(() => false)) && (await kernelIdle(page)));
    expect(await page.evaluate(() => (globalThis as any).Jupyter.notebook.kernel.name)).toBe("tslab");
    await page.evaluate(() => (globalThis as any).Jupyter.notebook.set_autosave_interval(0)); // never write the source notebook
    kernelPids = descendants(server!.pid!);
    const before = await cellStates(page);
    expect(before.length, "04 has no code cells").toBeGreaterThanOrEqual(3);
    expect(before.every((c) => c.outputs.length === 0 && !isDone(c.prompt)), `the source notebook is not clean:\n${describeCells(before)}`).toBe(true);

    // 2. Cell > Run All, through the menu bar.
    await page.click("#menus a.dropdown-toggle:text-is('Cell')");
    await page.click("#run_all_cells > a");
    const last = before[before.length - 1].index;
    try {
      await waitUntil("every cell to finish (no In [*]) and the kernel to go idle", RUN_ALL_MS, async () => {
        const cells = await cellStates(page);
        const finished = cells.every((c) => !isRunning(c.prompt)) && (await kernelIdle(page));
        if (finished && !cells.every((c) => isDone(c.prompt))) throw new Error("a cell did not run (stopped after an error?)");
        return finished && isDone(cells.find((c) => c.index === last)!.prompt);
      });
    } catch (err) {
      throw await failure(page, err);
    }
    const ran = await cellStates(page);
    const runAllSeconds = (Date.now() - t0) / 1000;
    const report = describeCells(ran);

    // 3. What the page shows: no error, the resolved parameters, the live plotly curve as SVG.
    expect(errorOutputs(ran), `error output in the page:\n${report}`).toEqual([]);
    const paramCell = ran.find((c) => /notebookParams\(/.test(c.source));
    expect(paramCell, `no parameter cell (calling notebookParams):\n${report}`).toBeDefined();
    const printed = paramCell!.outputs.map((o) => o.text).join("");
    expect(printed, report).toMatch(/^profile smoke; out /m);
    expect(printed, report).toContain(outDir);
    expect(printed, report).toMatch(/\bepochs=4(?!\d)(?!\*)/); // the smoke profile's, not overridden
    const trainCell = ran[ran.length - 1];
    expect(trainCell.outputs.map((o) => o.text).join(""), report).toMatch(/\b(trained|resumed|reused)\b/);
    const curve = page.locator(".output_area .js-plotly-plot svg.main-svg");
    expect(await curve.count(), `no plotly SVG in the page:\n${report}`).toBeGreaterThan(0);
    const lineLength = await page.evaluate(() => Math.max(0, ...Array.from((globalThis as any).document.querySelectorAll(".output_area .js-plotly-plot .scatterlayer path.js-line") as ArrayLike<any>)
      .map((p) => p.getTotalLength() as number)));
    expect(lineLength, "the loss curve has no drawn line").toBeGreaterThan(10);
    expect(await page.locator(".output_area .js-plotly-plot .gtitle").first().textContent()).toContain("Training loss: attention");

    // 4. A screenshot of the executed notebook (the page scrolls inside #site: grow the viewport to it).
    const full = await page.evaluate(() => {
      const site = (globalThis as any).document.querySelector("#site");
      return Math.ceil(site.getBoundingClientRect().top + site.scrollHeight);
    });
    await page.setViewportSize({ width: 1280, height: Math.min(Math.max(full, 900), 8000) });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    expect(fs.statSync(SCREENSHOT).size).toBeGreaterThan(20_000);
    await page.setViewportSize({ width: 1280, height: 900 });

    // 5. Edit the parameter cell in the page (another epoch count), re-run it with Ctrl-Enter.
    const edited = paramCell!.source.replace(/^(const OVERRIDES = process\.env\.OVERRIDES \?\? )"\{\}";/m, `$1'{"epochs": 3}';`);
    expect(edited, `the OVERRIDES line of the parameter cell changed form:\n${paramCell!.source}`).not.toBe(paramCell!.source);
    const editor = page.locator(".cell").nth(paramCell!.index).locator(".CodeMirror");
    await editor.click();
    await page.keyboard.press("Control+A");
    await page.keyboard.insertText(edited);
    const typed = await page.evaluate((i) => (globalThis as any).Jupyter.notebook.get_cell(i).get_text(), paramCell!.index);
    expect(typed).toBe(edited);
    await page.keyboard.press("Control+Enter");
    const promptBefore = paramCell!.prompt;
    try {
      await waitUntil("the edited parameter cell to run again", RERUN_MS, async () => {
        const c = (await cellStates(page)).find((x) => x.index === paramCell!.index)!;
        return isDone(c.prompt) && c.prompt !== promptBefore && (await kernelIdle(page));
      });
    } catch (err) {
      throw await failure(page, err);
    }
    const rerun = (await cellStates(page)).find((c) => c.index === paramCell!.index)!;
    const reprinted = rerun.outputs.map((o) => o.text).join("");
    expect(errorOutputs([rerun]), describeCells([rerun])).toEqual([]);
    expect(reprinted, describeCells([rerun])).toMatch(/\bepochs=3\*/); // the new value, marked as overridden
    expect(reprinted).not.toMatch(/\bepochs=4\b/);
    expect(reprinted).toContain('overrides {"epochs":3}');
    console.log(`notebook-browser: Run All took ${runAllSeconds.toFixed(0)} s; screenshot ${path.relative(ROOT, SCREENSHOT)}`);
  }, KERNEL_READY_MS + RUN_ALL_MS + RERUN_MS + 120_000);
});
