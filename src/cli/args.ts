/**
 * Command-line parsing for the experiment CLI: `--flag value` pairs, where every config key of
 * `ExperimentConfig` is also a flag (checked: unknown flags and wrong types are errors).
 */
import { checkOverride, DEFAULT_CONFIG, ExperimentConfig, parseProfile, PROFILES, ProfileName } from "../config";
import { parseVariant, Variant, variantNames } from "../model/variants";
import { stopRequested } from "../experiment/signals";

export interface CliArgs {
  variants: Variant[];
  profile: ProfileName;
  outDir: string | null;
  dataDir: string;
  overrides: Partial<Record<keyof ExperimentConfig, number | boolean | string>>;
  seeds: number[] | null;
  runs: number[] | null;
  help: boolean;
}

/** Most indices a range list may select (a larger one would not fit in memory as tasks). */
const MAX_LIST = 1_000_000;

/** "3-5", "1,4,7-9", "3" -> sorted unique integers. */
export function parseRangeList(flag: string, text: string): number[] {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new Error(`--${flag} expects integers or ranges like 3-5,8, got '${text}'`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new Error(`--${flag}: empty range '${part}'`);
    if (b - a + 1 + out.size > MAX_LIST) throw new Error(`--${flag} '${text}' selects more than ${MAX_LIST} indices; split it into smaller slices`);
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

/**
 * `--runs` / `--seeds`: a bare integer N is a count (the config key `runs` / `seeds` = N, as in
 * --help); a range or list ("5-9", "0,3", "7-7") selects those indices (a slice for job arrays).
 */
export function parseCountOrSlice(flag: "runs" | "seeds", text: string): { count: number } | { slice: number[] } {
  if (/^\s*\d+\s*$/.test(text)) {
    const count = Number(text);
    if (count < 1) throw new Error(`--${flag} ${text}: a count must be at least 1 (for one index write a range such as 0-0)`);
    return { count };
  }
  return { slice: parseRangeList(flag, text) };
}

export function parseArgs(argv: string[]): CliArgs {
  const a: CliArgs = { variants: ["attention"], profile: "quick", outDir: null, dataDir: "data", overrides: {}, seeds: null, runs: null, help: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--help" || flag === "-h") {
      a.help = true;
      continue;
    }
    if (!flag.startsWith("--")) throw new Error(`unexpected argument '${flag}' (flags look like --variant attention)`);
    const eq = flag.indexOf("=");
    const name = eq > 0 ? flag.slice(2, eq) : flag.slice(2);
    const value = eq > 0 ? flag.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new Error(`flag --${name} needs a value`);
    switch (name) {
      case "variant": {
        a.variants = value === "all" ? variantNames() : value.split(",").map((v) => parseVariant(v.trim()));
        const dup = a.variants.find((v, j) => a.variants.indexOf(v) !== j);
        if (dup) throw new Error(`--variant lists '${dup}' twice; list each variant once`);
        break;
      }
      case "profile":
        a.profile = parseProfile(value);
        break;
      case "out":
      case "data":
        if (value.trim() === "") throw new Error(`--${name} needs a folder, got an empty path`);
        if (name === "out") a.outDir = value;
        else a.dataDir = value;
        break;
      case "seeds":
      case "runs": {
        const r = parseCountOrSlice(name, value);
        if ("count" in r) {
          a.overrides[name] = r.count;
          a[name] = null;
        } else {
          a[name] = r.slice;
        }
        break;
      }
      default: {
        if (!(name in DEFAULT_CONFIG)) {
          throw new Error(`unknown flag --${name} (flags: --variant, --profile, --out, --data, --seeds, --runs, or a config key: ${Object.keys(DEFAULT_CONFIG).join(", ")})`);
        }
        const [k, v] = checkOverride(name, value);
        a.overrides[k] = v;
      }
    }
  }
  return a;
}

export const USAGE = `usage: npm run experiment -- [--variant cnn|attention|identity|top1|all|a,b] [--profile smoke|quick|paper]
       [--out DIR] [--data DIR] [--seeds 0-2] [--runs 0-99] [--<configKey> VALUE ...]

Trains, samples and evaluates the chosen variants; writes results.json, table1.csv/.md, runs.csv,
losses.csv, config.json, checkpoints/, runs/ and samples/ to --out (default results/<profile>).
One run writes to a folder at a time (a second one gets an error naming the first).

--seeds and --runs take a count or a slice:
  --runs 20        20 sampling runs per model (runs 0-19; the config key 'runs')
  --runs 51-100    only runs 51..100 of the study (a slice for job arrays; also 3,7 or 5-5)
  --seeds 2        2 training seeds per dataset draw (the config key 'seeds')
  --seeds 3-5      only the models with training seeds 3..5 (with several dataset draws, each
                   training seed names one model: draw i holds seeds seed+i*seeds ...)
Combine slices with \`npm run merge -- OUT_DIR IN_DIR...\`. Profiles (--profile) set some keys:
  smoke: ${JSON.stringify(PROFILES.smoke)}
  quick: ${JSON.stringify(PROFILES.quick)}
  paper: ${JSON.stringify(PROFILES.paper)}
Config keys and defaults:
${Object.entries(DEFAULT_CONFIG).map(([k, v]) => `  --${k} ${v}`).join("\n")}`;

/**
 * How an interruptible entry point (experiment, sweep) ends on an error: a requested stop (Ctrl-C,
 * SIGTERM, SIGHUP) exits with its signal's status and says that a rerun resumes; anything else is
 * "error: <message>" and exit status 1.
 */
export function exitOnError(e: Error): never {
  const stop = stopRequested();
  if (stop) {
    console.error(`stopped (${stop.why}): ${e.message}`);
    console.error("finished checkpoints and sampling runs are saved; run the same command again to resume");
    process.exit(stop.exitCode);
  }
  console.error(`error: ${e.message}`);
  process.exit(1);
}
