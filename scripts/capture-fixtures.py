#!/usr/bin/env python3
"""Capture real Synapse answers to POST /_matrix/client/v3/keys/upload as test fixtures.

Run with the interpreter that has Synapse installed:

    ~/.cache/mcg-synapse-venv/bin/python scripts/capture-fixtures.py [--out tests/fixtures/synapse] [--port 18448]

It starts a throwaway Synapse (SQLite, one client listener on 127.0.0.1, no federation, relaxed
rate limits) in a temp directory, registers a user through the shared-secret admin API, logs in
with a fixed device id, and then plays the divergences the guardian has to recognise, with real
ed25519 signatures (signedjson / PyNaCl):

  success_initial_upload      device_keys + 5 signed OTKs + fallback key  -> 200
  success_identical_reupload  the very same request again                 -> 200 (Synapse ignores exact repeats)
  conflict_same_identity      same device key, one OTK id re-used with new key material -> 400 (two tabs)
  conflict_identity_replaced  new device ed25519/curve25519 under the same device id,
                              same OTK ids, new fallback key               -> 400 (store loss)
  fallback_replaced           same fallback key id, new key material      -> 200 (Synapse upserts
                              fallback keys: there is no fallback-key conflict on Synapse)
  conflict_unsigned_key       a legacy unsigned `curve25519:<id>` OTK re-used -> 400 (old key is a
                              JSON string, new key a Python str repr)
  error_device_id_mismatch    device_keys.device_id != the token's device -> 400 M_BAD_JSON
  error_too_many_keys         501 new OTKs                                 -> 400 M_TOO_LARGE
  error_otk_limit_pile_up     batches of 50 new OTKs until the cap         -> 200 … 200, then 400 M_TOO_LARGE

Each fixture file holds the exact request body sent, the status, the exact response body text,
and the device's ed25519/curve25519 public keys (old and, where replaced, new) so that signatures
in the answers can be verified independently. Only throwaway public keys are written; no access
token, password or private key ends up in a fixture. Synapse is stopped by PID at the end.
"""

import argparse
import ast
import base64
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

import nacl.public
import signedjson.key
import signedjson.sign
import synapse

USER = "guardian"
PASSWORD = "throwaway-fixture-password"
DEVICE_ID = "GUARDIANDEV"
SERVER_NAME = "localhost"
USER_ID = f"@{USER}:{SERVER_NAME}"
UPLOAD_PATH = "/_matrix/client/v3/keys/upload"


def b64(data: bytes) -> str:
    """Unpadded standard base64, as Matrix uses."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def key_id(counter: int) -> str:
    """vodozemac's one-time key ids: unpadded base64 of the big-endian u64 counter (13 -> AAAAAAAAAA0)."""
    return b64(struct.pack(">Q", counter))


def free_port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]


RELAXED = {"per_second": 1000, "burst_count": 10000}


def write_config(tmp: str, port: int, secret: str) -> str:
    cfg = {
        "server_name": SERVER_NAME,
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "pid_file": os.path.join(tmp, "homeserver.pid"),
        "signing_key_path": os.path.join(tmp, "localhost.signing.key"),
        "media_store_path": os.path.join(tmp, "media_store"),
        "log_config": os.path.join(tmp, "log.config.json"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": os.path.join(tmp, "homeserver.db")}},
        "report_stats": False,
        "enable_metrics": False,
        "enable_registration": False,
        "registration_shared_secret": secret,
        "macaroon_secret_key": os.urandom(24).hex(),
        "form_secret": os.urandom(24).hex(),
        "federation_domain_whitelist": [],
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "url_preview_enabled": False,
        "presence": {"enabled": False},
        "rc_message": RELAXED,
        "rc_registration": RELAXED,
        "rc_login": {"address": RELAXED, "account": RELAXED, "failed_attempts": RELAXED},
        "rc_key_requests": RELAXED,
    }
    log_cfg = {
        "version": 1,
        "formatters": {"precise": {"format": "%(asctime)s - %(name)s - %(levelname)s - %(message)s"}},
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "formatter": "precise",
                "filename": os.path.join(tmp, "homeserver.log"),
                "encoding": "utf8",
            }
        },
        "loggers": {"synapse": {"level": "INFO"}, "twisted": {"level": "WARNING"}},
        "root": {"level": "INFO", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }
    with open(os.path.join(tmp, "log.config.json"), "w") as f:
        json.dump(log_cfg, f)
    with open(cfg["signing_key_path"], "w") as f:
        signedjson.key.write_signing_keys(f, [signedjson.key.generate_signing_key("a_fixt")])
    path = os.path.join(tmp, "homeserver.yaml")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)  # JSON is valid YAML
    return path


