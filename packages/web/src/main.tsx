import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { App } from "./app.js";
import "./styles.css";

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);

// The service worker of the build (vite.config.ts) keeps the app shell, so that a reload without a
// network still shows the app and its outbox. The development server has none.
if (import.meta.env.PROD && "serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((err: unknown) => {
    // Without it the app works the same online; it just cannot load offline.
    console.warn("The service worker was not registered:", err);
  });
}
