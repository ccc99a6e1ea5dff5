#!/usr/bin/env node
// lint-openapi.mjs — validates docs/openapi.yaml offline (WC-API contract).
//
// 1. Redocly's OpenAPI 3.1 structural validation and its "recommended"
//    rule set (@redocly/openapi-core, no network); warnings fail too.
// 2. Bulwark's own rules, which the server's input handling relies on:
//    - every request body is a closed object (additionalProperties: false),
//      recursively, and every string in it is bounded (maxLength, enum or
//      const), every array bounded (maxItems);
//    - every string parameter is bounded the same way;
//    - every state-changing operation (POST/PUT/PATCH/DELETE) that is
//      authenticated declares its own security, and each alternative that
//      uses cookieAuth also requires the csrfToken header;
//    - every operation has an operationId, a summary and at least one 4xx
//      response; authenticated ones document 401.
// Usage: node scripts/lint-openapi.mjs path/to/openapi.yaml
// Exit status: 0 clean, 1 problems found, 2 usage or read error.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createConfig, lint, formatProblems, getTotals, parseYaml } from '@redocly/openapi-core';

const file = process.argv[2];
if (!file) {
	console.error('usage: lint-openapi.mjs OPENAPI.yaml');
	process.exit(2);
}
const path = resolve(file);

let text;
try {
	text = readFileSync(path, 'utf8');
} catch (e) {
	console.error(`lint-openapi: cannot read ${path}: ${e.message}`);
	process.exit(2);
}

// ---- 1. Redocly ---------------------------------------------------------
const config = await createConfig({ extends: ['recommended'] });
// Documented exceptions to Redocly rules, by rule and exact location:
//  - the health probe has no client error to report (405 is path-wide);
//  - the event endpoint answers 101 Switching Protocols, not 2xx.
const ALLOWED = [
	{ rule: 'operation-4xx-response', pointer: '#/paths/~1api~1v1~1health/get/responses' },
	{ rule: 'operation-2xx-response', pointer: '#/paths/~1api~1v1~1events/get/responses' },
];
const allowedProblem = (p) =>
	ALLOWED.some((a) => a.rule === p.ruleId && p.location?.some((l) => l.pointer === a.pointer));
const problems = (await lint({ ref: path, config })).filter((p) => !allowedProblem(p));
const totals = getTotals(problems);
if (problems.length > 0) {
	formatProblems(problems, { format: 'stylish', totals, version: 'openapi-core', color: false, maxProblems: 200 });
}

// ---- 2. Bulwark rules ---------------------------------------------------
const doc = parseYaml(text);
const own = [];
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
const MUTATING = new Set(['post', 'put', 'patch', 'delete']);

/** Follows a local "#/..." $ref; returns the target object (or the input). */
function deref(node, seen = new Set()) {
	while (node && typeof node === 'object' && typeof node.$ref === 'string') {
		const ref = node.$ref;
		if (!ref.startsWith('#/')) throw new Error(`only local $refs are allowed: ${ref}`);
		if (seen.has(ref)) throw new Error(`$ref cycle at ${ref}`);
		seen.add(ref);
		let cur = doc;
		for (const raw of ref.slice(2).split('/')) {
			const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
			cur = cur?.[key];
		}
		if (cur === undefined) throw new Error(`unresolved $ref ${ref}`);
		node = cur;
	}
	return node;
}

function types(schema) {
	if (Array.isArray(schema.type)) return schema.type;
	return schema.type ? [schema.type] : [];
}

