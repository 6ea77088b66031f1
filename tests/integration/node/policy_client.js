// Extended protocol (parameterised queries) against a policy: a denied statement returns 42501
// and the connection stays usable — the client's protocol state is consistent.
const { Client } = require('pg');

async function main() {
  const client = new Client({
    host: '127.0.0.1', port: Number(process.env.CUSTOS_PORT), user: process.env.CUSTOS_USER,
    database: process.env.CUSTOS_DB, password: process.env.CUSTOS_KEY,
    ssl: { rejectUnauthorized: false },
  });
  await client.connect();
  const before = await client.query('select count(*)::int as n from pol_items where id > $1', [0]);
  try {
    await client.query('delete from pol_items returning $1::int', [1]);
    throw new Error('expected a denial');
  } catch (e) {
    if (e.code !== '42501' || !/custos: delete denied/.test(e.message)) throw e;
  }
  // A named prepared statement that is denied, then one that is allowed.
  try {
    await client.query({ name: 'wipe', text: 'delete from pol_items', values: [] });
    throw new Error('expected a denial');
  } catch (e) {
    if (e.code !== '42501') throw e;
  }
  const after = await client.query({ name: 'cnt', text: 'select count(*)::int as n from pol_items where id > $1', values: [0] });
  if (after.rows[0].n !== before.rows[0].n) throw new Error('rows changed');
  const again = await client.query({ name: 'cnt', text: 'select count(*)::int as n from pol_items where id > $1', values: [0] });
  if (again.rows[0].n !== before.rows[0].n) throw new Error('prepared reuse');
  await client.end();
  console.log('ok');
}

main().catch((e) => { console.error(e.message); process.exit(1); });
