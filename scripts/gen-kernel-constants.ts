/** Write assembly/_constants.ts from src/kernels/constants.ts (then `npm run build:wasm`). */
import * as path from "path";
import { writeFileAtomic } from "../src/io/atomic";
import { assemblyConstants } from "../src/kernels/constants";

const file = path.join(__dirname, "..", "assembly", "_constants.ts");
writeFileAtomic(file, assemblyConstants());
console.log(`wrote ${file}`);
