/** Gateway entry point: the only place that starts a gateway process (see main.ts). */
import { runGateway } from "./main.js";

await runGateway();