class Http:
    def __init__(self, base: str):
        self.base = base
        self.token = None

    def call(self, method: str, path: str, body=None):
        """Returns (status, headers, body_text, body_bytes_sent)."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read().decode("utf-8"), data
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode("utf-8"), data


def wait_ready(http: Http, proc: subprocess.Popen, tmp: str):
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            log = open(os.path.join(tmp, "homeserver.log")).read()[-4000:]
            sys.exit(f"synapse exited early with {proc.returncode}\n{log}")
        try:
            status, *_ = http.call("GET", "/_matrix/client/versions")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    sys.exit("synapse did not come up within 90 s")


def register(http: Http, secret: str):
    status, _, body, _ = http.call("GET", "/_synapse/admin/v1/register")
    assert status == 200, body
    nonce = json.loads(body)["nonce"]
    # HMAC-SHA1 over nonce NUL user NUL password NUL "notadmin" (Synapse's shared-secret scheme)
    msg = b"\x00".join(part.encode("utf8") for part in (nonce, USER, PASSWORD, "notadmin"))
    mac = hmac.new(secret.encode(), msg, digestmod=hashlib.sha1)
    status, _, body, _ = http.call(
        "POST",
        "/_synapse/admin/v1/register",
        {"nonce": nonce, "username": USER, "password": PASSWORD, "admin": False, "mac": mac.hexdigest()},
    )
    assert status == 200, body


def login(http: Http):
    status, _, body, _ = http.call(
        "POST",
        "/_matrix/client/v3/login",
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": USER},
            "password": PASSWORD,
            "device_id": DEVICE_ID,
            "initial_device_display_name": "guardian fixture device",
        },
    )
    assert status == 200, body
    http.token = json.loads(body)["access_token"]


class Identity:
    """A device identity: ed25519 signing key (key id ed25519:<DEVICE_ID>) + curve25519 identity key."""

    def __init__(self):
        self.signing = signedjson.key.generate_signing_key(DEVICE_ID)
        self.ed25519 = signedjson.key.encode_verify_key_base64(signedjson.key.get_verify_key(self.signing))
        self.curve25519 = b64(bytes(nacl.public.PrivateKey.generate().public_key))

    def device_keys(self, device_id=DEVICE_ID):
        dk = {
            "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
            "device_id": device_id,
            "keys": {f"curve25519:{DEVICE_ID}": self.curve25519, f"ed25519:{DEVICE_ID}": self.ed25519},
            "user_id": USER_ID,
        }
        return signedjson.sign.sign_json(dk, USER_ID, self.signing)

    def signed_key(self, fallback=False):
        k = {"key": b64(bytes(nacl.public.PrivateKey.generate().public_key))}
        if fallback:
            k["fallback"] = True
        return signedjson.sign.sign_json(k, USER_ID, self.signing)

    def otks(self, counters):
        return {f"signed_curve25519:{key_id(c)}": self.signed_key() for c in counters}


def verify_conflict_keys(answer_text: str, identities: dict) -> dict:
    """For a Synapse conflict answer: which of `identities` signed the old and the new key.

    Done here with signedjson, independently of the Rust code under test, so the fixtures carry
    ground truth for the diagnosis ("identity replaced" = old key not signed by the current key).
    """
    result = {"old_key_signed_by": [], "new_key_signed_by": []}
    try:
        error = json.loads(answer_text)["error"]
        old_text, new_text = error.split("Old key: ", 1)[1].split("; new key: ", 1)
        keys = {"old": json.loads(old_text), "new": ast.literal_eval(new_text)}
    except (KeyError, ValueError, IndexError, SyntaxError, TypeError):
        return result
    for which, key in keys.items():
        if not isinstance(key, dict):
            continue
        for label, ids in identities.items():
            vk = signedjson.key.decode_verify_key_base64("ed25519", DEVICE_ID, ids["ed25519"])
            try:
                signedjson.sign.verify_signed_json(key, USER_ID, vk)
                result[f"{which}_key_signed_by"].append(label)
            except signedjson.sign.SignatureVerifyException:
                pass
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "synapse"))
    ap.add_argument("--port", type=int, default=18448)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (for debugging)")
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)

    tmp = tempfile.mkdtemp(prefix="mcg-capture-")
    port = free_port(args.port)
    secret = os.urandom(16).hex()
    cfg = write_config(tmp, port, secret)
    proc = subprocess.Popen(
        [sys.executable, "-m", "synapse.app.homeserver", "-c", cfg],
        cwd=tmp,
        stdout=open(os.path.join(tmp, "stdout.log"), "w"),
        stderr=subprocess.STDOUT,
    )
    http = Http(f"http://127.0.0.1:{port}")
    written = []
    try:
        wait_ready(http, proc, tmp)
        register(http, secret)
        login(http)

        old = Identity()
        new = Identity()
        captured_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

        def save(name, description, body, expect, identities):
            status, headers, text, _ = http.call("POST", UPLOAD_PATH, body)
            verified = verify_conflict_keys(text, identities)
            for which in ("old", "new"):
                want = expect.get(f"{which}_key_signed_by")
                if want is not None:
                    assert verified[f"{which}_key_signed_by"] == [want], (name, verified)
            fixture = {
                "name": name,
                "description": description,
                "synapse_version": synapse.__version__,
                "captured_at": captured_at,
                "user_id": USER_ID,
                "device_id": DEVICE_ID,
                "device_keys_used": identities,
                "request": {"method": "POST", "path": UPLOAD_PATH, "body": body},
                "response": {
                    "status": status,
                    "content_type": headers.get("Content-Type"),
                    "body": text,
                },
                "expect": expect,
            }
            if verified["old_key_signed_by"] or verified["new_key_signed_by"]:
                fixture["signature_check"] = verified
            with open(os.path.join(out, f"{name}.json"), "w") as f:
                json.dump(fixture, f, indent=2, sort_keys=False)
                f.write("\n")
            written.append((name, status))
            return status, text

        old_ids = {"old": {"ed25519": old.ed25519, "curve25519": old.curve25519}}
        both_ids = {
            "old": {"ed25519": old.ed25519, "curve25519": old.curve25519},
            "new": {"ed25519": new.ed25519, "curve25519": new.curve25519},
        }

        # (d) the first, successful upload: counters 9..13, i.e. ...AAAAAAAAAAk .. AAAAAAAAAA0
        first = {
            "device_keys": old.device_keys(),
            "one_time_keys": old.otks(range(9, 14)),
            "fallback_keys": {f"signed_curve25519:{key_id(14)}": old.signed_key(fallback=True)},
        }
        s, _ = save(
            "success_initial_upload",
            "First upload of a fresh device: device_keys, 5 signed one-time keys and a fallback key.",
            first,
            {"classification": "accepted", "one_time_key_counts": {"signed_curve25519": 5}},
            old_ids,
        )
        assert s == 200
        s, _ = save(
            "success_identical_reupload",
            "The identical request again (e.g. the answer to the first one was lost): Synapse accepts it.",
            first,
            {"classification": "accepted", "one_time_key_counts": {"signed_curve25519": 5}},
            old_ids,
        )
        assert s == 200

        # (a) concurrent writers: same identity, key id 13 re-used with different key material
        clash = {"one_time_keys": {f"signed_curve25519:{key_id(13)}": old.signed_key()}}
        s, _ = save(
            "conflict_same_identity",
            "Two writers with one identity (two tabs): the same one-time key id with different key "
            "material, signed by the same device key. The old key's signature verifies against the "
            "current ed25519 key.",
            clash,
            {
                "classification": "conflict",
                "key_id": f"signed_curve25519:{key_id(13)}",
                "old_key_signed_by": "old",
                "diagnosis": "concurrent-writers",
            },
            old_ids,
        )
        assert s == 400

        # (b) identity replaced: the store was lost; new identity under the old device id, same OTK ids
        lost = {
            "device_keys": new.device_keys(),
            "one_time_keys": new.otks(range(9, 14)),
            "fallback_keys": {f"signed_curve25519:{key_id(14)}": new.signed_key(fallback=True)},
        }
        s, _ = save(
            "conflict_identity_replaced",
            "Store loss: a blank store under the old device id uploads new device keys, the same "
            "one-time key ids and a new fallback key. Synapse stores the new device_keys and rejects "
            "the one-time keys; the old key's signature only verifies against the OLD ed25519 key.",
            lost,
            {
                "classification": "conflict",
                "key_id": f"signed_curve25519:{key_id(9)}",
                "old_key_signed_by": "old",
                "new_key_signed_by": "new",
                "diagnosis": "identity-replaced",
            },
            both_ids,
        )
        assert s == 400
        # what the server now advertises for the device (the new identity, see DESIGN.md field facts)
        status, _, query_text, _ = http.call(
            "POST", "/_matrix/client/v3/keys/query", {"device_keys": {USER_ID: [DEVICE_ID]}}
        )
        with open(os.path.join(out, "conflict_identity_replaced.json")) as f:
            fx = json.load(f)
        fx["keys_query_after"] = {"status": status, "body": json.loads(query_text)}
        with open(os.path.join(out, "conflict_identity_replaced.json"), "w") as f:
            json.dump(fx, f, indent=2)
            f.write("\n")

        # (c) fallback key "conflict": Synapse upserts fallback keys, so this is a 200
        fb = {"fallback_keys": {f"signed_curve25519:{key_id(14)}": new.signed_key(fallback=True)}}
        s, _ = save(
            "fallback_replaced",
            "A different fallback key under an already-used fallback key id. Synapse replaces fallback "
            "keys (one per algorithm) and answers 200: there is no fallback-key conflict on Synapse.",
            fb,
            {"classification": "accepted"},
            both_ids,
        )
        assert s == 200

        # legacy unsigned one-time key re-used: old key is a JSON string, new key a Python str repr
        s, _ = http.call("POST", UPLOAD_PATH, {"one_time_keys": {f"curve25519:{key_id(100)}": b64(os.urandom(32))}})[:2]
        assert s == 200
        s, _ = save(
            "conflict_unsigned_key",
            "Legacy unsigned curve25519 one-time key id re-used with a different value: Synapse prints "
            "the old key as a JSON string and the new key as a Python str repr.",
            {"one_time_keys": {f"curve25519:{key_id(100)}": b64(os.urandom(32))}},
            {"classification": "conflict", "key_id": f"curve25519:{key_id(100)}"},
            both_ids,
        )
        assert s == 400

        # a non-conflict 400 on the same endpoint
        wrong = Identity()
        s, _ = save(
            "error_device_id_mismatch",
            "device_keys for another device id than the access token's: 400 M_BAD_JSON, not a conflict.",
            {"device_keys": wrong.device_keys(device_id="OTHERDEVICE")},
            {"classification": "other-error", "errcode": "M_BAD_JSON"},
            {"other": {"ed25519": wrong.ed25519, "curve25519": wrong.curve25519}},
        )
        assert s == 400

        # too many keys: 501 new one-time keys at once -> M_TOO_LARGE (the request body is summarised)
        many = {"one_time_keys": new.otks(range(1000, 1501))}
        status, headers, text, _ = http.call("POST", UPLOAD_PATH, many)
        assert status == 400, text
        fx = {
            "name": "error_too_many_keys",
            "description": "501 new one-time keys in one request: over Synapse's per-device limit of "
            "500, 400 M_TOO_LARGE. The request body (~120 KB) is not stored; its key ids are "
            f"signed_curve25519:{key_id(1000)} .. signed_curve25519:{key_id(1500)}.",
            "synapse_version": synapse.__version__,
            "captured_at": captured_at,
            "user_id": USER_ID,
            "device_id": DEVICE_ID,
            "device_keys_used": both_ids,
            "request": {"method": "POST", "path": UPLOAD_PATH, "body": None, "one_time_key_count": 501},
            "response": {"status": status, "content_type": headers.get("Content-Type"), "body": text},
            "expect": {"classification": "otk-limit", "errcode": "M_TOO_LARGE", "uploading": 501, "would_hold": 506, "limit": 500},
        }
        with open(os.path.join(out, "error_too_many_keys.json"), "w") as f:
            json.dump(fx, f, indent=2)
            f.write("\n")
        written.append(("error_too_many_keys", status))

        # the cap reached the way OTK inflation reaches it (matrix-js-sdk issue 5501): 50 new keys per
        # upload, each accepted, until the server refuses the batch that would pass 500
        counts_seen = []
        for batch in range(20):
            first = 2000 + 50 * batch
            body = {"one_time_keys": new.otks(range(first, first + 50))}
            status, headers, text, _ = http.call("POST", UPLOAD_PATH, body)
            if status != 200:
                break
            counts_seen.append(json.loads(text)["one_time_key_counts"].get("signed_curve25519"))
        assert status == 400, text
        refused = json.loads(text)
        fx = {
            "name": "error_otk_limit_pile_up",
            "description": "OTK inflation reaching the server's cap: batches of 50 new one-time keys, each "
            "accepted (the counts the server answered are in accepted_counts), until the batch that "
            "would leave the device over 500: 400 M_TOO_LARGE. The refused request's 50 keys are "
            f"signed_curve25519:{key_id(first)} .. signed_curve25519:{key_id(first + 49)} (not stored).",
            "synapse_version": synapse.__version__,
            "captured_at": captured_at,
            "user_id": USER_ID,
            "device_id": DEVICE_ID,
            "device_keys_used": both_ids,
            "accepted_counts": counts_seen,
            "request": {"method": "POST", "path": UPLOAD_PATH, "body": None, "one_time_key_count": 50},
            "response": {"status": status, "content_type": headers.get("Content-Type"), "body": text},
            "expect": {"classification": "otk-limit", "errcode": refused.get("errcode"), "uploading": 50,
                       "would_hold": counts_seen[-1] + 50, "limit": 500},
        }
        with open(os.path.join(out, "error_otk_limit_pile_up.json"), "w") as f:
            json.dump(fx, f, indent=2)
            f.write("\n")
        written.append(("error_otk_limit_pile_up", status))
    finally:
        # stop Synapse by its PID (never by name)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        if args.keep:
            print(f"temp dir kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    for name, status in written:
        print(f"{status}  {os.path.join(out, name + '.json')}")


if __name__ == "__main__":
    main()
