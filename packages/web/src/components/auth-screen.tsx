/** Log in, or create an account; the session then starts by itself (session.ts). */
import { useId, useState, type FormEvent } from "react";

import { describeError } from "../errors.js";
import { auth } from "../session.js";

type Mode = "login" | "register";

export function AuthScreen() {
  const [mode, setMode] = useState<Mode>("login");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const ids = { title: useId(), username: useId(), password: useId(), displayName: useId(), hint: useId() };

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const username = String(form.get("username") ?? "").trim();
    const password = String(form.get("password") ?? "");
    const displayName = String(form.get("displayName") ?? "").trim();
    setBusy(true);
    setError(undefined);
    try {
      const device = `Web: ${navigator.userAgent.slice(0, 40)}`;
      if (mode === "register") await auth.register({ username, password, device, ...(displayName && { displayName }) });
      else await auth.login({ username, password, device });
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  }

  const registering = mode === "register";
  return (
    <main className="auth">
      <h1 className="brand">parley</h1>
      <form className="card auth-form" onSubmit={submit} aria-labelledby={ids.title}>
        <h2 id={ids.title}>{registering ? "Create an account" : "Log in"}</h2>
        <label htmlFor={ids.username}>Username</label>
        <input
          id={ids.username}
          name="username"
          autoComplete="username"
          required
          minLength={registering ? 3 : 1}
          maxLength={32}
          pattern={registering ? "[A-Za-z0-9_.\\-]{3,32}" : undefined}
          aria-describedby={registering ? ids.hint : undefined}
          autoFocus
        />
        {registering && (
          <p id={ids.hint} className="hint">
            3 to 32 letters, digits, “_”, “.” or “-”.
          </p>
        )}
        {registering && (
          <>
            <label htmlFor={ids.displayName}>Display name (optional)</label>
            <input id={ids.displayName} name="displayName" autoComplete="nickname" maxLength={64} />
          </>
        )}
        <label htmlFor={ids.password}>Password</label>
        <input
          id={ids.password}
          name="password"
          type="password"
          autoComplete={registering ? "new-password" : "current-password"}
          required
          minLength={registering ? 8 : 1}
          maxLength={256}
        />
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {registering ? "Create account" : "Log in"}
        </button>
        <p className="switch">
          {registering ? "Have an account? " : "New here? "}
          <button
            type="button"
            className="link"
            onClick={() => {
              setMode(registering ? "login" : "register");
              setError(undefined);
            }}
          >
            {registering ? "Log in instead" : "Create an account"}
          </button>
        </p>
      </form>
    </main>
  );
}
