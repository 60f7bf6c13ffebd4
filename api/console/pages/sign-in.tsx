/** Sign-in with the admin API key, and the console's error page. */
import type { FC } from 'hono/jsx';
import { CSRF_FIELD } from '../session';
import { Notice } from '../components';

export const SignInPage: FC<{ csrf: string; next: string; error?: string | undefined }> = ({ csrf, next, error }) => (
  <>
    <h1>Sign in</h1>
    {error ? <Notice tone="error">{error}</Notice> : null}
    <form method="post" action="/console/sign-in">
      <input type="hidden" name={CSRF_FIELD} value={csrf} />
      <input type="hidden" name="next" value={next} />
      <p>
        <label for="key">Admin API key</label>
        <br />
        <input id="key" name="key" type="password" autocomplete="current-password" required size={40} />
      </p>
      <p class="muted">The ADMIN_API_KEY of this deployment (npm start prints it). The session lasts 8 hours.</p>
      <button type="submit">Sign in</button>
    </form>
  </>
);

export const ErrorPage: FC<{ title: string; message: string; back?: { href: string; label: string } | undefined }> = ({
  title,
  message,
  back,
}) => (
  <>
    <h1>{title}</h1>
    <Notice tone="error">{message}</Notice>
    {back ? (
      <p>
        <a href={back.href}>{back.label}</a>
      </p>
    ) : null}
  </>
);
