#!/usr/bin/python3
"""A webhook receiver for the end-to-end demo: accepts POSTs, verifies driftd's signatures
(GitHub style and Standard Webhooks) when given the secret, and appends one JSON line per
request to --log: path, headers, body, whether the signatures verify.

usage: receiver.py --port-file FILE --log FILE [--secret-file FILE]
"""
import argparse
import base64
import hashlib
import hmac
import http.server
import json
import threading


def verify(secret, headers, body):
    """(github_ok, standard_ok) for driftd's two signature headers (exporters/WEBHOOKS.md)."""
    github = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    github_ok = hmac.compare_digest(headers.get("x-hub-signature-256", ""), github)
    key = base64.b64decode(secret[6:]) if secret.startswith(b"whsec_") else secret
    signed = (headers.get("webhook-id", "") + "." + headers.get("webhook-timestamp", "") +
              ".").encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    standard_ok = any(hmac.compare_digest(s, expected)
                      for s in headers.get("webhook-signature", "").split(" "))
    return github_ok, standard_ok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--secret-file")
    args = parser.parse_args()
    secret = None
    if args.secret_file:
        with open(args.secret_file, "rb") as f:
            secret = f.read()
        if secret.endswith(b"\r\n"):
            secret = secret[:-2]
        elif secret.endswith(b"\n"):
            secret = secret[:-1]
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            entry = {"path": self.path, "headers": headers, "body": body.decode("utf-8", "replace")}
            if secret is not None:
                entry["github_signature_ok"], entry["standard_signature_ok"] = verify(
                    secret, headers, body)
            with lock, open(args.log, "a") as log:
                log.write(json.dumps(entry) + "\n")
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok":true}')

        def log_message(self, *unused):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
