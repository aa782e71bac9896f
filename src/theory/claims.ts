/**
 * The accounting of the derivation checks. Each check carries its role, set where the check is made
 * (`makeCheck`'s label), and, for a claim of the paper, which distinct claim it bears on and whether
 * it checks the claim as printed or under a stated reading. The tally counts per distinct claim, in
 * two columns: holds as printed (every check of the printed statement holds), and holds as printed
 * or under a stated reading (some reading, named, whose every check holds).
 */
import { CLAIMS, ClaimKey } from "./claim-list";
import { CheckResult, CheckRole } from "./derivations-check";

export { CLAIMS } from "./claim-list";
export type { ClaimKey } from "./claim-list";

/** One distinct claim of the paper and the verdicts of its checks. */
export interface ClaimOutcome {
  key: ClaimKey;
  claim: string;
  /** Every check of the printed statement holds (false when there is none). */
  holdsAsPrinted: boolean;
  printedChecks: string[];
  /** Readings that hold (every check of that reading holds), by the reading's text. */
  holdingReadings: string[];
  /** Holds as printed, or under one of `holdingReadings`. */
  holdsUnderReading: boolean;
  /** Every check bearing on the claim (printed and readings) and the failing ones. */
  checks: string[];
  failing: string[];
}

export interface ClaimTally {
  claims: ClaimOutcome[];
  /** Distinct claims that hold as printed, and that hold as printed or under a stated reading. */
  holdAsPrinted: number;
  holdUnderReading: number;
  /** Checks per role: how many hold and how many fail. */
  byRole: Record<CheckRole, { holds: number; fails: number }>;
}

export const ROLES: readonly CheckRole[] = ["claim", "reading", "identity", "control", "correction", "finding"];

/** Count per distinct claim (see module comment). Every check must carry a role (set by makeCheck). */
export function tallyClaims(results: readonly CheckResult[]): ClaimTally {
  const byRole = Object.fromEntries(ROLES.map((k) => [k, { holds: 0, fails: 0 }])) as ClaimTally["byRole"];
  const claims = new Map<ClaimKey, { printed: CheckResult[]; readings: Map<string, CheckResult[]> }>();
  for (const r of results) {
    if (!r.role || !ROLES.includes(r.role)) throw new Error(`check '${r.name}' has no role (makeCheck sets it)`);
    byRole[r.role][r.holds ? "holds" : "fails"]++;
    if (r.role !== "claim" && r.role !== "reading") continue;
    if (!r.claimKey || !(r.claimKey in CLAIMS)) throw new Error(`check '${r.name}' (role ${r.role}) names no claim of CLAIMS`);
    const c = claims.get(r.claimKey) ?? { printed: [], readings: new Map<string, CheckResult[]>() };
    if (r.role === "claim") c.printed.push(r);
    else {
      if (!r.reading) throw new Error(`check '${r.name}' (role reading) states no reading`);
      c.readings.set(r.reading, [...(c.readings.get(r.reading) ?? []), r]);
    }
    claims.set(r.claimKey, c);
  }
  const list: ClaimOutcome[] = [...claims.entries()].map(([key, c]) => {
    const all = [...c.printed, ...[...c.readings.values()].flat()];
    const holdsAsPrinted = c.printed.length > 0 && c.printed.every((r) => r.holds);
    const holdingReadings = [...c.readings.entries()].filter(([, rs]) => rs.every((r) => r.holds)).map(([reading]) => reading);
    return {
      key, claim: CLAIMS[key], holdsAsPrinted, printedChecks: c.printed.map((r) => r.name), holdingReadings,
      holdsUnderReading: holdsAsPrinted || holdingReadings.length > 0, checks: all.map((r) => r.name), failing: all.filter((r) => !r.holds).map((r) => r.name),
    };
  });
  list.sort((a, b) => Object.keys(CLAIMS).indexOf(a.key) - Object.keys(CLAIMS).indexOf(b.key));
  return { claims: list, holdAsPrinted: list.filter((c) => c.holdsAsPrinted).length, holdUnderReading: list.filter((c) => c.holdsUnderReading).length, byRole };
}

/** Markdown table: claim, holds as printed, holds under a stated reading (which), checks (failing ones in bold). */
export function claimsMarkdown(t: ClaimTally): string {
  const yes = (b: boolean) => (b ? "holds" : "**fails**");
  const cell = (text: string) => text.replace(/\|/g, "\\|"); // a "|" inside a cell would split it
  const rows = t.claims.map((c) => {
    const reading = c.holdsAsPrinted ? "holds (as printed)" : c.holdingReadings.length > 0 ? `holds, read as: ${cell(c.holdingReadings.join("; "))}` : "**fails** (no reading checked holds)";
    return `| ${cell(c.claim)} | ${yes(c.holdsAsPrinted)} | ${reading} | ${c.checks.map((n) => (c.failing.includes(n) ? `**\`${n}\`**` : `\`${n}\``)).join(", ")} |`;
  });
  const roles = ROLES.map((k) => `${k} ${t.byRole[k].holds + t.byRole[k].fails} (${t.byRole[k].fails} fail)`).join(", ");
  return [
    `| claim of the paper | as printed | as printed or under a stated reading | checks |`, `| --- | --- | --- | --- |`, ...rows, "",
    `Distinct claims of the paper: ${t.holdAsPrinted} of ${t.claims.length} hold as printed; ${t.holdUnderReading} of ${t.claims.length} hold as printed or under a stated reading. Checks by role: ${roles}.`,
  ].join("\n");
}
