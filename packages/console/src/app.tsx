/** The console's shell: sign-in, navigation, theme, and the page the hash names. */
import { useEffect, useLayoutEffect, useState } from 'preact/hooks';
import { ErrorBanner } from './components/common.js';
import { useHubEvents } from './hub-events.js';
import { DevicePage } from './pages/device.js';
import { DevicesPage } from './pages/devices.js';
import { FeedbackPage } from './pages/feedback.js';
import { JobsPage } from './pages/jobs.js';
import { NotFoundPage } from './pages/not-found.js';
import { OverviewPage } from './pages/overview.js';
import { SignInPage } from './pages/sign-in.js';
import { TelemetryPage } from './pages/telemetry.js';
import { useRoute } from './route.js';
import { type Session, savedConnectionString, signIn, signOut } from './session.js';
import { applyTheme, nextTheme, savedTheme } from './theme.js';

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [restoring, setRestoring] = useState(() => savedConnectionString() !== null);
  const [restoreError, setRestoreError] = useState<unknown>(null);
  const [theme, setTheme] = useState(savedTheme);
  const route = useRoute();
  const events = useHubEvents(session);

  // Before the browser paints: the page never shows a frame in the theme just left.
  useLayoutEffect(() => applyTheme(theme), [theme]);
  useEffect(() => {
    const saved = savedConnectionString();
    if (!saved) return;
    signIn(saved)
      .then(setSession, setRestoreError)
      .finally(() => setRestoring(false));
  }, []);

  const themeButton = (
    <button
      type="button"
      class="small"
      onClick={() => setTheme(nextTheme(theme))}
      title="Switch between the system's theme, light and dark"
    >
      Theme: {theme}
    </button>
  );

  if (!session) {
    return (
      <div class="shell">
        <header class="top">
          <span class="brand">Ferry console</span>
          {themeButton}
        </header>
        <main id="main">
          {restoring ? <p>Signing in…</p> : <SignInPage onSignedIn={setSession} />}
          <ErrorBanner error={restoreError} />
        </main>
      </div>
    );
  }

  const nav = [
    { href: '#/', label: 'Overview', on: route.page === 'overview' },
    { href: '#/devices', label: 'Devices', on: route.page === 'devices' || route.page === 'device' },
    { href: '#/telemetry', label: 'Telemetry', on: route.page === 'telemetry' },
    { href: '#/feedback', label: 'Feedback', on: route.page === 'feedback' },
    { href: '#/jobs', label: 'Jobs', on: route.page === 'jobs' },
  ];
  return (
    <div class="shell">
      {/* A button, not an #main link: the hash names the page (route.ts), so it must stay. */}
      <button type="button" class="skip" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <span class="brand">Ferry · {session.info.hubName}</span>
        <nav aria-label="Pages">
          {nav.map((n) => (
            <a key={n.href} href={n.href} aria-current={n.on ? 'page' : undefined}>
              {n.label}
            </a>
          ))}
        </nav>
        <span class="who" title={session.info.caller.rights.join(', ')}>
          {session.info.caller.policyName}
        </span>
        {themeButton}
        <button
          type="button"
          class="small"
          onClick={() => {
            signOut();
            setSession(null);
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {route.page === 'overview' && <OverviewPage session={session} events={events} />}
        {route.page === 'devices' && <DevicesPage session={session} />}
        {route.page === 'device' && (
          <DevicePage
            key={route.deviceId}
            session={session}
            deviceId={route.deviceId}
            tab={route.tab}
            messageId={route.messageId}
            events={events}
          />
        )}
        {route.page === 'telemetry' && <TelemetryPage session={session} />}
        {route.page === 'jobs' && <JobsPage session={session} />}
        {route.page === 'feedback' && <FeedbackPage session={session} events={events} />}
        {route.page === 'not-found' && <NotFoundPage hash={route.hash} />}
      </main>
    </div>
  );
}
