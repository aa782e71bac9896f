/**
 * Every relative link in README.md, notebooks/README.md and docs/ (Markdown `[text](target)`)
 * points at a file or folder of the repository, and every `#anchor` at a heading of its target.
 * CI runs this like every test, so a broken link fails the build.
 */
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..");

function markdownFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? markdownFiles(p) : e.name.endsWith(".md") ? [p] : [];
  });
}

/** GitHub's heading anchors: lower case, spaces to dashes, punctuation but - and _ dropped. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/`/g, "").replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

function anchors(file: string): Set<string> {
  const text = fs.readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "");
  return new Set([...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => slug(m[1])));
}

/** Relative link targets of a Markdown file (code blocks and inline code skipped). */
function links(file: string): string[] {
  const text = fs.readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
  // a target that looks like a path or an anchor (mathematics such as "[f](x)" in docs/theory.md is not a link)
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((t) => !/^[a-z]+:/i.test(t) && /[./#]/.test(t));
}

const FILES = [path.join(ROOT, "README.md"), path.join(ROOT, "notebooks", "README.md"), ...markdownFiles(path.join(ROOT, "docs"))].filter((f) => fs.existsSync(f));

describe("relative links in README.md and docs/", () => {
  it(`resolve (${FILES.length} files)`, () => {
    const broken: string[] = [];
    let checked = 0;
    for (const file of FILES) {
      for (const target of links(file)) {
        checked++;
        const [p, anchor] = target.split("#");
        const dest = p === "" ? file : path.resolve(path.dirname(file), decodeURIComponent(p));
        const where = `${path.relative(ROOT, file)}: (${target})`;
        if (!fs.existsSync(dest)) {
          broken.push(`${where}: no such file`);
          continue;
        }
        if (anchor && dest.endsWith(".md") && !anchors(dest).has(anchor)) broken.push(`${where}: no heading #${anchor} in ${path.relative(ROOT, dest)}`);
      }
    }
    expect(broken, `broken links (of ${checked} checked)`).toEqual([]);
    expect(checked).toBeGreaterThan(10); // the scan finds links at all
  });

  it("the checker itself catches a broken file link and a broken anchor", () => {
    const tmp = path.join(ROOT, "docs", `.links-check-${process.pid}.md`);
    fs.writeFileSync(tmp, "# Title here\n[a](./no-such-file.md) [b](#title-here) [c](#missing)\n");
    try {
      const ls = links(tmp);
      expect(ls).toEqual(["./no-such-file.md", "#title-here", "#missing"]);
      expect(fs.existsSync(path.resolve(path.dirname(tmp), "no-such-file.md"))).toBe(false);
      expect(anchors(tmp).has("title-here")).toBe(true);
      expect(anchors(tmp).has("missing")).toBe(false);
    } finally {
      fs.rmSync(tmp);
    }
  });
});
