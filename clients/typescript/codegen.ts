// GraphQL Code Generator: types for src/operations.graphql from Orbit's
// schema, and the possible types Apollo Client needs (docs/realtime.md).
// `npm run codegen` writes src/generated; CI checks the committed files
// match (clients/typescript/run.sh).
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: '../../schema.graphql',
  documents: 'src/operations.graphql',
  generates: {
    'src/generated/graphql.ts': {
      plugins: ['typescript', 'typescript-operations', 'typed-document-node'],
      config: {
        enumsAsTypes: true,
        useTypeImports: true,
        scalars: { DateTime: 'string', JSON: 'unknown' },
      },
    },
    'src/generated/possible-types.json': {
      plugins: ['fragment-matcher'],
    },
  },
};

export default config;
