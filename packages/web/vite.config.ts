/**
 * Vite's build of the web app: static files in dist/ (index.html and content-hashed assets/), which
 * nginx serves at `/` on the same origin as the API and Socket.IO, and a service worker (sw.js, made by
 * vite-plugin-pwa's Workbox) that keeps this build's app shell so that the app loads offline too.
 */
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";
import { VitePWA } from "vite-plugin-pwa";

export default defineConfig({
  plugins: [
    react(),
    VitePWA({
      strategies: "generateSW",
      filename: "sw.js",
      // src/main.tsx registers it from the bundle: the Content-Security-Policy allows no inline script.
      injectRegister: false,
      manifest: false,
      workbox: {
        // The app shell of this build, answered from the cache: the page and every hashed asset.
        globPatterns: ["index.html", "assets/*.{js,css}", "favicon.svg"],
        // A new build's worker takes over at once (open pages keep the code they loaded), and its
        // precache replaces the old build's: files the new build does not list are deleted.
        skipWaiting: true,
        clientsClaim: true,
        cleanupOutdatedCaches: true,
        // One file to serve and revalidate: the worker with Workbox's runtime in it.
        inlineWorkboxRuntime: true,
        // Pages come from the network first, so that a deployment shows at the next load; without a
        // network, the precached index.html. Nothing else is cached or answered by the worker: the
        // API, Socket.IO and the object store's files always go to the network.
        navigateFallback: null,
        runtimeCaching: [
          {
            urlPattern: ({ request, url }) =>
              request.mode === "navigate" && !/^\/(api|socket\.io)\/|^\/(healthz|readyz|metrics)$/.test(url.pathname),
            handler: "NetworkOnly",
            options: { precacheFallback: { fallbackURL: "index.html" } },
          },
        ],
      },
    }),
  ],
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