/** Checks a request schema: closed objects, bounded strings and arrays. */
function checkRequestSchema(schema, where, depth = 0) {
	if (depth > 20) {
		own.push(`${where}: schema nests too deeply`);
		return;
	}
	const s = deref(schema);
	for (const key of ['oneOf', 'anyOf', 'allOf']) {
		if (Array.isArray(s[key])) s[key].forEach((sub, i) => checkRequestSchema(sub, `${where}/${key}/${i}`, depth + 1));
	}
	const t = types(s);
	if (t.includes('object') || s.properties) {
		if (s.additionalProperties !== false) own.push(`${where}: request object must set additionalProperties: false`);
		for (const [name, sub] of Object.entries(s.properties ?? {})) {
			checkRequestSchema(sub, `${where}.${name}`, depth + 1);
		}
		for (const req of s.required ?? []) {
			if (!(req in (s.properties ?? {}))) own.push(`${where}: required property "${req}" is not defined`);
		}
	}
	if (t.includes('string') && s.maxLength === undefined && s.enum === undefined && s.const === undefined) {
		own.push(`${where}: request string must have maxLength (or enum/const)`);
	}
	if (t.includes('array')) {
		if (s.maxItems === undefined) own.push(`${where}: request array must have maxItems`);
		if (s.items) checkRequestSchema(s.items, `${where}[]`, depth + 1);
	}
	if (t.length === 0 && !s.oneOf && !s.anyOf && !s.allOf && s.const === undefined && s.enum === undefined) {
		own.push(`${where}: request schema must declare a type`);
	}
}

function checkParameter(p, where) {
	const param = deref(p);
	const s = deref(param.schema ?? {});
	const t = types(s);
	if (t.length === 0) own.push(`${where} parameter "${param.name}": schema must declare a type`);
	if (t.includes('string') && s.maxLength === undefined && s.enum === undefined && s.const === undefined) {
		own.push(`${where} parameter "${param.name}": string must have maxLength (or enum/const)`);
	}
	if (t.includes('integer') && s.enum === undefined && (s.minimum === undefined || (s.maximum === undefined && s.format !== 'int64'))) {
		own.push(`${where} parameter "${param.name}": integer must be bounded (minimum, and maximum or int64)`);
	}
}

try {
	const globalSecurity = doc.security ?? [];
	for (const [route, item] of Object.entries(doc.paths ?? {})) {
		const shared = item.parameters ?? [];
		for (const method of METHODS) {
			const op = item[method];
			if (!op) continue;
			const where = `${method.toUpperCase()} ${route}`;
			if (!op.operationId) own.push(`${where}: missing operationId`);
			if (!op.summary) own.push(`${where}: missing summary`);
			const codes = Object.keys(op.responses ?? {});
			if (!codes.some((c) => /^4/.test(c)) && !(method === 'get' && route === '/api/v1/health')) own.push(`${where}: no 4xx response documented`);
			const security = op.security ?? globalSecurity;
			const authenticated = security.length > 0 && !security.some((req) => Object.keys(req).length === 0);
			if (authenticated && !codes.includes('401')) own.push(`${where}: authenticated operation must document 401`);
			if (MUTATING.has(method) && authenticated) {
				if (!op.security) own.push(`${where}: state-changing operation must declare security (cookie needs CSRF)`);
				for (const req of security) {
					if ('cookieAuth' in req && !('csrfToken' in req)) {
						own.push(`${where}: cookieAuth without csrfToken on a state-changing operation`);
					}
				}
			}
			for (const p of [...shared, ...(op.parameters ?? [])]) checkParameter(p, where);
			const pathParams = [...route.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
			for (const name of pathParams) {
				const declared = [...shared, ...(op.parameters ?? [])].map((p) => deref(p)).some((p) => p.in === 'path' && p.name === name);
				if (!declared) own.push(`${where}: path parameter {${name}} is not declared`);
			}
			if (op.requestBody) {
				const body = deref(op.requestBody);
				for (const [media, content] of Object.entries(body.content ?? {})) {
					if (media !== 'application/json') own.push(`${where}: request media type ${media} (only application/json)`);
					if (!content.schema) own.push(`${where}: request body without schema`);
					else checkRequestSchema(content.schema, `${where} body`);
				}
			}
		}
	}
} catch (e) {
	own.push(`bulwark rules: ${e.message}`);
}

for (const msg of own) console.error(`bulwark: ${msg}`);
const bad = totals.errors + totals.warnings + own.length;
if (bad > 0) {
	console.error(`lint-openapi: ${path}: ${totals.errors} error(s), ${totals.warnings} warning(s), ${own.length} Bulwark rule violation(s)`);
	process.exit(1);
}
console.log(`lint-openapi: ${path}: valid (OpenAPI ${doc.openapi}, ${Object.keys(doc.paths ?? {}).length} paths)`);
