import pg from 'pg';
import { PgCatalog, PG_TYPES } from '../../../src/store/postgres/pg-catalog.js';
import { migrate } from '../../../src/store/postgres/schema.js';
import { catalogueConformance } from '../../conformance/store-conformance.js';
import { startPostgres } from '../../helpers/postgres.js';

// The scale-out store's catalogue on a real PostgreSQL 15, against the same
// catalogue tests as every store. A PostgreSQL that cannot be started fails
// the suite (its before hook throws), never skips it.
catalogueConformance('PostgreSQL', async () => {
  const server = await startPostgres();
  const pool = new pg.Pool({ connectionString: server.url, types: PG_TYPES });
  await migrate(pool);
  return {
    catalog: new PgCatalog(pool),
    async destroy() {
      await pool.end();
      await server.stop();
    },
  };
});
