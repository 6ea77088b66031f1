// node-postgres through custos: TLS, a parameterised query (extended protocol), a simple
// query, and an error. Prints "ok" on success. Connection settings come from the environment.
const { Client } = require('pg');

async function main() {
  const client = new Client({
    host: '127.0.0.1',
    port: Number(process.env.CUSTOS_PORT),
    user: process.env.CUSTOS_USER,
    database: process.env.CUSTOS_DB,
    password: process.env.CUSTOS_KEY,
    ssl: { rejectUnauthorized: false },
  });
  await client.connect();
  const r = await client.query('select $1::int + 1 as n, current_user as u', [41]);
  if (r.rows[0].n !== 42 || r.rows[0].u !== 'app_rw') throw new Error(JSON.stringify(r.rows));
  const s = await client.query("select 'node-marker' as m");
  if (s.rows[0].m !== 'node-marker') throw new Error('simple query');
  try {
    await client.query('select 1/0');
    throw new Error('expected division_by_zero');
  } catch (e) {
    if (e.code !== '22012') throw e;
  }
  await client.end();
  console.log('ok');
}

main().catch((e) => { console.error(e.message); process.exit(1); });
