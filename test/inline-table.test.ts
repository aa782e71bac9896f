/**
 * Tables look like tables: `showTable` (src/notebook/inline.ts) turns a danfo DataFrame into the HTML
 * table pandas users know (`<table class="dataframe">`), in a live kernel and in a saved notebook
 * converted by nbconvert, and into aligned text outside a kernel.
 */
import { spawnSync } from "child_process";
import * as dfd from "danfojs-node";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { showTable, tableHtml, tableText } from "../src/notebook/inline";

const ROOT = path.resolve(__dirname, "..");

describe("showTable", () => {
  const df = new dfd.DataFrame([
    { model: "cnn", "functional %": "6.67", runs: 5 },
    { model: "attention <Q,K,V>", "functional %": "39.28", runs: 5 },
  ]);

  it("renders a danfo DataFrame as a pandas-style HTML table", () => {
    const html = tableHtml(df);
    expect(html.startsWith('<table border="1" class="dataframe">')).toBe(true);
    expect(html).toContain('<thead><tr style="text-align: right;"><th></th><th>model</th><th>functional %</th><th>runs</th></tr></thead>');
    expect(html).toContain("<tr><th>0</th><td>cnn</td><td>6.67</td><td>5</td></tr>");
    expect(html).toContain("<tr><th>1</th><td>attention &lt;Q,K,V&gt;</td><td>39.28</td><td>5</td></tr>"); // escaped
    expect(html.match(/<tr>/g)).toHaveLength(2); // the body rows (the header row carries a style)
    expect(tableHtml(df, { index: false })).toContain("<tr><td>cnn</td><td>6.67</td><td>5</td></tr>");
  });

  it("prints aligned text outside a kernel", () => {
    expect(tableText(df).split("\n")).toEqual([
      "               model  functional %  runs",
      "0                cnn          6.67     5",
      "1  attention <Q,K,V>         39.28     5",
    ]);
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      showTable(df);
      expect(log).toHaveBeenCalledWith(tableText(df));
    } finally {
      log.mockRestore();
    }
  });

  it("names what is wrong with a bad table", () => {
    expect(() => tableHtml({ rows: [] } as never)).toThrow(/danfo DataFrame .* got an object with keys rows/);
    expect(() => tableHtml(null as never)).toThrow(/got null/);
    expect(() => tableHtml({ columns: ["a", "b"], values: [[1, 2], [3]] })).toThrow(/row 1 has 1 cells, expected 2/);
    expect(() => tableHtml({ columns: ["a"], values: [[1]], index: ["x", "y"] })).toThrow(/index has 2 labels for 1 rows/);
  });

  describe("in a tslab kernel and a saved notebook", () => {
    let dir: string | undefined;
    afterAll(() => {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    // Needs the tslab kernel and nbconvert (sudo bash scripts/setup.sh); without them it fails and says so.
    it("is a text/html output that nbconvert keeps as a table", () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "nb-table-"));
      fs.symlinkSync(path.join(ROOT, "src"), path.join(dir, "src")); // as notebooks/src -> ../src
      const source = 'import { showTable } from "./src/notebook/inline";\nshowTable({ columns: ["model", "functional %"], values: [["cnn", "6.67"], ["attention", "39.28"]] });';
      const nb = {
        cells: [{ cell_type: "code", metadata: {}, execution_count: null, outputs: [], source }],
        metadata: { kernelspec: { name: "tslab", display_name: "TypeScript", language: "typescript" } },
        nbformat: 4, nbformat_minor: 5,
      };
      fs.writeFileSync(path.join(dir, "table.ipynb"), JSON.stringify(nb));
      const env = { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1" };
      const run = spawnSync("/usr/bin/python3", [path.join(ROOT, "scripts/run_notebooks.py"), "--out", path.join(dir, "out"), "--timeout", "180", path.join(dir, "table.ipynb")], { encoding: "utf8", env });
      expect(run.status, `run_notebooks.py failed (tslab kernel set up? sudo bash scripts/setup.sh):\n${run.stdout}\n${run.stderr}`).toBe(0);
      const executed = JSON.parse(fs.readFileSync(path.join(dir, "out", "table.ipynb"), "utf8"));
      const outputs = executed.cells[0].outputs as { output_type: string; data?: Record<string, string | string[]> }[];
      const html = outputs.map((o) => o.data?.["text/html"]).filter(Boolean).map((h) => (Array.isArray(h) ? h.join("") : h)).join("");
      expect(html, JSON.stringify(outputs)).toContain('<table border="1" class="dataframe">');
      expect(html).toContain("<td>attention</td><td>39.28</td>");

      const conv = spawnSync("/usr/bin/jupyter", ["nbconvert", "--to", "html", "--output-dir", path.join(dir, "html"), path.join(dir, "out", "table.ipynb")], { encoding: "utf8", env });
      expect(conv.status, `nbconvert failed:\n${conv.stderr}`).toBe(0);
      const page = fs.readFileSync(path.join(dir, "html", "table.html"), "utf8");
      expect(page).toContain('<table border="1" class="dataframe">');
      expect(page).toContain("<td>attention</td><td>39.28</td>");
    }, 240_000);
  });
});
