// A real OpenID Connect provider (the oidc-provider package) on loopback, shaped like ProConnect:
// its scopes and claims (given_name, usual_name, email, siret, uid), RS256-signed ID tokens, PKCE,
// RP-initiated logout. CI only: the login page accepts any e-mail (devInteractions), and the
// claims are made from it. Pluriel's browser test tests/browser/test_oidc.py logs in through it.
//
//   node .ci/oidc/server.mjs            (OIDC_PORT=9090, OIDC_CLIENT_ID/SECRET as below)
import Provider from "oidc-provider";

const port = Number(process.env.OIDC_PORT || 9090);
const issuer = `http://127.0.0.1:${port}`;
const clientId = process.env.OIDC_CLIENT_ID || "pluriel-ci";
const clientSecret = process.env.OIDC_CLIENT_SECRET || "pluriel-ci-secret-not-for-production";

function claimsFor(login) {
  const email = String(login).trim().toLowerCase();
  const local = email.split("@")[0] || "agent";
  const [given, usual] = local.split(/[._-]/);
  return {
    sub: email,
    email,
    given_name: given ? given[0].toUpperCase() + given.slice(1) : "Agent",
    usual_name: (usual || "Public").toUpperCase(),
    siret: "21750001600019",
    uid: `uid-${local}`,
  };
}

const configuration = {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      // Any loopback port (pytest's live server picks one): see redirectUriAllowed below.
      redirect_uris: ["http://localhost/oidc/callback/"],
      post_logout_redirect_uris: ["http://localhost/"],
      response_types: ["code"],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: "client_secret_post",
      id_token_signed_response_alg: "RS256",
    },
  ],
  scopes: ["openid", "email", "given_name", "usual_name", "siret", "uid"],
  claims: {
    openid: ["sub"],
    email: ["email"],
    given_name: ["given_name"],
    usual_name: ["usual_name"],
    siret: ["siret"],
    uid: ["uid"],
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return claimsFor(id);
      },
    };
  },
  pkce: { required: () => false },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  routes: {
    authorization: "/api/v2/authorize",
    token: "/api/v2/token",
    userinfo: "/api/v2/userinfo",
    jwks: "/api/v2/jwks",
    end_session: "/api/v2/session/end",
  },
};

const provider = new Provider(issuer, configuration);

function loopback(uri, path) {
  try {
    const url = new URL(uri);
    return (
      url.protocol === "http:" &&
      ["localhost", "127.0.0.1"].includes(url.hostname) &&
      (path === null || url.pathname === path)
    );
  } catch {
    return false;
  }
}
const { prototype } = provider.Client;
prototype.redirectUriAllowed = function redirectUriAllowed(uri) {
  return loopback(uri, "/oidc/callback/");
};
prototype.postLogoutRedirectUriAllowed = function postLogoutRedirectUriAllowed(uri) {
  return loopback(uri, null);
};

provider.listen(port, "127.0.0.1", () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
