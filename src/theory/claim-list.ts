/**
 * The distinct claims of the paper that the derivation checks bear on (the keys a check's label
 * names; claims.ts tallies them).
 */
/** The distinct claims of the paper that the checks bear on. */
export const CLAIMS = {
  eq1eq2: "Eq. 1 = Eq. 2 (attention with the printed 1/sqrt(d) scale is Eq. 1)",
  eq25: "Eq. 25 (softmax derivative w.r.t. the query)",
  eq26: "Eq. 26 (full-attention gradient)",
  cancel: "the query term of Eq. 26 vanishes (text after Eq. 26)",
  eq27: "Eq. 27 = Eq. 4 (stationary condition, full attention)",
  eq28: "Eq. 28 (top-1 stationary condition)",
  eq29: "Eq. 29 (both delta integrals give one function g[Phi] + g[Phi*] of Phi)",
  closedForm: "Eq. 30-31, line 1: g~[Phi] as the ratio of the score's and the density's occurrence sums (finite toy)",
  line3: "Eq. 31, line 2 -> line 3 (score identity for the partner term)",
  eq32: "Eq. 32 = Eq. 8 (top-1 optimal score)",
} as const;

export type ClaimKey = keyof typeof CLAIMS;
