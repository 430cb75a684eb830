// Pieces both screens use: the sign-in form, the platform's clock and a ticking "now" for countdowns.
import { html, render, useState, useEffect } from "/static/vendor/preact-htm.mjs";
import { login, current, onSession } from "./api.js";
import { t, setLang, getLang, onLang } from "./i18n.js";
import { platformNow, isSandbox, onSandbox, followPlatformClock } from "./clock.js";

export { platformNow, followPlatformClock };

export function toggleLang() {
  setLang(getLang() === "zh" ? "en" : "zh");
}

export function useNow(ms = 1000) {
  const [now, setNow] = useState(platformNow());
  useEffect(() => {
    const id = setInterval(() => setNow(platformNow()), ms);
    return () => clearInterval(id);
  }, [ms]);
  return now;
}

export function useSandbox() {
  const [on, setOn] = useState(isSandbox());
  useEffect(() => onSandbox(setOn), []);
  return on;
}

// heading: the title markup; beforeLogin: runs first (the console stores its seat name there);
// children: extra fields under the password; the screen's stylesheet styles screenClass/formClass.
export function LoginForm({ heading, beforeLogin, children, screenClass, formClass = "", big = false }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (beforeLogin) beforeLogin();
      await login(username.trim(), password);
    } catch (err) {
      setError(t("login.failed", { msg: err.message }));
    } finally {
      setBusy(false);
    }
  };
  return html`<main class=${screenClass}>
    <form class=${formClass} onSubmit=${submit} aria-labelledby="login-title">
      <h1 id="login-title">${heading}</h1>
      <label>${t("login.username")}<input data-testid="login-username" autocomplete="username" autofocus value=${username}
        onInput=${(e) => setUsername(e.target.value)} required autocapitalize="off" autocorrect="off" spellcheck="false" /></label>
      <label>${t("login.password")}<input data-testid="login-password" type="password" autocomplete="current-password"
        value=${password} onInput=${(e) => setPassword(e.target.value)} required /></label>
      ${children}
      ${error && html`<p class="error" role="alert" data-testid="login-error">${error}</p>`}
      <button class=${"primary" + (big ? " big" : "")} data-testid="login-submit" disabled=${busy}>${t("login.submit")}</button>
      <button type="button" class="link lang" data-testid="lang-switch" onClick=${toggleLang}>${t("lang.switch")}</button>
    </form>
  </main>`;
}

// The signed-in session for a screen's root: re-renders on sign-in/out and on the language switch,
// and keeps the tab's title (`title()`, in the current language) up to date.
export function useScreen(title) {
  const [session, setSession] = useState(current());
  const [, setLangState] = useState(getLang());
  useEffect(() => onSession(setSession), []);
  useEffect(() => onLang(setLangState), []);
  useEffect(() => { document.title = title(); });
  return session;
}

// Start a screen: the page's language, the platform clock (a sandbox's simulated time), the root.
export function mount(App) {
  document.documentElement.lang = getLang() === "en" ? "en" : "zh-CN";
  followPlatformClock();
  render(html`<${App} />`, document.getElementById("app"));
}
