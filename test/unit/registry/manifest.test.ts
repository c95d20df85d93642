import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseManifest, type FetchedManifest } from '../../../core/registry/manifest.js';
import { ManifestInvalidError } from '../../../core/registry/errors.js';
import { sha256Digest } from '../../../core/registry/verify.js';
import * as types from '../../../core/registry/media-types.js';

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;

function fetched(body: unknown, mediaType: string): FetchedManifest {
  const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { mediaType, digest: sha256Digest(bytes), bytes };
}

const ociManifest = {
  schemaVersion: 2,
  mediaType: types.OCI_MANIFEST,
  config: { mediaType: types.OCI_CONFIG, digest: D1, size: 10 },
  layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D2, size: 20 }],
  annotations: { 'org.opencontainers.image.title': 'x' },
};

test('an OCI image manifest parses into its config and layers', () => {
  const f = fetched(ociManifest, types.OCI_MANIFEST);
  const m = parseManifest(f);
  assert.is(m.kind, 'manifest');
  if (m.kind !== 'manifest') return;
  assert.is(m.digest, f.digest);
  assert.is(m.config.digest, D1);
  assert.is(m.layers.length, 1);
  assert.is(m.layers[0]!.size, 20);
  assert.equal(m.annotations, { 'org.opencontainers.image.title': 'x' });
});

test('a docker manifest list parses into entries with platforms', () => {
  const list = {
    schemaVersion: 2,
    mediaType: types.DOCKER_MANIFEST_LIST,
    manifests: [{ mediaType: types.DOCKER_MANIFEST, digest: D1, size: 5, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } }],
  };
  const m = parseManifest(fetched(list, types.DOCKER_MANIFEST_LIST));
  assert.is(m.kind, 'index');
  if (m.kind !== 'index') return;
  assert.equal(m.manifests[0]!.platform, { os: 'linux', architecture: 'arm', variant: 'v7' });
});

test('a generic content type is resolved from the body: mediaType, else manifests vs layers', () => {
  const { mediaType: _m, ...noType } = ociManifest;
  assert.is(parseManifest(fetched(ociManifest, 'application/json')).mediaType, types.OCI_MANIFEST);
  assert.is(parseManifest(fetched(noType, 'application/octet-stream')).kind, 'manifest');
  assert.is(parseManifest(fetched({ schemaVersion: 2, manifests: [] }, '')).kind, 'index');
});

test('schema 1 is refused by media type and by schemaVersion, with the fix', () => {
  const cases: FetchedManifest[] = [
    fetched({ schemaVersion: 1, name: 'x', tag: 'latest', fsLayers: [] }, types.DOCKER_SCHEMA1_SIGNED),
    fetched({ schemaVersion: 1, name: 'x', tag: 'latest', fsLayers: [] }, 'application/json'),
    fetched({ schemaVersion: 1 }, types.DOCKER_SCHEMA1),
  ];
  for (const f of cases) {
    try {
      parseManifest(f);
      assert.unreachable('schema 1 accepted');
    } catch (err) {
      assert.instance(err, ManifestInvalidError);
      assert.match((err as Error).message, 'uses the obsolete manifest schema 1, which tsbox does not support');
      assert.match((err as Error).message, 'push it again with a current client');
    }
  }
});

test('malformed manifests are refused with the reason', () => {
  const bad: Array<[unknown, string, RegExp]> = [
    ['{not json', types.OCI_MANIFEST, /not JSON/],
    [[1, 2], types.OCI_MANIFEST, /not a JSON object/],
    [{ ...ociManifest, schemaVersion: 3 }, types.OCI_MANIFEST, /schemaVersion 3/],
    [{ ...ociManifest, layers: undefined }, types.OCI_MANIFEST, /"layers" array/],
    [{ ...ociManifest, config: { mediaType: 'x', digest: 'sha256:short', size: 1 } }, types.OCI_MANIFEST, /config has a malformed sha256 digest/],
    [{ ...ociManifest, layers: [{ mediaType: 'x', digest: D1, size: -1 }] }, types.OCI_MANIFEST, /layers\[0\] has an invalid size/],
    [{ ...ociManifest, layers: [{ mediaType: 'x', digest: D1, size: 1.5 }] }, types.OCI_MANIFEST, /invalid size/],
    [{ ...ociManifest, layers: [{ digest: D1, size: 1 }] }, types.OCI_MANIFEST, /no mediaType/],
    [{ schemaVersion: 2, mediaType: types.OCI_INDEX, manifests: [{ mediaType: 'x', digest: D1, size: 1, platform: { os: 'linux' } }] }, types.OCI_INDEX, /platform needs os and architecture/],
    [{ schemaVersion: 2, mediaType: types.OCI_INDEX }, types.OCI_INDEX, /"manifests" array/],
    [ociManifest, types.OCI_INDEX, /differs from the registry's/],
    [{ ...ociManifest, mediaType: 'application/vnd.example+json' }, 'application/vnd.example+json', /unsupported media type/],
    [{ ...ociManifest, annotations: { a: 1 } }, types.OCI_MANIFEST, /annotations must map strings/],
  ];
  for (const [body, mediaType, expected] of bad) {
    try {
      parseManifest(fetched(body, mediaType));
      assert.unreachable(`accepted ${JSON.stringify(body)}`);
    } catch (err) {
      assert.instance(err, ManifestInvalidError, String(expected));
      assert.match((err as Error).message, expected);
      assert.match((err as Error).message, /^invalid manifest sha256:/);
    }
  }
});

test.run();
