// PostGraphile 5 against Orbit's database, for run.sh. Everything comes from
// the environment so the same file serves any database:
//   DATABASE_URL  the database (Orbit's, migrated)            required
//   PG_SCHEMA     the schema to expose                        default public
//   PG_ROLE       the role each request runs as (pgSettings)  unset: the
//                 connecting user, and no transaction per request
import { makePgService } from "postgraphile/adaptors/pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

const role = process.env.PG_ROLE || undefined;

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: [process.env.PG_SCHEMA || "public"],
      // As a deployment would: every request runs as a role that may only
      // read (SET LOCAL role inside a transaction PostGraphile opens).
      pgSettings: role ? () => ({ role }) : undefined,
      // Introspect as that role too, so the schema holds what it may read.
      pgSettingsForIntrospection: role ? { role } : undefined,
    }),
  ],
  grafserv: {
    graphiql: false,
    watch: false,
  },
  grafast: {
    explain: false,
  },
};

export default preset;
