-- The target the attack corpus runs against (tests/integration/test_attack_corpus.py). Created by
-- the application role custos logs in as, so every write an attack attempts would succeed on the
-- target if custos let it through. Test fixture only.
create table customers(id int primary key, name text, ssn text, email text, codename text,
                       card text, notes text);
insert into customers values
  (1, 'Ada', '219-09-9999', 'ada.lovelace@example.com', 'bluefalcon', '4111 1111 1111 1111',
   'prefers email'),
  (2, 'Alan', '078-05-1120', 'alan.turing@example.org', 'quietotter', '5500 0000 0000 0004',
   'call after 5pm'),
  (3, 'Grace', '457-55-5462', 'grace.hopper@example.net', 'amberlynx', '3400 0000 0000 009',
   'vip');
create table purchases(id serial primary key, customer int, amount numeric, note text);
insert into purchases(customer, amount, note) values (1, 10.5, 'book'), (2, 99, 'lamp'),
  (3, 1.25, 'pen');
create table audit_log(id bigserial primary key, what text);
create table kv(k text primary key, v text);
insert into kv values ('theme', 'dark');
create sequence invoice_seq;

-- user code with side effects, reachable in ways a name-based analyzer misses
create function public.lower(i integer) returns text language plpgsql as
  $$ begin insert into audit_log(what) values ('lower(int)'); return i::text; end $$;
create function public.audit(c customers) returns text language plpgsql as
  $$ begin insert into audit_log(what) values ('audit(customers)'); return c.name; end $$;
create function public.bump() returns bigint language sql as $$ select nextval('invoice_seq') $$;
create function public.stamp(t text) returns text language plpgsql stable as
  $$ begin perform pg_advisory_lock(777); return t; end $$;
create function public.safe_total(c customers) returns int language sql immutable as
  $$ select c.id * 10 $$;
create view v_bump as select id, name, public.bump() as n from customers;
create view v_nested as select id, n from v_bump;
create view v_audit as select c.id, c.audit from customers c;
create view v_plain as select id, name from customers;
create view v_tax as select id, ssn as tax_id from customers;
create view v_code_upper as select id, upper(codename) as code from customers;
create materialized view mv_codes as select id, codename from customers;
create type mood as enum ('happy', 'sad');
create function public.check_fn(t text) returns boolean language plpgsql as
  $$ begin insert into audit_log(what) values ('domain check'); return true; end $$;
create domain checked_text as text check (public.check_fn(value));
create function public.eq3(a int, b int) returns boolean language plpgsql as
  $$ begin insert into audit_log(what) values ('operator'); return a = b; end $$;
create operator public.=== (leftarg = int, rightarg = int, procedure = public.eq3);
select lo_from_bytea(0, 'an existing large object');
analyze customers;
-- a domain whose CHECK takes a session-level advisory lock per value (a read-only transaction
-- does not stop that; a try-lock, so sessions never wait on each other): every place a value
-- is coerced to the type runs it
create function public.grab(t text) returns boolean language plpgsql stable as
  $$ begin perform pg_try_advisory_lock(778, hashtext(t)); return true; end $$;
create domain locked_text as text check (public.grab(value));
