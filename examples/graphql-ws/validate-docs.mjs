// Every GraphQL document the docs give clients must be valid against the
// schema as graphql-js (and so GraphQL Code Generator, Apollo, Relay)
// validates it: the ```graphql blocks, and the documents in ```js blocks
// (template literals that start with query, mutation, subscription or
// fragment). Run by run.sh; exits non-zero naming each document that fails.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, parse, validate, specifiedRules, NoUnusedFragmentsRule } from 'graphql';

const root = new URL('../..', import.meta.url).pathname;
const schema = buildSchema(readFileSync(join(root, 'schema.graphql'), 'utf8'));
// benchmarks.md also shows a peer's queries, against the peer's schema.
const files = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md') && f !== 'benchmarks.md')
    .map((f) => join('docs', f)),
];
// A document may lean on fragments defined in another block of the page.
const rules = specifiedRules.filter((rule) => rule !== NoUnusedFragmentsRule);

const documents = [];
for (const file of files) {
  const text = readFileSync(join(root, file), 'utf8');
  for (const block of text.matchAll(/```(graphql|js|javascript|ts|typescript)\n([\s\S]*?)```/g)) {
    const [, language, body] = block;
    const line = text.slice(0, block.index).split('\n').length;
    if (language === 'graphql') {
      documents.push({ file, line, source: body });
    } else {
      for (const literal of body.matchAll(/`\s*((?:query|mutation|subscription|fragment)\b[^`]*)`/g)) {
        if (!literal[1].includes('${')) documents.push({ file, line, source: literal[1] });
      }
      for (const literal of body.matchAll(/'(\s*(?:query|mutation|subscription|\{)[^'\n]*)'/g)) {
        if (literal[1].trim().startsWith('{') || /^(query|mutation|subscription)\b/.test(literal[1].trim())) {
          documents.push({ file, line, source: literal[1] });
        }
      }
    }
  }
}

// A block may list several operations (each stands alone, with the
// block's fragments), or show the schema itself (not a client's document),
// or lines to add inside a selection (`... on X { }`: checked inside
// `subscription { threadEvents(threadId: "") { … } }`).
function operationsOf(source) {
  const trimmed = source.trim();
  const text = trimmed.startsWith('...')
    ? `subscription { threadEvents(threadId: "") { ${trimmed} } }`
    : source;
  const document = parse(text);
  const fragments = document.definitions.filter((d) => d.kind === 'FragmentDefinition');
  return document.definitions
    .filter((d) => d.kind === 'OperationDefinition')
    .map((operation) => ({ ...document, definitions: [operation, ...fragments] }));
}

let failed = 0;
let checked = 0;
for (const { file, line, source } of documents) {
  let errors;
  try {
    errors = operationsOf(source).flatMap((operation) => {
      checked += 1;
      return validate(schema, operation, rules);
    });
  } catch (error) {
    checked += 1;
    errors = [error];
  }
  if (errors.length > 0) {
    failed += 1;
    console.error(`${file}:${line}: ${errors.map((e) => e.message).join('; ')}\n${source.trim().slice(0, 300)}\n`);
  }
}
console.log(`${checked} operations in ${documents.length} blocks of the docs checked against schema.graphql; ${failed} block(s) failed`);
process.exit(failed > 0 ? 1 : 0);
