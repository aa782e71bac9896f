/**
 * Command-line entry for the discrimination part of the theory phase alone (comparisons that can
 * tell machines apart, over many trained models): `npm run discriminate`, the theory CLI
 * (src/cli/theory.ts, every variable documented there) with PARTS=discrimination by default.
 *
 *   PROFILE=paper OUT_DIR=results/paper-theory SEEDS=0-11 npm run discriminate
 */
import { cliMain, theoryMain } from "./theory";

export { parseCheckpointList } from "./theory";

/** The discrimination part alone (PARTS=discrimination unless PARTS says otherwise). */
export function discriminateMain(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return theoryMain(env, "discrimination");
}

if (require.main === module) cliMain("discrimination", __filename);
