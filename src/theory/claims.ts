/**
 * The accounting of the derivation checks: which distinct claim of the paper each check bears on,
 * and which checks are identities, controls, corrections or alternative readings (not counted as the
 * paper's claims holding or failing). One ordered rule list, matched on the check's name; a check
 * that no rule names is an error, so a new check cannot go uncounted.
 */
import { CheckResult, CheckRole } from "./derivationsCheck";

interface RoleRule {
  pattern: RegExp;
  role: CheckRole;
  /** The claim, for role "claim". */
  claim?: string;
}

const CLAIM = {
  eq1eq2: "Eq. 1 = Eq. 2 (attention with the printed 1/sqrt(d) scale is Eq. 1)",
  eq25: "Eq. 25 (softmax derivative w.r.t. the query)",
  eq26: "Eq. 26 (full-attention gradient)",
  cancel: "the query term of Eq. 26 vanishes (text after Eq. 26)",
  eq27: "Eq. 27 = Eq. 4 (stationary condition, full attention)",
  eq28: "Eq. 28 (top-1 stationary condition)",
  table: "Eq. 29-31 first line: closed form of the table g[Phi] (finite toy)",
  eq29: "Eq. 29 (the two delta integrals give one function g~[Phi])",
  line3: "Eq. 31, line 2 -> line 3 (score identity for the partner term)",
  eq32: "Eq. 32 = Eq. 8 (top-1 optimal score)",
} as const;

/** First match wins. */
export const ROLE_RULES: readonly RoleRule[] = [
  { pattern: /^eq1-vs-eq2-printed-scale$/, role: "claim", claim: CLAIM.eq1eq2 },
  { pattern: /^(eq1-vs-eq2-scale1|eq1-rescaled-vs-eq2-printed)$/, role: "correction" },
  { pattern: /^eq25-vs-(tfgrad|finite-differences)$/, role: "claim", claim: CLAIM.eq25 },
  { pattern: /^eq25-vs-total-derivative$/, role: "reading" },
  { pattern: /^eq26-cancelled-vector-is-zero/, role: "identity" },
  { pattern: /^eq26-query-term-vanishes/, role: "claim", claim: CLAIM.cancel },
  { pattern: /^eq26-(printed-vs-autodiff|key-factor-vs-key-gradient)/, role: "claim", claim: CLAIM.eq26 },
  { pattern: /^eq26-corrected-/, role: "correction" },
  { pattern: /^eq27-/, role: "claim", claim: CLAIM.eq27 },
  { pattern: /^top1-eq28-vs-autodiff\[assumptions\]$/, role: "claim", claim: CLAIM.eq28 },
  { pattern: /^top1-closed-form-table\[assumptions\]$/, role: "claim", claim: CLAIM.table },
  { pattern: /^top1-closed-form-output\[/, role: "reading" },
  { pattern: /^top1-closed-form-average\[/, role: "identity" },
  { pattern: /^top1-(eq28-vs-autodiff|closed-form-table)\[/, role: "control" },
  { pattern: /^top1c-eq28-vs-fd\[(pairs|chain)\]$/, role: "claim", claim: CLAIM.eq28 },
  { pattern: /^top1c-eq29\[(pairs|chain)\]$/, role: "claim", claim: CLAIM.eq29 },
  { pattern: /^top1c-(eq30|eq31-score-identity)\[/, role: "identity" },
  { pattern: /^top1c-eq31-line3\[(pairs|chain)\]$/, role: "claim", claim: CLAIM.line3 },
  { pattern: /^top1c-eq32\[(pairs|chain)\]$/, role: "claim", claim: CLAIM.eq32 },
  { pattern: /^top1c-eq32-corrected-table\[nonCentred\]$/, role: "control" },
  { pattern: /^top1c-(eq31-line3-corrected|eq32-corrected|eq32-corrected-table|table-general)\[/, role: "correction" },
  { pattern: /^top1c-.*\[(selfPartner|nonCentred)\]$/, role: "control" },
];

/** Role (and claim) of a check by name; throws when no rule names it. */
export function roleOf(name: string): { role: CheckRole; claimKey?: string } {
  const r = ROLE_RULES.find((x) => x.pattern.test(name));
  if (!r) throw new Error(`check '${name}' has no role in src/theory/claims.ts ROLE_RULES; add one`);
  return r.claim ? { role: r.role, claimKey: r.claim } : { role: r.role };
}

/** The checks with `role` (and `claimKey`) filled in. */
export function labelChecks(results: readonly CheckResult[]): CheckResult[] {
  return results.map((r) => ({ ...r, ...roleOf(r.name) }));
}

/** One distinct claim of the paper: it holds when every check bearing on it holds. */
export interface ClaimOutcome {
  claim: string;
  holds: boolean;
  checks: string[];
  failing: string[];
}

export interface ClaimTally {
  claims: ClaimOutcome[];
  hold: number;
  fail: number;
  /** Checks per role: how many hold and how many fail. */
  byRole: Record<CheckRole, { holds: number; fails: number }>;
}

/** Count per distinct claim (see module comment); labels the checks first when needed. */
export function tallyClaims(results: readonly CheckResult[]): ClaimTally {
  const labelled = results.map((r) => (r.role ? r : { ...r, ...roleOf(r.name) }));
  const byRole = Object.fromEntries((["claim", "identity", "control", "correction", "reading"] as CheckRole[]).map((k) => [k, { holds: 0, fails: 0 }])) as ClaimTally["byRole"];
  const claims = new Map<string, ClaimOutcome>();
  for (const r of labelled) {
    byRole[r.role!][r.holds ? "holds" : "fails"]++;
    if (r.role !== "claim") continue;
    const c = claims.get(r.claimKey!) ?? { claim: r.claimKey!, holds: true, checks: [], failing: [] };
    c.checks.push(r.name);
    if (!r.holds) { c.holds = false; c.failing.push(r.name); }
    claims.set(c.claim, c);
  }
  const list = [...claims.values()];
  return { claims: list, hold: list.filter((c) => c.holds).length, fail: list.filter((c) => !c.holds).length, byRole };
}

/** Markdown table: claim, verdict, checks (failing ones in bold). */
export function claimsMarkdown(t: ClaimTally): string {
  const rows = t.claims.map((c) => `| ${c.claim} | ${c.holds ? "holds" : "**fails**"} | ${c.checks.map((n) => (c.failing.includes(n) ? `**\`${n}\`**` : `\`${n}\``)).join(", ")} |`);
  const roles = Object.entries(t.byRole).map(([k, v]) => `${k} ${v.holds + v.fails} (${v.fails} fail)`).join(", ");
  return [`| claim of the paper | result | checks |`, `| --- | --- | --- |`, ...rows, "", `${t.hold} of ${t.claims.length} distinct claims hold. Checks by role: ${roles}.`].join("\n");
}
