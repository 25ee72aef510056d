// A real OpenID provider for tokenhop's generic-issuer tests: node-oidc-provider
// (panva, an OpenID Certified implementation), pinned in package.json and installed by
// `cargo xtask` outside the clone. The flows tests start it:
//
//   node provider.mjs <node_modules> <auth methods> <certificate.pem> <client secret>
//
// It listens on an ephemeral loopback port, prints one JSON line {"issuer": ...}, and
// serves the client credentials grant to two clients: `tokenhop-secret` (its secret,
// by the first of <auth methods>, which is also all the discovery document offers for
// secrets) and `tokenhop-cert` (private_key_jwt with the certificate's key).
import http from 'node:http';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [modules, authMethods, certificatePem, secret] = process.argv.slice(2);
const { default: Provider } = await import(
  pathToFileURL(join(modules, 'oidc-provider', 'lib', 'index.js')).href
);
const methods = authMethods.split(',');
const publicKey = new X509Certificate(readFileSync(certificatePem)).publicKey.export({ format: 'jwk' });

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'tokenhop-secret',
        client_secret: secret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: methods[0],
        scope: 'api:read',
      },
      {
        client_id: 'tokenhop-cert',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'PS256',
        jwks: { keys: [{ ...publicKey, alg: 'PS256', use: 'sig' }] },
        scope: 'api:read',
      },
    ],
    clientAuthMethods: [...methods, 'private_key_jwt'],
    features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
    scopes: ['api:read'],
  });
  server.on('request', provider.callback());
  console.log(JSON.stringify({ issuer }));
});
