/**
 * Command-line entry for the discrimination part of the theory phase alone (comparisons that can
 * tell machines apart, over many trained models): `npm run discriminate`, the theory CLI
 * (src/cli/theory.ts, every variable documented there) with PARTS=discrimination by default.
 *
 *   PROFILE=paper OUT_DIR=results/paper-theory SEEDS=0-11 npm run discriminate
 */
import { theoryMain } from "./theory";

export { parseCheckpointList } from "./theory";

if (require.main === module) {
  theoryMain(process.env, "discrimination").catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
