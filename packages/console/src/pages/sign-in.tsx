/** Sign in with a shared access policy connection string, as Azure IoT Explorer does. */
import { useState } from 'preact/hooks';
import { ErrorBanner } from '../components/common.js';
import { type Session, signIn } from '../session.js';

export function SignInPage({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(text));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card sign-in" onSubmit={submit}>
      <h1>Sign in</h1>
      <p>
        Paste a shared access policy connection string (for example <code>iothubowner</code>'s, printed by{' '}
        <code>ferry hub start</code>). It stays in this browser tab only; tokens are signed here.
      </p>
      <label for="cs">Connection string</label>
      <textarea
        id="cs"
        name="connectionString"
        rows={3}
        required
        autocomplete="off"
        spellcheck={false}
        placeholder="HostName=…;SharedAccessKeyName=iothubowner;SharedAccessKey=…"
        value={text}
        onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
      />
      <button type="submit" disabled={busy || text.trim() === ''}>
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
      <ErrorBanner error={error} />
    </form>
  );
}
