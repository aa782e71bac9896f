/**
 * Command-line parsing for the experiment CLI: `--flag value` pairs, where every config key of
 * `ExperimentConfig` is also a flag (checked: unknown flags and wrong types are errors).
 */
import { checkOverride, DEFAULT_CONFIG, ExperimentConfig, parseProfile, ProfileName } from "../config";
import { parseVariant, Variant, VARIANTS } from "../model/variants";

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

/** "3", "3-5", "1,4,7-9" -> sorted unique integers. */
export function parseRangeList(flag: string, text: string): number[] {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new Error(`--${flag} expects integers or ranges like 3-5,8, got '${text}'`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new Error(`--${flag}: empty range '${part}'`);
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
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
      case "variant":
        a.variants = value === "all" ? [...VARIANTS] : value.split(",").map((v) => parseVariant(v.trim()));
        break;
      case "profile":
        a.profile = parseProfile(value);
        break;
      case "out":
        a.outDir = value;
        break;
      case "data":
        a.dataDir = value;
        break;
      case "seeds":
        a.seeds = parseRangeList(name, value);
        break;
      case "runs":
        a.runs = parseRangeList(name, value);
        break;
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
losses.csv, config.json, checkpoints/ and samples/ to --out (default results/<profile>).
--seeds and --runs take a slice of the work (e.g. --seeds 3-5 --runs 51-100) for job arrays;
combine slices with \`npm run merge -- OUT_DIR IN_DIR...\`. Config keys and defaults:
${Object.entries(DEFAULT_CONFIG).map(([k, v]) => `  --${k} ${v}`).join("\n")}`;
