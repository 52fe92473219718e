/** `npm run build`'s last step: the web app, unless packages/web/dist is a build of its current sources. */
import { ensureWebBuild } from "./lib/web.js";

if (!ensureWebBuild((message) => console.error(`[build] ${message}`))) console.error("[build] the web app is up to date");
