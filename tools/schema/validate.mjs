// Validates YAML or JSON documents with Ajv (JSON Schema draft 2020-12).
//
//   node validate.mjs SCHEMA FILE
//     SCHEMA is a schema file (JSON or YAML), optionally with a "#/json/pointer"
//     fragment, or an OpenAPI 3.1 document with "#/components/schemas/NAME".
//   node validate.mjs --openapi FILE
//     checks FILE against the OpenAPI schema of its version and compiles each
//     of its components.schemas in Ajv's strict mode.
//   node validate.mjs --json FILE
//     prints FILE as JSON, the way the other modes read it.
//
// Exit status: 0 valid, 1 invalid, 2 on a usage, read or schema error.
// YAML is read as YAML 1.2 (core schema) with duplicate keys rejected, the
// way the agent's own manifest loader reads it.

import { readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import YAML from "yaml";
import { Validator } from "@seriousme/openapi-schema-validator";

const COMPONENTS = "#/components/schemas/";

class UsageError extends Error {}

function readDocument(path) {
	let text;
	try {
		text = readFileSync(path, "utf8");
	} catch (e) {
		throw new UsageError(`${path}: ${e.message}`);
	}
	try {
		if (path.endsWith(".json"))
			return JSON.parse(text);
		return YAML.parse(text, { version: "1.2", schema: "core",
		    uniqueKeys: true, prettyErrors: true });
	} catch (e) {
		throw new UsageError(`${path}: ${e.message}`);
	}
}

// Registers every "x-..." key found in a schema tree as an annotation
// keyword, so that strict mode accepts OpenAPI specification extensions.
function addExtensionKeywords(ajv, node, seen = new Set()) {
	if (node === null || typeof node !== "object")
		return;
	for (const [key, value] of Object.entries(node)) {
		if (key.startsWith("x-") && !seen.has(key)) {
			seen.add(key);
			ajv.addKeyword({ keyword: key });
		}
		addExtensionKeywords(ajv, value, seen);
	}
}

// Returns the components.schemas of an OpenAPI 3.1 document as one JSON
// Schema 2020-12 document whose $defs they become, with their local
// references rewritten to match.
function openapiAsSchema(doc, url) {
	const text = JSON.stringify(doc.components?.schemas ?? {})
	    .replaceAll(`"${COMPONENTS}`, '"#/$defs/');
	return { $id: url, $defs: JSON.parse(text) };
}

function makeAjv() {
	const ajv = new Ajv2020({
		allErrors: true,
		strict: true,
		// if/then may require a property that only the parent defines.
		strictRequired: false,
		// Schemas may reference other files by relative path.
		loadSchema: async (uri) => {
			if (!uri.startsWith("file:"))
				throw new UsageError(`cannot load ${uri}: only local files are read`);
			const schema = readDocument(fileURLToPath(uri));
			return { ...schema, $id: uri };
		},
	});
	addFormats(ajv);
	// OpenAPI's annotation keywords.
	for (const keyword of ["example", "discriminator", "xml", "externalDocs"])
		ajv.addKeyword({ keyword });
	return ajv;
}

// Returns the Ajv validation function of SCHEMA[#fragment].
async function compile(ajv, schemaArg) {
	const hash = schemaArg.indexOf("#");
	const path = hash >= 0 ? schemaArg.slice(0, hash) : schemaArg;
	const fragment = hash >= 0 ? schemaArg.slice(hash) : "";
	const url = pathToFileURL(resolve(path)).href;
	const doc = readDocument(path);

	if (doc !== null && typeof doc === "object" && "openapi" in doc) {
		if (!fragment.startsWith(COMPONENTS))
			throw new UsageError(`${schemaArg}: name a schema as ${COMPONENTS}NAME`);
		const name = fragment.slice(COMPONENTS.length);
		if (!(name in (doc.components?.schemas ?? {})))
			throw new UsageError(`${schemaArg}: no such schema`);
		addExtensionKeywords(ajv, doc.components.schemas);
		ajv.addSchema(openapiAsSchema(doc, url));
		return ajv.compileAsync({ $ref: `${url}#/$defs/${name}` });
	}
	addExtensionKeywords(ajv, doc);
	const id = doc.$id ?? url;
	ajv.addSchema({ ...doc, $id: id });
	return ajv.compileAsync({ $ref: id + fragment });
}

async function validateFile(schemaArg, file) {
	const ajv = makeAjv();
	let validate;
	try {
		validate = await compile(ajv, schemaArg);
	} catch (e) {
		throw new UsageError(`${schemaArg}: ${e.message}`);
	}
	const data = readDocument(file);
	if (validate(data)) {
		console.log(`${file}: valid against ${schemaArg}`);
		return 0;
	}
	for (const e of validate.errors) {
		const where = e.instancePath === "" ? "/" : e.instancePath;
		console.log(`${file}: ${where}: ${e.message} ` +
		    `(${e.keyword} ${JSON.stringify(e.params)})`);
	}
	return 1;
}

// Copies each schema file that doc references by relative path into
// components.schemas (its $defs as NAME_def), as OpenAPI bundlers do, so
// that the OpenAPI schema check, which follows only internal references,
// can see it.
function bundle(doc, file) {
	const schemas = doc.components?.schemas ?? {};
	const names = new Map();
	const rewrite = (node, defsPrefix) => {
		if (node === null || typeof node !== "object")
			return;
		for (const [key, value] of Object.entries(node)) {
			if (key === "$ref" && typeof value === "string") {
				if (defsPrefix !== null && value.startsWith("#/$defs/"))
					node.$ref = `${COMPONENTS}${defsPrefix}_${value.slice(8)}`;
				else if (!value.startsWith("#"))
					node.$ref = `${COMPONENTS}${include(value)}`;
			} else
				rewrite(value, defsPrefix);
		}
	};
	const include = (ref) => {
		const path = resolve(dirname(file), ref);
		if (names.has(path))
			return names.get(path);
		const name = basename(path).replace(/\..*$/, "").replace(/[^A-Za-z0-9]/g, "_");
		names.set(path, name);
		const schema = readDocument(path);
		const defs = schema.$defs ?? {};
		delete schema.$defs;
		delete schema.$id;
		delete schema.$schema;
		rewrite(schema, name);
		schemas[name] = schema;
		for (const [def, value] of Object.entries(defs)) {
			rewrite(value, name);
			schemas[`${name}_${def}`] = value;
		}
		return name;
	};
	rewrite(doc.paths ?? {}, null);
	rewrite(schemas, null);
	doc.components = { ...doc.components, schemas };
	return doc;
}

async function validateOpenapi(file) {
	const own = Object.keys(readDocument(file).components?.schemas ?? {});
	const doc = bundle(readDocument(file), file);
	const validator = new Validator();
	const result = await validator.validate(doc);
	if (!result.valid) {
		console.log(`${file}: not a valid OpenAPI ${doc.openapi} document:`);
		console.log(JSON.stringify(result.errors, null, 2));
		return 1;
	}
	// Compiling each schema catches misspelled keywords, which the OpenAPI
	// schema lets through.
	for (const name of own) {
		try {
			await compile(makeAjv(), `${file}${COMPONENTS}${name}`);
		} catch (e) {
			console.log(`${file}: ${COMPONENTS}${name}: ${e.message}`);
			return 1;
		}
	}
	console.log(`${file}: valid OpenAPI ${validator.version} document`);
	return 0;
}

async function main(argv) {
	if (argv.length === 2 && argv[0] === "--openapi")
		return validateOpenapi(argv[1]);
	if (argv.length === 2 && argv[0] === "--json") {
		console.log(JSON.stringify(readDocument(argv[1]), null, 2));
		return 0;
	}
	if (argv.length === 2 && !argv[0].startsWith("-"))
		return validateFile(argv[0], argv[1]);
	throw new UsageError("usage: validate.mjs SCHEMA[#FRAGMENT] FILE | " +
	    "--openapi FILE | --json FILE");
}

main(process.argv.slice(2)).then((status) => {
	process.exitCode = status;
}, (e) => {
	console.error(e instanceof UsageError ? e.message : e.stack);
	process.exitCode = 2;
});
