"""Held statements: a risky statement waits inside the live session until people approve it."""
import hashlib
import hmac
import json
import os
import secrets
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import psycopg2
import pytest

import harness
from harness.postgres import GatewaySetup

HERE = Path(__file__).parent


class WebhookReceiver:
    def __init__(self, secret):
        self.secret = secret
        self.events = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                sig = self.headers.get("X-Custos-Signature", "")
                want = "sha256=" + hmac.new(receiver.secret.encode(), body,
                                            hashlib.sha256).hexdigest()
                receiver.events.append((hmac.compare_digest(sig, want), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def hold(pg, certs):
    tokens = {n: "apr_" + secrets.token_hex(16) for n in ("alice", "bob", "ci-deploy")}
    sha = {n: hashlib.sha256(t.encode()).hexdigest() for n, t in tokens.items()}
    hook_secret = secrets.token_hex(12)
    hook = WebhookReceiver(hook_secret)
    extra = f"""approvers:
  - {{ name: alice, groups: [dba], token_sha256: "{sha['alice']}" }}
  - {{ name: bob, groups: [dba], token_sha256: "{sha['bob']}" }}
  - {{ name: ci-deploy, groups: [dba], token_sha256: "{sha['ci-deploy']}" }}
webhooks:
  - {{ url: "http://127.0.0.1:{hook.port}/hook", secret: "test-literal:{hook_secret}" }}
"""
    policy = """    rules:
      - hold: { kinds: [delete], tables: [hold_short], approvers: [group:dba], timeout: 2s }
      - hold: { kinds: [delete], tables: [hold_many], approvers: [group:dba], timeout: 90s }
      - hold: { kinds: [update], tables: [hold_items], approvers: [group:dba], min_approvals: 2, timeout: 30s }
      - hold: { kinds: [delete], tables: [hold_items], approvers: [group:dba], timeout: 60s, preview: true }
      - allow: { kinds: [readonly, insert] }"""
    pg.app_sql("drop table if exists hold_items, hold_short;"
               "create table hold_items(id int primary key, v int);"
               "insert into hold_items select g, g from generate_series(1, 1000) g;"
               "create table hold_short(id int);"
               "drop table if exists hold_many; create table hold_many(id int primary key);"
               "insert into hold_many select g from generate_series(1, 200) g")
    setup = GatewaySetup(pg, certs, policy_yaml=policy, extra_yaml=extra)
    setup.start()
    setup.tokens = tokens
    setup.hook = hook
    yield setup
    setup.gw.stop()


def api(setup, method, path, token, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{setup.admin_port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def wait_pending(setup, statement_part, timeout=15, count=1):
    def pending():
        st, body = api(setup, "GET", "/api/approvals?status=pending", setup.tokens["alice"])
        assert st == 200
        found = [i for i in body["approvals"] if statement_part in i["statement"]]
        return found if len(found) >= count else None
    found = harness.wait_until(pending, timeout)
    if not found:
        raise AssertionError(f"no pending approval for {statement_part!r}")
    return found


def run_in_thread(setup, sql):
    out = {}

    def go():
        conn = psycopg2.connect(setup.dsn())
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                out["rowcount"] = cur.rowcount
        except psycopg2.Error as e:
            out["error"] = e
        out["notices"] = list(conn.notices)
        conn.close()
    t = threading.Thread(target=go)
    t.start()
    return t, out


def count(pg, where="true"):
    return pg.app_sql(f"select count(*) from hold_items where {where}")[0][0]


def test_held_delete_approved_runs_with_right_row_count(hold, pg):
    t, out = run_in_thread(hold, "delete from hold_items where id between 1 and 3")
    item = wait_pending(hold, "between 1 and 3")[0]
    assert item["identity"] == "ci-deploy" and "delete" in item["kinds"]
    assert item["preview"] == "would delete 3 rows"
    assert count(pg, "id between 1 and 3") == 3  # nothing ran yet (the preview rolled back)
    st, _ = api(hold, "POST", f"/api/approvals/{item['id']}/approve", hold.tokens["alice"],
                {"reason": "planned cleanup"})
    assert st == 200
    t.join(20)
    assert out.get("rowcount") == 3, out
    assert any("held for approval" in n for n in out["notices"])
    assert count(pg, "id between 1 and 3") == 0


def test_held_delete_denied_leaves_rows(hold, pg):
    t, out = run_in_thread(hold, "delete from hold_items where id = 10")
    item = wait_pending(hold, "where id = 10")[0]
    st, _ = api(hold, "POST", f"/api/approvals/{item['id']}/deny", hold.tokens["bob"],
                {"reason": "not during business hours"})
    assert st == 200
    t.join(20)
    err = out.get("error")
    assert err is not None and err.pgcode == "42501"
    assert "not during business hours" in str(err)
    assert count(pg, "id = 10") == 1


def test_hold_times_out(hold):
    t, out = run_in_thread(hold, "delete from hold_short")
    t.join(20)
    err = out.get("error")
    assert err is not None and "timed out" in str(err)


def test_client_disconnect_withdraws(hold, pg):
    env = dict(os.environ, PGPASSWORD=hold.key)
    p = subprocess.Popen(["psql", "-X", hold.dsn().replace(f"password={hold.key}", ""), "-c",
                          "delete from hold_items where id = 20"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    item = wait_pending(hold, "where id = 20")[0]
    p.send_signal(signal.SIGKILL)
    p.wait()
    def status():
        return api(hold, "GET", f"/api/approvals/{item['id']}", hold.tokens["alice"])[1]["status"]
    assert harness.wait_until(lambda: status() == "withdrawn", 10, 0.2), status()
    st, _ = api(hold, "POST", f"/api/approvals/{item['id']}/approve", hold.tokens["alice"], {})
    assert st == 409
    assert count(pg, "id = 20") == 1


def test_self_approval_refused_and_two_approvers_needed(hold, pg):
    t, out = run_in_thread(hold, "update hold_items set v = -1 where id = 30")
    item = wait_pending(hold, "where id = 30")[0]
    st, _ = api(hold, "POST", f"/api/approvals/{item['id']}/approve", hold.tokens["ci-deploy"], {})
    assert st == 403
    st, _ = api(hold, "POST", f"/api/approvals/{item['id']}/approve", hold.tokens["alice"], {})
    assert st == 200
    time.sleep(0.5)
    assert t.is_alive(), "one approval of two must not release the statement"
    st, _ = api(hold, "POST", f"/api/approvals/{item['id']}/approve", hold.tokens["bob"], {})
    assert st == 200
    t.join(20)
    assert out.get("rowcount") == 1, out
    assert pg.app_sql("select v from hold_items where id = 30") == [(-1,)]


def test_grant_lets_same_shape_through(hold, pg):
    t, out = run_in_thread(hold, "delete from hold_items where id = 40")
    item = wait_pending(hold, "where id = 40")[0]
    st, _ = api(hold, "POST", f"/api/approvals/{item['id']}/approve", hold.tokens["alice"],
                {"grant_for": "5m"})
    assert st == 200
    t.join(20)
    assert out.get("rowcount") == 1
    # Same shape, other literal: runs at once, no new hold.
    started = time.time()
    r = hold.psql("-c", "delete from hold_items where id = 41")
    assert r.returncode == 0, r.stderr
    assert time.time() - started < 5
    assert count(pg, "id = 41") == 0
    assert '"grant_used"' in hold.gw.recordings_text()


def test_webhook_signed_events(hold):
    harness.wait_until(lambda: len(hold.hook.events) >= 2, 10)
    assert hold.hook.events, "no webhook received"
    assert all(ok for ok, _ in hold.hook.events), "bad webhook signature"
    assert any("text" in body for _, body in hold.hook.events)


def test_two_hundred_holds_at_once(hold, pg):
    threads = [run_in_thread(hold, f"delete from hold_many where id = {i}")
               for i in range(1, 201)]
    items = wait_pending(hold, "delete from hold_many", timeout=60, count=200)
    assert len(items) >= 200
    for it in items:
        st, _ = api(hold, "POST", f"/api/approvals/{it['id']}/deny", hold.tokens["alice"],
                    {"reason": "bulk"})
        assert st == 200
    for t, out in threads:
        t.join(30)
        assert out.get("error") is not None and out["error"].pgcode == "42501"
    assert pg.app_sql("select count(*) from hold_many")[0][0] == 200


def test_approve_from_the_web_page_in_chromium(hold, pg):
    browser = HERE / "browser"
    if not (browser / "node_modules" / "playwright-core").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=browser,
                       check=True, timeout=300)
    t, out = run_in_thread(hold, "delete from hold_items where id = 50 and v >= 0")
    item = wait_pending(hold, "where id = 50 and")[0]
    r = subprocess.run(["node", str(browser / "approve.js"),
                        f"http://127.0.0.1:{hold.admin_port}/approvals", hold.tokens["alice"],
                        item["id"]], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    t.join(20)
    assert out.get("rowcount") == 1, out
    assert count(pg, "id = 50") == 0


def test_hold_events_recorded(hold):
    rec = hold.gw.recordings_text()
    assert '"hold_requested"' in rec and '"approval_decided"' in rec
    v = hold.gw.cli("verify")
    assert v.returncode == 0, v.stdout


def test_policy_test_cli_says_hold_as_the_gateway_does(hold, pg):
    """`custos policy test` combines verdicts as the gateway does: a held statement prints
    HOLD and exits 3; a denial anywhere in the request still decides (exit 1)."""
    def policy_test(sql):
        return hold.gw.cli("policy", "test", "--identity", "ci-deploy", "--connection", "orders",
                           sql)
    r = policy_test("delete from hold_items where v = 60 and id = 60; select 1")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "OVERALL: HOLD (statement 1 waits for approvers: HOLD by policy" in r.stdout, r.stdout
    assert "rule 4" in r.stdout.splitlines()[-1], r.stdout
    r = policy_test("delete from hold_items where v = 60 and id = 60; drop table hold_items")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "OVERALL: DENY" in r.stdout
    r = policy_test("select count(*) from hold_items")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OVERALL: ALLOW" in r.stdout
    # What the CLI calls a hold, the gateway holds.
    t, out = run_in_thread(hold, "delete from hold_items where v = 60 and id = 60; select 1")
    item = wait_pending(hold, "where v = 60 and id = 60")[0]
    assert item["rule"] == 4, item
    st, _ = api(hold, "POST", f"/api/approvals/{item['id']}/deny", hold.tokens["alice"],
                {"reason": "not now"})
    assert st == 200
    t.join(20)
    assert out["error"].pgcode == "42501"
    assert count(pg, "id = 60") == 1


def test_restart_orphans_a_pending_hold_instead_of_expiring_it(hold, pg):
    """A gateway that stops while a statement is held cannot resume that connection: after the
    restart the request is still listed, as orphaned (not silently expired), and can no longer
    be approved; the statement never ran."""
    t, out = run_in_thread(hold, "delete from hold_items where id = 70 and v > 0")
    item = wait_pending(hold, "where id = 70 and v > 0")[0]
    assert item["instance"]  # the host name unless configured
    hold.gw.stop(signal.SIGKILL)  # a crash: no drain, nobody withdraws the request
    t.join(20)
    assert out.get("error") is not None
    hold.gw.start(*hold.listen_ports(), hold.admin_port)
    st, body = api(hold, "GET", f"/api/approvals/{item['id']}", hold.tokens["alice"])
    assert st == 200
    assert body["status"] == "orphaned", body
    assert "restarted" in body["reason"]
    st, body = api(hold, "GET", "/api/approvals?status=orphaned", hold.tokens["alice"])
    assert [i["id"] for i in body["approvals"]] == [item["id"]]
    st, body = api(hold, "POST", f"/api/approvals/{item['id']}/approve", hold.tokens["alice"], {})
    assert st == 409, body
    r = hold.gw.cli("approvals", "list", "--status", "orphaned", "--token", hold.tokens["alice"])
    assert r.returncode == 0 and item["id"] in r.stdout, r.stdout + r.stderr
    assert count(pg, "id = 70") == 1
    # The restarted gateway holds new statements as before.
    t, out = run_in_thread(hold, "delete from hold_items where id = 71 and v > 0")
    item = wait_pending(hold, "where id = 71 and v > 0")[0]
    st, _ = api(hold, "POST", f"/api/approvals/{item['id']}/approve", hold.tokens["alice"], {})
    assert st == 200
    t.join(20)
    assert out.get("rowcount") == 1, out
