/**
 * Vite's build of the web app: static files in dist/ (index.html and content-hashed assets/), which
 * nginx serves at `/` on the same origin as the API and Socket.IO.
 */
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // nginx caches everything under /assets/ for a year: every file there has its content hash in its name.
    assetsDir: "assets",
    target: "es2022",
    // The Content-Security-Policy allows no inline script or style: keep every asset a file.
    assetsInlineLimit: 0,
  },
});
