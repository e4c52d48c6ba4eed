// Signing in to the dashboard over HTTP, as a browser would: the login page's double-submit pair,
// then a POST of the form. For the sign-in limit tests (in process and across serve processes).

export const PASSWORD = 'correct horse battery staple';

/** The actor that creates the operator a test signs in as. */
export const SETUP = {
  operator: 'setup',
  requestId: '00000000-0000-4000-8000-000000000000',
  method: 'manual' as const,
};

export interface LoginForm {
  cookie: string;
  csrf: string;
}

/** The login page's double-submit pair (a random value, reusable for every attempt, on any instance). */
export async function loginForm(base: string): Promise<LoginForm> {
  const page = await fetch(`${base}/dashboard/login`);
  const cookie = /rotor_login=([^;]+)/.exec(page.headers.get('set-cookie') ?? '')![1]!;
  const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
  return { cookie, csrf };
}

/** One sign-in attempt (TOTP code 000000), not following the redirect. */
export function signIn(base: string, form: LoginForm, name: string, password: string) {
  return fetch(`${base}/dashboard/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      cookie: `rotor_login=${form.cookie}`,
    },
    body: new URLSearchParams({ csrf: form.csrf, name, password, code: '000000' }).toString(),
  });
}
