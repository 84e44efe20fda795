// A real OpenID Connect provider for the portal's login tests (npm package `oidc-provider`).
// Any login is accepted: `alice@example.org` gets a verified e-mail, `unverified:bob@example.org`
// the address bob@example.org with email_verified=false. Started by tests/auth/oidc_harness.py.
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;

function claimsFor(login) {
  const unverified = login.startsWith('unverified:');
  const email = unverified ? login.slice('unverified:'.length) : login;
  const local = email.split('@')[0];
  return {
    sub: `sub-${login}`,
    email,
    email_verified: !unverified,
    given_name: local,
    family_name: 'Test',
    name: `${local} Test`,
  };
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.OIDC_CLIENT_ID,
    client_secret: process.env.OIDC_CLIENT_SECRET,
    redirect_uris: process.env.OIDC_REDIRECT_URIS.split(','),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return claimsFor(id); } };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name'],
  },
  pkce: { methods: ['S256'], required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['portal-test-oidc-cookie-key'] },
});

// The listening socket is the test process's own (OIDC_FD, inherited): its port never goes free.
provider.listen({ fd: Number(process.env.OIDC_FD) }, () => {
  console.log(`READY ${issuer}`);
});
